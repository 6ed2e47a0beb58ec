"""The shared call budgets: the algorithm on a fake clock, both backends for real on short
windows, and four processes hammering one key on a real Redis.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import redis

from listingflow.kit.ratelimit import (
    Budget,
    MemoryRateLimiter,
    ProviderLimits,
    QuotaExhausted,
    RateLimiter,
    RedisRateLimiter,
    RequestTooLarge,
    WaitTooLong,
    create_rate_limiter,
    parse_duration,
)

REDIS_URL = os.environ.get("LISTINGFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("LISTINGFLOW_REQUIRE_SERVICES") == "1"
ROOT = Path(__file__).resolve().parents[2]


class FakeClock:
    """Time that passes only when the limiter sleeps: the algorithm without waiting."""

    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def memory(budget: Budget) -> tuple[MemoryRateLimiter, FakeClock]:
    clock = FakeClock()
    return MemoryRateLimiter(default=budget, clock=clock, sleep=clock.sleep), clock


ONLY_RPM = Budget(rpm=60, rpd=None, tpm=None, margin=0)
LimiterFactory = Callable[[Budget], RateLimiter]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2m59.56s", 179.56),
        ("7.66s", 7.66),
        ("12ms", 0.012),
        ("1h2m3s", 3723.0),
        ("0s", 0.0),
        ("7.5", 7.5),
        ("", None),
        ("soon", None),
    ],
)
def test_provider_durations_parse(text: str, seconds: float | None) -> None:
    if seconds is None:
        assert parse_duration(text) is None
    else:
        assert parse_duration(text) == pytest.approx(seconds)


def test_provider_limits_read_from_headers_in_any_case() -> None:
    limits = ProviderLimits.from_headers(
        {
            "X-RateLimit-Remaining-Requests": "14370",
            "x-ratelimit-reset-requests": "2m59.56s",
            "x-ratelimit-remaining-tokens": "11000",
            "x-ratelimit-reset-tokens": "7.66s",
            "Retry-After": "2",
        }
    )

    assert limits.remaining_requests == 14370 and limits.reset_requests == pytest.approx(179.56)
    assert limits.remaining_tokens == 11000 and limits.reset_tokens == pytest.approx(7.66)
    assert limits.retry_after == 2.0


async def test_minute_requests_are_paced_evenly() -> None:
    limiter, _ = memory(ONLY_RPM)

    grants = [await limiter.acquire("k", tokens=0) for _ in range(5)]

    gaps = [b - a for a, b in itertools.pairwise(grants)]
    assert all(1.0 <= gap < 1.01 for gap in gaps)


async def test_a_burst_fills_the_window_then_waits_for_the_oldest_grant() -> None:
    limiter, _ = memory(Budget(rpm=10, rpd=None, tpm=None, burst=10, margin=0))

    grants = [await limiter.acquire("k", tokens=0) for _ in range(11)]

    assert len(set(grants[:10])) == 1
    assert 60.0 <= grants[10] - grants[0] < 60.01


async def test_tokens_weigh_by_their_count() -> None:
    limiter, _ = memory(Budget(rpm=None, rpd=None, tpm=1_000, margin=0))

    first = await limiter.acquire("k", tokens=500)
    second = await limiter.acquire("k", tokens=10)

    assert 30.0 <= second - first < 30.01  # 500 of 1,000 tokens a minute: half a minute


async def test_a_call_larger_than_a_whole_window_is_refused() -> None:
    limiter, _ = memory(Budget(tpm=1_000))

    with pytest.raises(RequestTooLarge):
        await limiter.acquire("k", tokens=1_001)


async def test_a_spent_day_raises_quota_exhausted_unless_the_caller_waits() -> None:
    limiter, _ = memory(Budget(rpm=None, tpm=None, rpd=2, day=100, margin=0))
    start = await limiter.acquire("k", tokens=0)
    await limiter.acquire("k", tokens=0)

    with pytest.raises(QuotaExhausted) as caught:
        await limiter.acquire("k", tokens=0)
    assert caught.value.rule == "rpd" and caught.value.retry_in == pytest.approx(100)

    granted = await limiter.acquire("k", tokens=0, wait_daily=True)
    assert granted - start >= 100


async def test_a_wait_beyond_max_wait_raises_wait_too_long() -> None:
    limiter, _ = memory(ONLY_RPM)
    await limiter.acquire("k", tokens=0)

    with pytest.raises(WaitTooLong) as caught:
        await limiter.acquire("k", tokens=0, max_wait=0.5)

    assert caught.value.retry_in == pytest.approx(1.0)


async def test_usage_the_provider_saw_is_booked_until_its_reset() -> None:
    limiter, clock = memory(Budget(rpm=None, rpd=100, tpm=None, margin=0))
    await limiter.acquire("k", tokens=0)

    await limiter.report(
        "k", {"x-ratelimit-remaining-requests": "10", "x-ratelimit-reset-requests": "30s"}
    )
    assert (await limiter.usage("k"))["budgets"]["rpd"]["used"] == 90

    clock.now += 30.5
    assert (await limiter.usage("k"))["budgets"]["rpd"]["used"] == 1  # only our own call


async def test_retry_after_closes_the_key_for_every_caller() -> None:
    limiter, clock = memory(Budget(rpm=None, rpd=None, tpm=None))
    before = clock.now

    await limiter.report("k", {"retry-after": "5"})
    granted = await limiter.acquire("k", tokens=0)

    assert granted - before >= 5


async def test_usage_counts_calls_and_tokens_today() -> None:
    limiter, _ = memory(Budget(rpm=None, rpd=None, tpm=10_000))
    await limiter.acquire("k", tokens=300)
    await limiter.acquire("k", tokens=200)

    await limiter.report("k", ProviderLimits(), token_correction=50)  # the call used 50 more

    usage = await limiter.usage("k")
    assert (usage["calls_today"], usage["tokens_today"]) == (2, 550)
    assert usage["budgets"]["tpm"] == {"used": 550, "limit": 10_000, "window_seconds": 60.6}


def test_a_redis_url_selects_the_shared_limiter() -> None:
    assert isinstance(create_rate_limiter(REDIS_URL), RedisRateLimiter)
    assert isinstance(create_rate_limiter(None), MemoryRateLimiter)


# ------------------------------------------------------------------------ real time, both backends


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        client.close()
        if REQUIRE_SERVICES:
            pytest.fail(f"Redis is required (LISTINGFLOW_REQUIRE_SERVICES=1) at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis not available at {REDIS_URL}")
    prefix = f"lf:test:{uuid.uuid4().hex}"
    yield prefix
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=["memory", "redis"])
async def make_limiter(request: pytest.FixtureRequest) -> AsyncIterator[LimiterFactory]:
    made: list[RateLimiter] = []

    def make(budget: Budget) -> RateLimiter:
        if request.param == "memory":
            limiter: RateLimiter = MemoryRateLimiter(default=budget)
        else:
            prefix: str = request.getfixturevalue("redis_prefix")
            limiter = RedisRateLimiter(REDIS_URL, default=budget, prefix=prefix)
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        await limiter.aclose()


async def test_no_window_is_ever_over_its_limit(make_limiter: LimiterFactory) -> None:
    limiter = make_limiter(Budget(rpm=5, rpd=None, tpm=None, minute=0.5, burst=5, margin=0))

    grants = [await limiter.acquire("k", tokens=0) for _ in range(8)]

    assert grants[5] - grants[0] >= 0.5 and grants[6] - grants[1] >= 0.5


async def test_provider_corrections_hold_every_caller_back(make_limiter: LimiterFactory) -> None:
    limiter = make_limiter(
        Budget(rpm=100, rpd=None, tpm=None, minute=1.0, burst=100, requests_header="minute")
    )
    first = await limiter.acquire("k", tokens=0)

    await limiter.report(
        "k", {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "300ms"}
    )
    await limiter.report("k", {"retry-after": "0.2"})
    usage = await limiter.usage("k")
    second = await limiter.acquire("k", tokens=0)

    assert usage["budgets"]["rpm"]["used"] == 100 and usage["blocked_for"] > 0
    assert second - first >= 0.3


async def test_a_spent_daily_budget_is_shared(make_limiter: LimiterFactory) -> None:
    limiter = make_limiter(Budget(rpm=None, rpd=1, tpm=None, day=30))
    await limiter.acquire("k", tokens=5)

    with pytest.raises(QuotaExhausted) as caught:
        await limiter.acquire("k", tokens=5)

    assert 29 < caught.value.retry_in <= 30.3
    assert (await limiter.usage("k"))["calls_today"] == 1


# ---------------------------------------------------------------- four processes, one Redis key

WORKER = textwrap.dedent(
    """
    import asyncio, json, random, sys, time
    from listingflow.kit.ratelimit import Budget, RedisRateLimiter, WaitTooLong

    url, prefix, burst = sys.argv[1:4]
    budget = Budget(rpm=120, tpm=1200, rpd=None, minute=2.0, burst=int(burst))

    async def main():
        limiter = RedisRateLimiter(url, default=budget, prefix=prefix)
        await limiter.usage("shared")  # connect before the start line
        print("READY", flush=True)
        start_at, stop_at = sys.stdin.readline().split()  # sent once all four are ready
        await asyncio.sleep(max(float(start_at) - time.time(), 0))
        grants = []
        while True:
            tokens = random.randint(1, 20)
            try:
                at = await limiter.acquire(
                    "shared", tokens=tokens, max_wait=float(stop_at) - time.time()
                )
            except WaitTooLong:
                break
            grants.append([at, tokens])
        await limiter.aclose()
        print("GRANTS", json.dumps(grants))  # one marked line: logs may share stdout

    asyncio.run(main())
    """
)


def _max_in_window(grants: list[tuple[float, int]], window: float) -> tuple[int, int]:
    """The most requests and tokens granted in any half-open window [t, t + window)."""
    most_requests = most_tokens = 0
    end = 0
    tokens = 0
    for start, (at, _) in enumerate(grants):
        while end < len(grants) and grants[end][0] < at + window:
            tokens += grants[end][1]
            end += 1
        most_requests = max(most_requests, end - start)
        most_tokens = max(most_tokens, tokens)
        tokens -= grants[start][1]
    return most_requests, most_tokens


@pytest.mark.parametrize("burst", [1, 120], ids=["paced", "burst"])
def test_four_processes_never_exceed_the_shared_budget(redis_prefix: str, burst: int) -> None:
    env = os.environ | {"PYTHONPATH": str(ROOT / "src")}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, REDIS_URL, redis_prefix, str(burst)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for _ in range(4)
    ]
    for worker in workers:  # however slowly the interpreters start, all four start together
        assert worker.stdout is not None
        while worker.stdout.readline().strip() != "READY":
            pass
    start_at = time.time() + 0.2
    stop_at = start_at + 3.0
    outputs = [w.communicate(f"{start_at} {stop_at}\n", timeout=60)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers)

    lists = [
        json.loads(line[7:])
        for out in outputs
        for line in out.splitlines()
        if line[:7] == "GRANTS "
    ]
    assert len(lists) == 4
    grants = sorted((at, tokens) for one in lists for at, tokens in one)
    per_worker = [len(one) for one in lists]
    requests, tokens = _max_in_window(grants, 2.0)
    assert requests <= 120 and tokens <= 1200
    # Not safe by starving: the budget was used, and paced, every process got calls (a burst
    # may go to whichever processes ask first: the limiter promises a budget, not fairness).
    assert len(grants) >= 100, (len(grants), per_worker)
    if burst == 1:
        assert all(count > 0 for count in per_worker), per_worker
    if burst > 1:  # bursts pack a window up to a limit (within one call's tokens), never past it
        assert requests == 120 or tokens > 1200 - 20, (requests, tokens)
