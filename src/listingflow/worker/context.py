"""What a task needs to reach the database: one Database per event loop, made on first use.

Dramatiq's AsyncIO middleware runs every async actor on one event loop thread per worker
process; async engines are bound to the loop that created them, so the actors get their own,
and `TaskDatabases` disposes of it on that same loop when the worker shuts down.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import Any

import dramatiq
from dramatiq.asyncio import get_event_loop_thread

from listingflow import config
from listingflow.db import Database
from listingflow.kit.cache import Cache, make_cache

_databases: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Database] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


_caches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Cache] = weakref.WeakKeyDictionary()


_shared_cache: Cache | None = None


def share_cache(cache: Cache | None) -> None:
    """Embedded mode: the worker threads use the API's own in-process cache, so a finished job
    invalidates what the API serves."""
    global _shared_cache
    _shared_cache = cache


def task_cache() -> Cache:
    """The cache the actors share (Redis when configured, so the API sees their writes)."""
    if _shared_cache is not None:
        return _shared_cache
    loop = asyncio.get_running_loop()
    with _lock:
        cache = _caches.get(loop)
        if cache is None:
            cache = make_cache(config.settings.redis_url)
            _caches[loop] = cache
        return cache


def task_database() -> Database:
    loop = asyncio.get_running_loop()
    with _lock:
        database = _databases.get(loop)
        if database is None:
            database = Database(config.settings)
            _databases[loop] = database
        return database


async def _dispose_current() -> None:
    with _lock:
        database = _databases.pop(asyncio.get_running_loop(), None)
    if database is not None:
        await database.dispose()


class TaskDatabases(dramatiq.Middleware):
    """Closes the actors' database connections before the event loop thread stops."""

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        thread = get_event_loop_thread()
        if thread is not None and thread.loop.is_running():
            thread.run_coroutine(_dispose_current())
