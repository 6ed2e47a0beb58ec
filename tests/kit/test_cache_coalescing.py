"""RedisCache shares a GET between callers only when it was sent after they asked: many callers,
few GETs, and never an answer older than its question."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis

from listingflow.kit.cache import RedisCache, cache_key

KEY = cache_key("gen", 1)


@pytest.fixture
async def cache(redis_url: str) -> AsyncIterator[RedisCache]:
    cache = RedisCache(redis_url)
    yield cache
    await cache.close()


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


class _HeldGets:
    """Wraps the client's GET: counts them, and can hold an answer (already read from Redis)
    back from its caller until released: a GET "in flight" while the value changes."""

    def __init__(self, cache: RedisCache) -> None:
        self.calls = 0
        self.answered = asyncio.Event()
        self.release = asyncio.Event()
        self.release.set()
        self._get = cache._redis.get
        cache._redis.get = self  # type: ignore[method-assign]

    async def __call__(self, key: str) -> Any:
        self.calls += 1
        value = await self._get(key)
        self.answered.set()
        await self.release.wait()
        return value


async def test_concurrent_callers_share_one_get(cache: RedisCache, raw: redis.Redis) -> None:
    raw.set(KEY, 4)
    gets = _HeldGets(cache)
    values = await asyncio.gather(*(cache.get(KEY) for _ in range(50)))
    assert values == [4] * 50
    # All 50 asked before the GET was sent: one GET answers them all.
    assert gets.calls == 1
    values = await asyncio.gather(*(cache.get(KEY) for _ in range(50)))
    assert gets.calls == 2


async def test_a_get_already_sent_is_not_shared_with_a_later_caller(
    cache: RedisCache, raw: redis.Redis
) -> None:
    raw.set(KEY, 1)
    gets = _HeldGets(cache)
    gets.release.clear()
    early = asyncio.create_task(cache.get(KEY))
    await gets.answered.wait()  # the early GET has been sent and answered 1 by Redis
    raw.set(KEY, 2)  # another replica bumps the generation; then two more callers ask
    later = [asyncio.create_task(cache.get(KEY)) for _ in range(2)]
    await asyncio.sleep(0.05)
    assert not any(task.done() for task in later)  # waiting for a GET of their own
    gets.release.set()
    assert await early == 1
    assert [await task for task in later] == [2, 2]
    assert gets.calls == 2  # the two later callers shared the second GET


async def test_a_failed_get_is_a_miss_for_every_caller_and_the_next_one_asks_again(
    cache: RedisCache, raw: redis.Redis
) -> None:
    original = cache._redis.get
    raw.set(KEY, 7)

    async def broken(_: str) -> Any:
        raise redis.exceptions.ConnectionError("connection refused")

    cache._redis.get = broken  # type: ignore[method-assign]
    assert await asyncio.gather(*(cache.get(KEY) for _ in range(5))) == [None] * 5
    assert cache.errors == 5
    cache._redis.get = original  # type: ignore[method-assign]
    assert await cache.get(KEY) == 7
