"""Cache behind one small interface: in-process now, Redis when configured (scale-out issue).

Keys come from one builder; every entry has a TTL; values are JSON. Invalidation is by a
per-workspace generation counter bumped after each committed write, so a reader never sees
data older than its own last write. TTLs are settings (the scaling guide's: dashboard stats
600 s, product list pages 300 s, sessions 3600 s). Both backends count hits and misses, on the
instance (`hits`, `misses`) and as the Prometheus counter `listingflow_cache_requests_total`.

Two savings on the read path: within one request a workspace's generation is read once
(`generation_memo`, a per-request memo the front door opens), and RedisCache keeps entries of
generation-versioned kinds (stats, list pages, counts, dashboard) in-process too: such an entry
never changes under its key (a write moves the generation, so readers ask for a new key), so
only the generation itself must come from Redis; it is kept for 5 s at most, which bounds what a
Redis that lost its generations (restarted empty, so numbers are reused) could serve stale.
And RedisCache coalesces reads: callers asking for the same key share one GET, but only a GET
not yet sent when they asked (`_coalesced_get`), so no answer is older than its question.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, Protocol

import structlog
from redis.exceptions import RedisError

from listingflow.kit import jsonutil
from listingflow.kit.metrics import cache_lookup

log = structlog.get_logger()


class Cache(Protocol):
    @property
    def available(self) -> bool:
        """False while the backend is unreachable (its reads are misses, its counters 0)."""
        ...

    async def get(self, key: str) -> Any | None: ...
    async def set(self, key: str, value: Any, ttl: int) -> None: ...
    async def incr(self, key: str) -> int: ...
    async def delete(self, key: str) -> None: ...


class MemoryCache:
    """A dict with expiry times; bounded so a busy process cannot grow it without limit."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._data: dict[str, tuple[float, bytes]] = {}
        self._lock = threading.Lock()
        self._max = max_entries
        self.hits = 0
        self.misses = 0

    @property
    def available(self) -> bool:
        return True

    async def get(self, key: str) -> Any | None:
        now = time.monotonic()
        with self._lock:
            item = self._data.get(key)
            if item is None or item[0] < now:
                if item is not None:
                    del self._data[key]
                self.misses += 1
                cache_lookup("memory", key, hit=False)
                return None
            self.hits += 1
            raw = item[1]
        cache_lookup("memory", key, hit=True)
        return jsonutil.loads(raw)

    async def set(self, key: str, value: Any, ttl: int) -> None:
        with self._lock:
            if len(self._data) >= self._max:
                self._evict()
            self._data[key] = (time.monotonic() + ttl, jsonutil.dumps(value))

    async def incr(self, key: str) -> int:
        with self._lock:
            _, raw = self._data.get(key, (0.0, b"0"))
            value = int(jsonutil.loads(raw)) + 1
            self._data[key] = (float("inf"), jsonutil.dumps(value))
            return value

    async def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def _evict(self) -> None:
        now = time.monotonic()
        for key in [k for k, (exp, _) in self._data.items() if exp < now]:
            del self._data[key]
        while len(self._data) >= self._max:
            self._data.pop(next(iter(self._data)))


