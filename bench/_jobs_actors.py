"""Actors for bench/jobs_throughput.py, on the app's own broker configuration.

The broker comes from `listingflow.worker.broker.build_broker` (RedisBroker + Dramatiq's AsyncIO
middleware + TaskDatabases) for the Redis URL in BENCH_REDIS_URL. Each actor counts its
completion with one Redis INCR (through redis.asyncio, on the worker's event loop) so the
benchmark can poll progress from outside the worker process.
"""

from __future__ import annotations

import asyncio
import os

import dramatiq
import redis.asyncio as aioredis

from listingflow.config import Settings
from listingflow.worker.broker import build_broker, use_fast_event_loop

if os.environ.get("BENCH_UVLOOP", "1") == "1":  # as `listingflow worker` does by default
    use_fast_event_loop()

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
DONE_KEY = "bench:jobs:done"
IO_SECONDS = 0.2

broker = build_broker(Settings(_env_file=None, broker_url=REDIS_URL))
dramatiq.set_broker(broker)

# One event loop per worker process (the AsyncIO middleware's), so one client is enough.
_client: aioredis.Redis | None = None


def _counter() -> aioredis.Redis:
    global _client
    if _client is None:
        _client = aioredis.from_url(REDIS_URL)
    return _client


@dramatiq.actor(queue_name="bench_noop", max_retries=0)
async def bench_noop() -> None:
    await _counter().incr(DONE_KEY)


@dramatiq.actor(queue_name="bench_io", max_retries=0)
async def bench_io() -> None:
    await asyncio.sleep(IO_SECONDS)
    await _counter().incr(DONE_KEY)
