"""`listingflow backup` and `listingflow restore`: the configured database, whole, to and from
one file (SQLite: a database file; PostgreSQL: pg_dump's custom format)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from listingflow import config
from listingflow.cli.common import err, fail
from listingflow.exceptions import ListingflowError
from listingflow.ops.backup import backup_service


def backup_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="file to write (replaced when done)")],
) -> None:
    """Back up the configured database to one file; safe while the API and workers run."""
    try:
        info = backup_service.backup(config.settings.effective_database_url, out)
    except ListingflowError as exc:
        fail(exc.message)
    err.print(f"{info.backend} backup written to {info.path} ({info.size:,} bytes)")


def restore_command(
    file: Annotated[Path, typer.Argument(help="a file written by `listingflow backup`")],
    force: Annotated[
        bool, typer.Option("--force", help="replace a database that already holds data")
    ] = False,
) -> None:
    """Restore the configured database from a backup. Stop the API and workers first."""
    try:
        backend = backup_service.restore(
            config.settings.effective_database_url,
            file,
            force=force,
            redis_url=config.settings.redis_url,
        )
    except ListingflowError as exc:
        fail(exc.message)
    err.print(f"{backend} database restored from {file}; check it with `listingflow db check`")