class RedisCache:
    """The same interface on Redis: shared by every API replica and worker.

    Redis being down is not an outage: a failed call is logged (once per outage), counted in
    `errors`, and behaves as a miss (get) or does nothing (set, delete, incr), so reads go to
    the database. Limit: a write while Redis is down cannot bump its workspace's generation, so
    if Redis comes back with its old entries, pages cached before the outage may be served until
    their TTL ends (a Redis restarted empty has no such entries)."""

    # Kinds whose keys include the workspace generation: immutable under their key.
    VERSIONED_KINDS = frozenset({"stats", "page", "count", "dashboard"})
    LOCAL_SECONDS = 5.0

    def __init__(self, url: str, *, local_entries: int = 2048) -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._local: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._local_max = local_entries
        self.hits = 0
        self.misses = 0
        self.errors = 0
        self._down = False
        self._waiting: dict[str, list[asyncio.Future[Any]]] = {}
        self._fetching: dict[str, asyncio.Task[None]] = {}

    @property
    def available(self) -> bool:
        return not self._down

    def _failed(self, operation: str, exc: Exception) -> None:
        self.errors += 1
        if not self._down:
            self._down = True
            log.warning("cache.unavailable", operation=operation, error=str(exc))

    def _ok(self) -> None:
        if self._down:
            self._down = False
            log.info("cache.available")

    def _versioned(self, key: str) -> bool:
        parts = key.split(":", 2)
        return len(parts) > 2 and parts[1] in self.VERSIONED_KINDS and not self._down

    async def get(self, key: str) -> Any | None:
        local = self._local.get(key) if self._local_max else None
        if local is not None:
            if local[0] >= time.monotonic() and not self._down:
                self.hits += 1
                cache_lookup("redis", key, hit=True)
                return local[1]
            self._local.pop(key, None)
        try:
            raw = await self._coalesced_get(key)
        except (RedisError, OSError) as exc:
            self._failed("get", exc)
            raw = None
        else:
            self._ok()
        if raw is None:
            self.misses += 1
            cache_lookup("redis", key, hit=False)
            return None
        self.hits += 1
        cache_lookup("redis", key, hit=True)
        value = jsonutil.loads(raw)
        if self._versioned(key):
            self._remember(key, value, ttl=None)
        return value

    async def _coalesced_get(self, key: str) -> Any:
        """GET, shared by every caller that asked before it was sent.

        A caller joins the batch waiting for the key's next GET; one task per key sends a GET
        for the whole batch, and again for whoever asked meanwhile. A GET already on its way is
        never shared with a later caller (it may predate that caller's own last write, say a
        generation bump on another replica), so every answer is at least as new as its question,
        as with a GET of one's own. Under load a few GETs serve many requests."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        waiting = self._waiting.get(key)
        if waiting is not None:
            waiting.append(future)
        else:
            self._waiting[key] = [future]
            if key not in self._fetching:
                self._fetching[key] = asyncio.create_task(self._fetch_for_waiters(key))
        return await future

    async def _fetch_for_waiters(self, key: str) -> None:
        batch: list[asyncio.Future[Any]] = []
        try:
            while batch := self._waiting.pop(key, []):
                try:
                    raw = await self._redis.get(key)
                except Exception as exc:
                    for future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for future in batch:
                    if not future.done():
                        future.set_result(raw)
        finally:
            del self._fetching[key]
            # Cancelled mid-GET (shutdown): nobody may wait forever for a task that is gone.
            for future in (*batch, *self._waiting.pop(key, [])):
                if not future.done():
                    future.cancel()

    async def set(self, key: str, value: Any, ttl: int) -> None:
        try:
            await self._redis.set(key, jsonutil.dumps(value), ex=ttl)
        except (RedisError, OSError) as exc:
            self._failed("set", exc)
            return
        if self._versioned(key):
            self._remember(key, value, ttl)

    def _remember(self, key: str, value: Any, ttl: int | None) -> None:
        if not self._local_max:
            return
        # A few seconds at most: should Redis lose its generations (a restart without its
        # data), numbers are reused, and an old entry under a reused key must not live long.
        seconds = min(ttl, self.LOCAL_SECONDS) if ttl is not None else self.LOCAL_SECONDS
        self._local[key] = (time.monotonic() + seconds, value)
        self._local.move_to_end(key)
        while len(self._local) > self._local_max:
            self._local.popitem(last=False)

    async def incr(self, key: str) -> int:
        try:
            return int(await self._redis.incr(key))
        except (RedisError, OSError) as exc:
            self._failed("incr", exc)
            return 0

    async def delete(self, key: str) -> None:
        self._local.pop(key, None)
        try:
            await self._redis.delete(key)
        except (RedisError, OSError) as exc:
            self._failed("delete", exc)

    async def close(self) -> None:
        await self._redis.aclose()


def make_cache(redis_url: str | None) -> MemoryCache | RedisCache:
    """Redis when configured, a per-process dict otherwise."""
    return RedisCache(redis_url) if redis_url else MemoryCache()


def cache_key(*parts: object) -> str:
    """The one key builder: 'lf:' + parts joined by ':'."""
    return "lf:" + ":".join(str(p) for p in parts)


# Generations read in this request, by (cache, workspace): None outside a request.
_generations: ContextVar[dict[tuple[int, int], int] | None] = ContextVar(
    "listingflow_generations", default=None
)


@contextlib.contextmanager
def generation_memo() -> Iterator[None]:
    """Within the block (one request) each workspace's generation is read from the cache once;
    a bump in the block updates it. Another process's write during the request is seen by the
    next request, as it would be had the request read the generation a moment earlier."""
    token = _generations.set({})
    try:
        yield
    finally:
        _generations.reset(token)


async def workspace_generation(cache: Cache, workspace_id: int) -> int:
    memo = _generations.get()
    if memo is not None and (id(cache), workspace_id) in memo:
        return memo[(id(cache), workspace_id)]
    value = await cache.get(cache_key("gen", workspace_id))
    generation = int(value) if value is not None else 0
    if memo is not None:
        memo[(id(cache), workspace_id)] = generation
    return generation


async def bump_workspace_generation(cache: Cache, workspace_id: int) -> None:
    generation = await cache.incr(cache_key("gen", workspace_id))
    memo = _generations.get()
    if memo is not None:
        memo.pop((id(cache), workspace_id), None)
        if generation:
            memo[(id(cache), workspace_id)] = generation
