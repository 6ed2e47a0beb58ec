"""What every command shares: the database for one command (one commit), consoles, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import NoReturn, TypeVar

import typer
from rich.console import Console

from listingflow import config
from listingflow import db as dbmod
from listingflow.exceptions import ListingflowError
from listingflow.kit.cache import RedisCache, make_cache
from listingflow.kit.runtime import tune_gc
from listingflow.kit.uow import UnitOfWork
from listingflow.logging import configure_logging

T = TypeVar("T")
out = Console()  # results, for pipes
err = Console(stderr=True, soft_wrap=True)  # progress, messages (never wrapped mid-word)


def run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    """Run one command's coroutine; seller-facing errors become a message and exit code 1."""
    configure_logging("WARNING", json_logs=False)
    tune_gc()
    try:
        return asyncio.run(coro_fn())  # type: ignore[arg-type]
    except ListingflowError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc


@asynccontextmanager
async def database(*, migrate: bool = True) -> AsyncIterator[dbmod.Database]:
    settings = config.settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if migrate:
        await asyncio.to_thread(dbmod.upgrade, settings.effective_database_url)
    database = dbmod.Database(settings)
    try:
        yield database
    finally:
        await database.dispose()


@asynccontextmanager
async def unit_of_work(database: dbmod.Database, workspace_id: int) -> AsyncIterator[UnitOfWork]:
    cache = make_cache(config.settings.redis_url)
    try:
        async with database.session() as session:
            yield UnitOfWork(session=session, cache=cache, workspace_id=workspace_id)
    finally:
        if isinstance(cache, RedisCache):
            await cache.close()


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)
