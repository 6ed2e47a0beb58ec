"""`listingflow backup` / `listingflow restore` on SQLite and PostgreSQL: products imported,
backed up, changed and deleted, restored: the original data is back and the schema agrees with
the models; a restore over data needs --force; a missing pg_dump is a clear error; a SQLite
backup taken during a stream of writes is consistent."""

from __future__ import annotations

import secrets
import sqlite3
import threading
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import create_engine, text
from tests.conftest import PG_ADMIN_URL
from tests.factories import product_payload
from typer.testing import CliRunner

from listingflow import config
from listingflow import db as dbmod
from listingflow.cli.main import app as cli
from listingflow.config import Settings, to_sync_url
from listingflow.ops.backup import backup_service

runner = CliRunner()


def _catalog(url: str) -> list[tuple[str, str]]:
    engine = create_engine(to_sync_url(url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT source_id, title FROM products ORDER BY source_id"))
            return [(r[0], r[1]) for r in rows]
    finally:
        engine.dispose()


async def test_backup_then_restore_brings_the_data_back(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    url = settings.effective_database_url
    batch = [product_payload(source_id=f"BK-{i}") for i in range(12)]
    imported = (await client.post("/api/import/batch", json=batch)).json()
    assert imported["failed_count"] == 0, imported
    original = _catalog(url)
    assert len(original) == 12

    out = tmp_path / "backups" / "catalog.backup"
    made = runner.invoke(cli, ["backup", "--out", str(out)])
    assert made.exit_code == 0, made.output
    assert out.stat().st_size > 0

    first_id = imported["results"][0]["product_id"]
    assert (await client.delete(f"/api/products/{first_id}")).status_code == 200
    changed = (
        await client.post(
            "/api/import/product", json=product_payload(source_id="BK-1", title="Changed later")
        )
    ).json()
    assert changed["result"] == "updated"
    await client.post("/api/import/product", json=product_payload(source_id="BK-new"))
    assert _catalog(url) != original

    refused = runner.invoke(cli, ["restore", str(out)])
    assert refused.exit_code == 1
    assert "already holds data" in refused.output
    assert "--force" in refused.output
    assert _catalog(url) != original  # nothing touched

    restored = runner.invoke(cli, ["restore", str(out), "--force"])
    assert restored.exit_code == 0, restored.output
    assert _catalog(url) == original
    assert dbmod.current_revision(url) == dbmod.head_revision(url)
    assert dbmod.check(url) == []
    checked = runner.invoke(cli, ["db", "check"])
    assert checked.exit_code == 0, checked.output


async def test_restore_into_an_empty_database_needs_no_force(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    await client.post("/api/import/batch", json=[product_payload() for _ in range(3)])
    out = tmp_path / "catalog.backup"
    backup_service.backup(settings.effective_database_url, out)
    original = _catalog(settings.effective_database_url)

    if settings.is_sqlite:
        empty = f"sqlite:///{tmp_path / 'new' / 'listingflow.db'}"
        dropper = None
    else:  # a new, empty PostgreSQL database (not even migrated)
        name = f"listingflow_restore_{secrets.token_hex(4)}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        empty = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        dropper = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    previous = config.settings
    config.settings = Settings(_env_file=None, database_url=empty, data_dir=tmp_path / "v")  # type: ignore[call-arg]
    try:
        result = runner.invoke(cli, ["restore", str(out)])
        assert result.exit_code == 0, result.output
        assert _catalog(empty) == original
        assert dbmod.check(empty) == []
    finally:
        config.settings = previous
        if dropper:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(dropper.encode())


def test_a_backup_of_the_other_kind_is_refused(settings: Settings, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.backup"
    wrong.write_bytes(b"PGDMP" if settings.is_sqlite else b"SQLite format 3\x00")
    result = runner.invoke(cli, ["restore", str(wrong), "--force"])
    assert result.exit_code == 1
    assert "is not a" in result.output


def test_missing_pg_dump_is_a_clear_error(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if settings.is_sqlite:
        pytest.skip("SQLite backups need no outside tool")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    result = runner.invoke(cli, ["backup", "--out", str(tmp_path / "x.backup")])
    assert result.exit_code == 1
    assert "pg_dump is not installed" in result.output
    assert not (tmp_path / "x.backup").exists()


def test_a_sqlite_backup_taken_during_writes_is_consistent(tmp_path: Path) -> None:
    """Writers commit 100 rows at a time; the backup holds whole commits only, intact."""
    path = tmp_path / "busy.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT)")
    conn.commit()
    stop = threading.Event()
    committed = threading.Event()

    def write() -> None:
        writer = sqlite3.connect(path, timeout=30)
        while not stop.is_set():
            with writer:
                writer.executemany("INSERT INTO events (body) VALUES (?)", [("x" * 200,)] * 100)
            committed.set()
        writer.close()

    thread = threading.Thread(target=write)
    thread.start()
    try:
        assert committed.wait(10)
        out = tmp_path / "busy.backup"
        backup_service.backup(f"sqlite:///{path}", out)
    finally:
        stop.set()
        thread.join(10)
        conn.close()
    copy = sqlite3.connect(out)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        (count,) = copy.execute("SELECT count(*) FROM events").fetchone()
    finally:
        copy.close()
    assert count > 0
    assert count % 100 == 0


async def test_a_restore_moves_the_shared_cache_past_its_entries(
    client: httpx.AsyncClient, settings: Settings, redis_url: str, tmp_path: Path
) -> None:
    import redis

    from listingflow.kit.cache import cache_key

    await client.post("/api/import/product", json=product_payload())
    out = tmp_path / "catalog.backup"
    backup_service.backup(settings.effective_database_url, out)
    shared = redis.Redis.from_url(redis_url)
    try:
        shared.set(cache_key("gen", 1), 7)
        backup_service.restore(
            settings.effective_database_url, out, force=True, redis_url=redis_url
        )
        assert int(shared.get(cache_key("gen", 1)) or 0) == 8
    finally:
        shared.close()
