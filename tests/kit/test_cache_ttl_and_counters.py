"""The cache: TTLs from settings where stats and list pages are cached, hit and miss counters
on both backends, and a write seen at once through the workspace generation (in-process and on
Redis shared by two app instances)."""

from __future__ import annotations

import httpx
import pytest
import redis
from prometheus_client import REGISTRY
from tests.conftest import running_app
from tests.factories import product_payload

from listingflow.config import Settings
from listingflow.kit.cache import MemoryCache, RedisCache, cache_key


def _counter(backend: str, kind: str, result: str) -> float:
    value = REGISTRY.get_sample_value(
        "listingflow_cache_requests_total", {"backend": backend, "kind": kind, "result": result}
    )
    return value or 0.0


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_hits_and_misses_are_counted_on_the_instance_and_as_metrics(
    backend: str, request: pytest.FixtureRequest
) -> None:
    cache: MemoryCache | RedisCache = (
        MemoryCache() if backend == "memory" else RedisCache(request.getfixturevalue("redis_url"))
    )
    key = cache_key("stats", 1, 0)
    before = (_counter(backend, "stats", "hit"), _counter(backend, "stats", "miss"))
    try:
        assert await cache.get(key) is None
        await cache.set(key, {"total": 3}, 60)
        assert await cache.get(key) == {"total": 3}
        assert await cache.get(key) == {"total": 3}
    finally:
        if isinstance(cache, RedisCache):
            await cache.close()
    assert (cache.hits, cache.misses) == (2, 1)
    assert _counter(backend, "stats", "hit") - before[0] == 2
    assert _counter(backend, "stats", "miss") - before[1] == 1


async def _import(client: httpx.AsyncClient, n: int) -> None:
    body = (
        await client.post("/api/import/batch", json=[product_payload() for _ in range(n)])
    ).json()
    assert body["failed_count"] == 0, body


async def test_a_write_is_seen_at_once_with_the_in_process_cache(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        assert isinstance(app.state.cache, MemoryCache)
        await _import(client, 2)
        first = (await client.get("/api/products?page_size=5")).json()
        stats = (await client.get("/api/products/stats/summary")).json()
        hits = app.state.cache.hits
        assert (await client.get("/api/products?page_size=5")).json() == first  # from the cache
        assert app.state.cache.hits > hits
        await _import(client, 1)
        after = (await client.get("/api/products?page_size=5")).json()
        assert (first["total"], after["total"]) == (2, 3)
        assert len(after["items"]) == 3
        assert (await client.get("/api/products/stats/summary")).json()["total_products"] == (
            stats["total_products"] + 1
        )


async def test_a_write_through_one_app_is_seen_by_another_on_redis(
    settings: Settings, redis_url: str
) -> None:
    settings.redis_url = redis_url
    async with running_app(settings) as (_, writer), running_app(settings) as (reader_app, reader):
        assert isinstance(reader_app.state.cache, RedisCache)
        await _import(writer, 2)
        assert (await reader.get("/api/products?page_size=5")).json()["total"] == 2
        assert (await reader.get("/api/products/stats/summary")).json()["total_products"] == 2
        hits = reader_app.state.cache.hits
        assert (await reader.get("/api/products?page_size=5")).json()["total"] == 2
        assert reader_app.state.cache.hits > hits  # served from Redis, not recomputed
        await _import(writer, 3)  # the other app's commit bumps the shared generation
        page = (await reader.get("/api/products?page_size=5")).json()
        assert page["total"] == 5
        assert len(page["items"]) == 5
        assert (await reader.get("/api/products/stats/summary")).json()["total_products"] == 5


async def test_stats_and_list_pages_are_cached_with_the_ttl_settings(
    settings: Settings, redis_url: str
) -> None:
    settings.redis_url = redis_url
    settings.cache_ttl_stats = 123
    settings.cache_ttl_list = 77
    async with running_app(settings) as (_, client):
        await _import(client, 1)
        assert (await client.get("/api/products/stats/summary")).status_code == 200
        assert (await client.get("/api/products")).status_code == 200
    r = redis.Redis.from_url(redis_url)
    try:
        ttls = {key.decode().split(":")[1]: r.ttl(key) for key in r.scan_iter("lf:*:1:*")}
    finally:
        r.close()
    assert 100 < ttls["stats"] <= 123
    assert 60 < ttls["page"] <= 77
    assert 60 < ttls["count"] <= 77


async def test_redis_keeps_generation_versioned_entries_in_process_only(redis_url: str) -> None:
    cache = RedisCache(redis_url)
    raw = redis.Redis.from_url(redis_url)
    try:
        versioned, other = cache_key("stats", 7, 3), cache_key("session", "abc")
        await cache.set(versioned, {"total": 1}, 600)
        await cache.set(other, {"user": 1}, 600)
        raw.delete(versioned, other)  # gone from Redis
        assert await cache.get(versioned) == {"total": 1}  # immutable under its key: local copy
        assert await cache.get(other) is None  # anything else always asks Redis
    finally:
        raw.close()
        await cache.close()


async def test_a_generation_is_read_once_per_request_and_a_bump_updates_it(
    redis_url: str,
) -> None:
    from listingflow.kit.cache import (
        bump_workspace_generation,
        generation_memo,
        workspace_generation,
    )

    cache = RedisCache(redis_url)
    raw = redis.Redis.from_url(redis_url)
    try:
        with generation_memo():
            assert await workspace_generation(cache, 9) == 0
            raw.set(cache_key("gen", 9), 5)  # another process writes meanwhile
            assert await workspace_generation(cache, 9) == 0  # this request's snapshot
            await bump_workspace_generation(cache, 9)  # our own write
            assert await workspace_generation(cache, 9) == 6
        assert await workspace_generation(cache, 9) == 6  # outside a request: always read
        raw.set(cache_key("gen", 9), 8)
        assert await workspace_generation(cache, 9) == 8
    finally:
        raw.close()
        await cache.close()
