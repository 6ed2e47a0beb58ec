"""API responsiveness while a job backlog waits: GET /health latency with 10,000 items queued.

A scratch PostgreSQL database, `listingflow serve` (1 process) on a Redis broker with the
sweeper scanning every 5 s, 10,000 products imported through the API, then one batch-optimize
job over all of them with NO worker running, so all 10,000 items wait in Redis and in the
database. Then N (default 2,000) GET /health requests from C (default 4) concurrent clients;
prints p50/p95/p99/max. Target (issue 4): p95 under 50 ms. A benchmark, not a test: the figure
goes to docs/performance.md with the machine.

    .venv/bin/python bench/health_under_backlog.py [--redis-url redis://127.0.0.1:6379/12]
        [--items 10000] [--requests 2000] [--clients 4]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

import httpx
import psycopg
import redis
from _support import Scratch, machine_lines, run_cli, server

TARGET_P95_MS = 50.0


def _products(start: int, count: int) -> list[dict[str, object]]:
    return [
        {
            "source_id": f"HB-{n}",
            "title": f"Bluetooth speaker model {n} waterproof",
            "description": "Portable speaker, 12 hours of battery, IPX7.",
            "price": 99.99,
            "currency": "PLN",
            "brand": "Acme",
        }
        for n in range(start, start + count)
    ]


async def _measure(base: str, requests: int, clients: int) -> list[float]:
    timings: list[float] = []
    per_client = requests // clients

    async def one_client(client: httpx.AsyncClient) -> None:
        for _ in range(per_client):
            started = time.perf_counter()
            response = await client.get("/health")
            timings.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"/health answered {response.status_code}: {response.text}")

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for _ in range(50):  # warm-up, not counted
            await client.get("/health")
        await asyncio.gather(*(one_client(client) for _ in range(clients)))
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    broker = redis.Redis.from_url(args.redis_url)
    broker.flushdb()
    env = {
        "LISTINGFLOW_BROKER_URL": args.redis_url,
        "LISTINGFLOW_JOB_WAIT_SECONDS": "0.1",
        "LISTINGFLOW_JOB_SWEEP_INTERVAL": "5",
        "LISTINGFLOW_MAX_BATCH_ITEMS": str(max(10_000, args.items)),
    }
    try:
        with Scratch("postgresql", None, args.pg_admin_url) as scratch:
            print(f"ListingFlow /health while {args.items:,} job items wait")
            for line in machine_lines(scratch.url):
                print("  " + line)
            key = run_cli(scratch, "apikey", "create", "--name", "bench").strip()
            with server(scratch, 1, env) as (base, _pid):
                headers = {"X-API-Key": key}
                with httpx.Client(base_url=base, headers=headers, timeout=120) as api:
                    for start in range(0, args.items, 5_000):
                        count = min(5_000, args.items - start)
                        api.post(
                            "/api/import/batch", json=_products(start, count)
                        ).raise_for_status()
                    with psycopg.connect(scratch.url) as conn:
                        ids = [row[0] for row in conn.execute("SELECT id FROM products")]
                    job = api.post(
                        "/api/ai/batch-optimize",
                        json={"product_ids": ids, "target_marketplace": "ebay"},
                    )
                    job.raise_for_status()
                waiting = sum(
                    int(broker.llen(k))
                    for k in broker.scan_iter("dramatiq:*")
                    if broker.type(k) == b"list"
                )
                print(
                    f"  job {job.json()['job_id']}: {len(ids):,} items, {waiting:,} messages "
                    "waiting in Redis, no worker running"
                )
                timings = asyncio.run(_measure(base, args.requests, args.clients))
    finally:
        broker.flushdb()
    timings.sort()
    p95 = timings[int(len(timings) * 0.95) - 1]
    p99 = timings[int(len(timings) * 0.99) - 1]
    print()
    print("| request | n | clients | p50 ms | p95 ms | p99 ms | max ms | target |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    verdict = "met" if p95 < TARGET_P95_MS else "NOT met"
    print(
        f"| GET /health | {len(timings)} | {args.clients} | {statistics.median(timings):.1f} | "
        f"{p95:.1f} | {p99:.1f} | {timings[-1]:.1f} | p95 < {TARGET_P95_MS:.0f} ms: {verdict} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
