"""Engines (primary, optional read replica), session factories and migrations.

The boundary owns the transaction: a request, task or CLI command commits once at the end, or
rolls back. Services and repositories only flush.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, func, inspect, select, table
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from listingflow.config import Settings, to_async_url, to_sync_url
from listingflow.kit.cache import Cache
from listingflow.kit.uow import wrote_recently

log = structlog.get_logger()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers work during an import; busy_timeout waits for the writer instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _engine_options(url: str, settings: Settings) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"echo": settings.db_echo}
    return {
        "echo": settings.db_echo,
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout,
        "pool_recycle": settings.db_pool_recycle,
        "pool_pre_ping": True,
        # No server-side prepared statements: safe behind PgBouncer in transaction mode.
        "connect_args": {"prepare_threshold": None},
    }


def make_async_engine(url: str, settings: Settings) -> AsyncEngine:
    async_url = to_async_url(url)
    if async_url.startswith("sqlite"):
        _ensure_sqlite_dir(async_url)
    engine = create_async_engine(async_url, **_engine_options(async_url, settings))
    if async_url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def make_sync_engine(url: str) -> Engine:
    sync_url = to_sync_url(url)
    if sync_url.startswith("sqlite"):
        _ensure_sqlite_dir(sync_url)
        engine = create_engine(sync_url, poolclass=NullPool)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(sync_url, poolclass=NullPool, connect_args={"prepare_threshold": None})


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


class Database:
    """The primary engine, an optional read-replica engine, and their session factories."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.effective_database_url
        self.engine = make_async_engine(self.url, settings)
        self.read_engine = (
            make_async_engine(settings.database_read_url, settings)
            if settings.database_read_url
            else self.engine
        )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessionmaker = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def has_replica(self) -> bool:
        return self.read_engine is not self.engine

    async def reader(
        self, cache: Cache, workspace_id: int | None
    ) -> async_sessionmaker[AsyncSession]:
        """Where a read-only request's session comes from: the read replica, except that a
        workspace that wrote within LISTINGFLOW_DB_READ_YOUR_WRITES_SECONDS (tracked in the
        shared cache, so every API replica agrees) reads the primary, and so does a caller
        whose workspace is unknown. Writes always use `sessionmaker` (the primary)."""
        if (
            not self.has_replica
            or workspace_id is None
            or await wrote_recently(cache, workspace_id)
        ):
            return self.sessionmaker
        return self.read_sessionmaker

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commit is the caller's; anything uncommitted rolls back on exit."""
        async with self.sessionmaker() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.has_replica:
            await self.read_engine.dispose()


# --- migrations -------------------------------------------------------------------------------


def migrations_dir() -> Path:
    packaged = Path(__file__).parent / "_migrations"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["database_url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations (synchronous; call through asyncio.to_thread from async code)."""
    command.upgrade(alembic_config(url), revision)
    log.info("db.upgraded", revision=revision)


def current_revision(url: str) -> str | None:
    engine = make_sync_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def check(url: str) -> list[str]:
    """Differences between the models and the migrated schema; empty when they agree."""
    from alembic.autogenerate import compare_metadata

    from listingflow.models import Base

    engine = make_sync_engine(url)
    try:
        with engine.connect() as conn:
            dialect = conn.dialect.name

            def for_this_database(
                obj: Any, _name: Any, type_: str, reflected: bool, _to: Any
            ) -> bool:
                # An index a model declares for other databases only (info["dialects"]).
                dialects = obj.info.get("dialects") if type_ == "index" and not reflected else None
                return dialects is None or dialect in dialects

            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": for_this_database}
            )
            with warnings.catch_warnings():
                # SQLite cannot reflect expression indexes; ours there are PostgreSQL-only.
                warnings.filterwarnings(
                    "ignore", "autogenerate skipping metadata-specified expression", UserWarning
                )
                diffs = compare_metadata(context, Base.metadata)
            if conn.dialect.name == "sqlite":
                diffs = _without_sqlite_index_order(diffs)
            return [repr(diff) for diff in diffs]
    finally:
        engine.dispose()


def row_counts(url: str) -> dict[str, int]:
    """Rows in every table of the database (backup's "is there data to lose?")."""
    engine = make_sync_engine(url)
    try:
        with engine.connect() as conn:
            return {
                name: int(conn.execute(select(func.count()).select_from(table(name))).scalar_one())
                for name in inspect(conn).get_table_names()
            }
    finally:
        engine.dispose()


def _without_sqlite_index_order(diffs: list[Any]) -> list[Any]:
    """SQLite does not reflect DESC in index columns; an index dropped and re-added under the
    same name is that blind spot, not drift (PostgreSQL compares it for real)."""

    def name(diff: Any) -> str | None:
        if isinstance(diff, tuple) and diff[0] in ("add_index", "remove_index"):
            return str(diff[1].name)
        return None

    added = {name(d) for d in diffs if isinstance(d, tuple) and d[0] == "add_index"}
    removed = {name(d) for d in diffs if isinstance(d, tuple) and d[0] == "remove_index"}
    both = added & removed
    return [d for d in diffs if name(d) not in both]
