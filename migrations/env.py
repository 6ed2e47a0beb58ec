"""Alembic environment: one schema for SQLite and PostgreSQL, run through a synchronous engine."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from listingflow.db import make_sync_engine
from listingflow.models import Base

config = context.config
target_metadata = Base.metadata
MIGRATION_LOCK_ID = 7_412_010  # any constant: serialises migrations from several replicas


def run_migrations_online() -> None:
    url = config.attributes.get("database_url")
    if not url:
        from listingflow.config import settings

        url = settings.effective_database_url
    engine = make_sync_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            compare_type=True,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # A transaction-level lock, released by the migrations' own commit: behind
                # PgBouncer in transaction mode a session lock would be taken and released on
                # different server connections and stay held forever.
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID}
                )
            context.run_migrations()
    engine.dispose()


run_migrations_online()
