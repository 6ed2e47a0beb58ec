"""LLM call rate through the shared Redis limiter: several processes, one budget, no 429s.

Starts the local fake OpenAI-compatible server (tests/fakes/openai_server.py) on 127.0.0.1,
enforcing --rpm requests per minute itself (a strict sliding 60-second window by arrival time;
429 + retry-after when exceeded). Then --workers processes (default 4), each running the real
`OpenAICompatibleEngine` over HTTP with a `RedisRateLimiter` on one shared key whose budget is the
same --rpm, take products from a shared counter until --requests optimizations are done.

Printed: the achieved rate from the server's arrival times ((requests - 1) over first-to-last
arrival, per minute) and from wall time (start-up of the first call included); the 429s the server
sent (the limiter kept under the server's window if 0) and the 429s that reached the caller (must
be 0: a 429 is retried after its retry-after inside the engine); other errors; and whether the
rate is within 10% of the budget. Exits non-zero when a check fails.

At the default --rpm 60 --requests 120 a run takes about 2 minutes. A quick check:

    .venv/bin/python bench/llm_rate.py --rpm 600 --requests 60

Every call goes through the optimization service's result cache (`cached_llm_optimize`, on
Redis), keyed by endpoint, model, prompt version, marketplace and the product's content; each
run's products are new (a run id is one of their attributes), so the first pass is uncached.
With --repeat (the default) the workers then optimize the same products again and the bench
checks that this second pass made zero calls to the server.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing as mp
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

import redis  # noqa: E402
import structlog  # noqa: E402
from tests.fakes.openai_server import FakeLLMServer  # noqa: E402

from listingflow.integrations.llm.base import ListingLimits, LLMError  # noqa: E402
from listingflow.integrations.llm.openai_compatible import OpenAICompatibleEngine  # noqa: E402
from listingflow.kit.cache import RedisCache  # noqa: E402
from listingflow.kit.ratelimit import Budget, RedisRateLimiter  # noqa: E402
from listingflow.optimization.service import cached_llm_optimize  # noqa: E402
from listingflow.rules.types import SourceProduct  # noqa: E402

CACHE_TTL = 900  # long enough for the repeat pass; the entries then expire on their own
LIMITS = ListingLimits(title_max=80, bullets_max=5, bullet_max_chars=250, banned_terms=("best",))


def product(n: int, run: str) -> SourceProduct:
    return SourceProduct(
        title=f"Wireless Headphones Model {n}",
        description=f"Over-ear headphones, item {n}, with up to 30 h of battery life.",
        brand="Sony",
        category="Headphones",
        price=Decimal("199.00"),
        currency="EUR",
        attributes={"battery_life": "30 h", "colour": "Black", "bench_run": run},
    )


async def run_worker(
    base_url: str,
    api_key: str,
    redis_url: str,
    prefix: str,
    rpm: int,
    total: int,
    ready: Any,
    start: Any,
    phase: int,
) -> dict[str, Any]:
    key = f"llm:bench:{prefix}"
    # The fake's request headers describe its minute, as OpenAI's do.
    budget = Budget(rpm=rpm, rpd=None, tpm=None, requests_header="minute")
    limiter = RedisRateLimiter(redis_url, budgets={key: budget}, prefix=prefix)
    engine = OpenAICompatibleEngine(
        api_key=api_key,
        base_url=base_url,
        limiter=limiter,
        limiter_key=key,
        deadline=600,
        timeout=30,
    )
    counter = redis.Redis.from_url(redis_url)
    cache = RedisCache(redis_url)
    await limiter.usage(key)  # connect before the start line
    ready.put(1)
    start.wait()
    done = errors = rate_limited_to_caller = attempts = hits = 0
    kinds: dict[str, int] = {}
    counter_key = f"{prefix}:counter:{phase}"
    while (n := int(counter.incr(counter_key))) <= total:
        try:
            result, cached = await cached_llm_optimize(
                engine,
                product(n, prefix),
                "amazon",
                limits=LIMITS,
                language="en",
                cache=cache,
                ttl=CACHE_TTL,
            )
        except LLMError as exc:
            errors += 1
            kinds[type(exc).__name__] = kinds.get(type(exc).__name__, 0) + 1
            rate_limited_to_caller += exc.status == 429
            continue
        done += 1
        hits += cached
        attempts += result.attempts
    counter.close()
    await cache.close()
    await engine.aclose()
    await limiter.aclose()
    return {
        "done": done,
        "errors": errors,
        "kinds": kinds,
        "rate_limited_to_caller": rate_limited_to_caller,
        "attempts": attempts,
        "hits": hits,
    }


def worker(*args: Any) -> None:
    results = args[-1]
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    results.put(asyncio.run(run_worker(*args[:-1])))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rpm", type=int, default=60, help="budget and server limit (60)")
    parser.add_argument("--requests", type=int, default=120, help="optimizations in all (120)")
    parser.add_argument("--workers", type=int, default=4, help="worker processes (4)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--repeat",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="optimize the same products again and check it costs no call (default on)",
    )
    args = parser.parse_args()

    try:
        redis.Redis.from_url(args.redis_url).ping()
    except redis.ConnectionError as exc:
        print(f"llm_rate: Redis is needed at {args.redis_url}: {exc}", file=sys.stderr)
        return 2

    prefix = f"lf:bench:{uuid.uuid4().hex}"
    ctx = mp.get_context("spawn")
    print(
        f"llm_rate: {args.workers} worker processes, {args.requests} requests, budget "
        f"{args.rpm} RPM shared through Redis; the fake server enforces {args.rpm} RPM "
        "(sliding 60 s window)"
    )
    with FakeLLMServer(rpm_limit=args.rpm, rpm_window=60.0) as server:

        def run_phase(phase: int) -> tuple[list[dict[str, Any]], float]:
            ready, start, results = ctx.Queue(), ctx.Event(), ctx.Queue()
            procs = [
                ctx.Process(
                    target=worker,
                    args=(
                        server.base_url,
                        server.api_key,
                        args.redis_url,
                        prefix,
                        args.rpm,
                        args.requests,
                        ready,
                        start,
                        phase,
                        results,
                    ),
                )
                for _ in range(args.workers)
            ]
            for proc in procs:
                proc.start()
            for _ in procs:
                ready.get(timeout=60)
            began = time.perf_counter()
            start.set()
            outcomes = [results.get(timeout=3600) for _ in procs]
            elapsed = time.perf_counter() - began
            for proc in procs:
                proc.join(timeout=30)
            return outcomes, elapsed

        outcomes, wall = run_phase(1)
        requests = list(server.chat_requests)
        repeat_calls = repeat_hits = repeat_done = 0
        if args.repeat:
            repeated, _ = run_phase(2)
            repeat_calls = len(server.chat_requests) - len(requests)
            repeat_hits = sum(o["hits"] for o in repeated)
            repeat_done = sum(o["done"] for o in repeated)
    client = redis.Redis.from_url(args.redis_url)
    leftovers = list(client.scan_iter(f"{prefix}:*")) + list(client.scan_iter(f"*{prefix}*"))
    if leftovers:
        client.delete(*set(leftovers))
    client.close()

    served = sorted(r.at for r in requests if r.status == 200)
    sent_429 = sum(r.status == 429 for r in requests)
    to_caller_429 = sum(o["rate_limited_to_caller"] for o in outcomes)
    errors = sum(o["errors"] for o in outcomes)
    done = sum(o["done"] for o in outcomes)
    rate = (len(served) - 1) / (served[-1] - served[0]) * 60 if len(served) > 1 else 0.0
    off = (rate - args.rpm) / args.rpm * 100
    within = abs(off) <= 10
    print(f"  completed: {done} of {args.requests}  per worker: {[o['done'] for o in outcomes]}")
    print(f"  achieved rate (server arrivals): {rate:.1f} RPM ({off:+.1f}% vs {args.rpm} RPM)")
    print(f"  wall time: {wall:.1f} s ({done / wall * 60:.1f} RPM including the first call)")
    print(f"  429 sent by the server: {sent_429}; 429 reaching the caller: {to_caller_429}")
    kinds: dict[str, int] = {}
    for outcome in outcomes:
        for name, count in outcome["kinds"].items():
            kinds[name] = kinds.get(name, 0) + count
    print(f"  other errors reaching the caller: {errors - to_caller_429} {kinds or ''}".rstrip())
    ok = within and to_caller_429 == 0 and errors == 0 and done == args.requests
    if args.repeat:
        print(
            f"  repeat pass: {repeat_done} optimizations, {repeat_hits} from the cache, "
            f"{repeat_calls} calls to the server"
        )
        ok = ok and repeat_calls == 0 and repeat_hits == repeat_done == args.requests
    verdict = "PASS" if ok else "FAIL"
    print(f"  within 10% of {args.rpm} RPM: {'yes' if within else 'NO'}; result: {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
