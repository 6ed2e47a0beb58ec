"""Migrations: applied from nothing on both databases, and agreeing with the models (no drift)."""

from __future__ import annotations

from listingflow import db as dbmod


def test_migrations_match_the_models(database_url: str) -> None:
    assert dbmod.current_revision(database_url) == dbmod.head_revision(database_url)
    assert dbmod.check(database_url) == []


def test_upgrade_is_idempotent(database_url: str) -> None:
    dbmod.upgrade(database_url)
    dbmod.upgrade(database_url)
    assert dbmod.check(database_url) == []
