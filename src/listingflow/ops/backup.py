"""Backup and restore of the configured database, whole: SQLite through sqlite3's online backup
API (a consistent copy while the app keeps running), PostgreSQL through pg_dump's custom format
and pg_restore --clean --if-exists. A restore refuses to replace data unless forced.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

import structlog
from sqlalchemy.engine import URL, make_url

from listingflow.config import to_sync_url
from listingflow.db import row_counts
from listingflow.exceptions import BadRequest, Conflict, ListingflowError
from listingflow.kit.cache import cache_key

log = structlog.get_logger()

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
# Rows a freshly migrated database already holds: they are not the seller's data.
_SEEDED = {"alembic_version": 1, "workspaces": 1}


class ToolMissing(ListingflowError):
    status_code = 500
    code = "tool_missing"


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    backend: str
    size: int


def _sqlite_path(url: str) -> Path:
    sync = to_sync_url(url)
    path = sync.split(":///", 1)[1] if ":///" in sync else ""
    if not path or path == ":memory:":
        raise BadRequest("an in-memory SQLite database cannot be backed up or restored")
    return Path(path)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The URL for pg_dump / pg_restore (no driver, no password) and the environment carrying
    the password, so that it never shows in the process list."""
    parsed: URL = make_url(to_sync_url(url))
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ToolMissing(
            f"{name} is not installed; it is needed to back up and restore PostgreSQL "
            f"(Debian/Ubuntu: apt-get install postgresql-client, of the server's major version "
            f"or newer)"
        )
    return found


def _run(args: list[str], env: dict[str, str]) -> None:
    # The program comes from PATH by name, the arguments from settings: no shell involved.
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise ListingflowError(
            f"{Path(args[0]).name} failed (exit {result.returncode}): "
            f"{result.stderr.strip()[-2000:]}"
        )


class BackupService:
    def backup(self, url: str, out: Path) -> BackupInfo:
        """Write the whole database to `out` (replaced only once the copy is complete)."""
        out = out.expanduser()
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".partial")
        partial.unlink(missing_ok=True)
        try:
            if to_sync_url(url).startswith("sqlite"):
                backend = "sqlite"
                self._backup_sqlite(_sqlite_path(url), partial)
            else:
                backend = "postgresql"
                target, env = _libpq(url)
                _run([_tool("pg_dump"), "--format=custom", f"--file={partial}", target], env)
            partial.replace(out)
        finally:
            partial.unlink(missing_ok=True)
        info = BackupInfo(path=out, backend=backend, size=out.stat().st_size)
        log.info("backup.written", path=str(out), backend=backend, bytes=info.size)
        return info

    def restore(
        self, url: str, backup: Path, *, force: bool = False, redis_url: str | None = None
    ) -> str:
        """Replace the database's content with the backup's; returns the backend restored.
        Refuses a database that holds data unless `force`. With `redis_url`, the shared cache
        forgets what it held."""
        backup = backup.expanduser()
        if not backup.is_file():
            raise BadRequest(f"no backup file at {backup}", field="file")
        with backup.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
        is_sqlite = to_sync_url(url).startswith("sqlite")
        expected, kind = (SQLITE_MAGIC, "SQLite") if is_sqlite else (PG_DUMP_MAGIC, "pg_dump")
        if not head.startswith(expected):
            raise BadRequest(
                f"{backup} is not a {kind} backup, which the configured "
                f"{'SQLite' if is_sqlite else 'PostgreSQL'} database needs",
                field="file",
            )
        if not force:
            held = self.data_held(url)
            if held:
                listing = ", ".join(f"{name}: {count}" for name, count in sorted(held.items()))
                raise Conflict(
                    f"the database already holds data ({listing}); restoring replaces all of "
                    "it: pass --force to do so"
                )
        if is_sqlite:
            self._restore_sqlite(backup, _sqlite_path(url))
        else:
            target, env = _libpq(url)
            _run(
                [
                    _tool("pg_restore"),
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--single-transaction",
                    f"--dbname={target}",
                    str(backup),
                ],
                env,
            )
        log.info("backup.restored", path=str(backup), backend="sqlite" if is_sqlite else "pg")
        if redis_url:
            self._forget_cached(redis_url)
        return "sqlite" if is_sqlite else "postgresql"

    @staticmethod
    def _forget_cached(redis_url: str) -> None:
        """Move every workspace's cache generation on: entries cached from the data before the
        restore are never served again (Redis outlives the API processes)."""
        import redis

        client = redis.Redis.from_url(redis_url, socket_timeout=5)
        try:
            for key in client.scan_iter(match=cache_key("gen", "*"), count=500):
                client.incr(key)
        finally:
            client.close()

    def data_held(self, url: str) -> dict[str, int]:
        """Tables holding more rows than a fresh migration leaves there, with their counts."""
        if to_sync_url(url).startswith("sqlite") and not _sqlite_path(url).exists():
            return {}
        counts = row_counts(url)
        return {name: n for name, n in counts.items() if n > _SEEDED.get(name, 0)}

    @staticmethod
    def _backup_sqlite(source: Path, out: Path) -> None:
        if not source.is_file():
            raise BadRequest(f"no SQLite database at {source}")
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(out)
        try:
            with dst:
                src.backup(dst)  # page by page under SQLite's locks: consistent while in use
        finally:
            dst.close()
            src.close()

    @staticmethod
    def _restore_sqlite(backup: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        src = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
        dst = sqlite3.connect(target, timeout=30)
        try:
            with dst:
                src.backup(dst)  # into the live file (WAL and all), not a file copy under it
        finally:
            dst.close()
            src.close()
        with contextlib.suppress(sqlite3.Error):
            check = sqlite3.connect(target)
            check.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            check.close()


backup_service = BackupService()
