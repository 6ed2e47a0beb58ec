"""Publish throughput: 10,000 listings to the local eBay server through the whole pipeline.

A scratch PostgreSQL database, `listingflow serve` and one `listingflow worker` process on a
Redis broker, and the eBay protocol server from tests/fakes in this process with 50 ms latency
on every answer and a limit of 5 calls a second (429 + Retry-After above it). N products (10,000
by default) are imported and optimized for eBay, an eBay connection is added with rate 5, then
one bulk-publish job sends them: the eBay client packs 25 listings a bulk call and makes three
calls per 25 (bulkCreateOrReplaceInventoryItem, bulkCreateOffer, bulkPublishOffer).

The rate-limit floor is the fewest calls the job needs over the limit: N / 25 x 3 / 5 per
second (240 s for 10,000). Printed: the job's time from start to its last item, the floor, the
ratio (target: within 15% of the floor), calls by operation, 429s, and duplicates (SKUs with
more than one offer on the server: must be 0).

    .venv/bin/python bench/publish_throughput.py [--items 10000] [--rate 5] [--latency 0.05]
        [--threads 8] [--redis-url redis://127.0.0.1:6379/12]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import psycopg
import redis
from _support import Scratch, listingflow_bin, machine_lines, run_cli, server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.fakes.ebay_server import FakeEbayServer

BULK = 25
CALLS_PER_BULK = 3


def _products(start: int, count: int) -> list[dict[str, object]]:
    return [
        {
            "source_id": f"PB-{n}",
            "title": f"Bluetooth speaker model {n} waterproof portable",
            "description": "Portable Bluetooth speaker, 12 hours of battery, IPX7 waterproof.",
            "price": 99.99,
            "currency": "EUR",
            "brand": "Acme",
            "category": "Electronics > Audio > Speakers",
            "images": [f"https://img.example.com/{n}/1.jpg"],
            "attributes": {"category_id": "111694", "color": "black", "ean": "5901234123457"},
        }
        for n in range(start, start + count)
    ]


def _wait(api: httpx.Client, job_id: int, label: str) -> dict[str, object]:
    while True:
        job = api.get(f"/api/jobs/{job_id}").json()
        done = int(job["processed"])
        print(f"\r  {label}: {done:,}/{job['total']:,}", end="", file=sys.stderr)
        if job["status"] not in ("pending", "running"):
            print(file=sys.stderr)
            return dict(job)
        time.sleep(0.5)


def _worker(scratch: Scratch, env: dict[str, str], threads: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [listingflow_bin(), "worker", "--processes", "1", "--threads", str(threads)],
        env={**scratch.env(), **env},
        stdout=subprocess.DEVNULL,
        stderr=open(scratch.dir / "worker.log", "wb"),
        start_new_session=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    broker = redis.Redis.from_url(args.redis_url)
    broker.flushdb()
    env = {
        "LISTINGFLOW_BROKER_URL": args.redis_url,
        "LISTINGFLOW_JOB_WAIT_SECONDS": "0",
        "LISTINGFLOW_PUBLISH_WAIT_SECONDS": "0",
        "LISTINGFLOW_MAX_BATCH_ITEMS": str(max(10_000, args.items)),
    }
    ebay = FakeEbayServer(rate_limit=args.rate, burst=int(args.rate), latency=args.latency)
    worker = None
    try:
        with ebay, Scratch("postgresql", None, args.pg_admin_url) as scratch:
            print(f"ListingFlow publish throughput: {args.items:,} listings to the eBay server")
            for line in machine_lines(scratch.url):
                print("  " + line)
            key = run_cli(scratch, "apikey", "create", "--name", "bench").strip()
            with server(scratch, 1, env) as (base, _pid):
                worker = _worker(scratch, env, args.threads)
                api = httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=300)
                for start in range(0, args.items, 5_000):
                    count = min(5_000, args.items - start)
                    api.post("/api/import/batch", json=_products(start, count)).raise_for_status()
                with psycopg.connect(scratch.url) as conn:
                    ids = [row[0] for row in conn.execute("SELECT id FROM products ORDER BY id")]
                optimize = api.post(
                    "/api/ai/batch-optimize",
                    json={"product_ids": ids, "target_marketplace": "ebay"},
                )
                optimize.raise_for_status()
                _wait(api, optimize.json()["job_id"], "optimize")
                api.post(
                    "/api/connections",
                    json={
                        "marketplace": "ebay",
                        "credentials": ebay.credentials("EBAY_DE"),
                        "settings": {
                            "base_url": ebay.base_url,
                            "auth_url": ebay.token_url,
                            "rate": args.rate,
                        },
                    },
                ).raise_for_status()
                ebay.calls.clear()
                ebay.throttled = 0
                started = time.perf_counter()
                publish = api.post(
                    "/api/export/bulk-publish",
                    json={"target_marketplace": "ebay", "product_ids": ids},
                )
                publish.raise_for_status()
                job = _wait(api, publish.json()["job_id"], "publish")
                elapsed = time.perf_counter() - started
                api.close()
    finally:
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
        broker.flushdb()
    floor = args.items / BULK * CALLS_PER_BULK / args.rate
    offers = Counter(o["sku"] for o in ebay.offers.values())
    duplicates = sum(1 for n in offers.values() if n > 1)
    calls = {k: v for k, v in ebay.calls.items() if not k.startswith("token")}
    print()
    print(f"  job: {job['succeeded']:,} succeeded, {job['failed']:,} failed ({job['status']})")
    print(f"  calls: {sum(calls.values()):,} {dict(sorted(calls.items()))}; 429s: {ebay.throttled}")
    print(f"  offers on the server: {len(offers):,}; SKUs with more than one offer: {duplicates}")
    ratio = elapsed / floor
    verdict = "met" if ratio <= 1.15 and duplicates == 0 else "NOT met"
    print()
    print(
        "| listings | rate limit | latency | floor s | job s | job / floor | duplicates | target |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    print(
        f"| {args.items:,} | {args.rate:g}/s | {args.latency * 1000:.0f} ms | {floor:.0f} | "
        f"{elapsed:.1f} | {ratio:.3f} | {duplicates} | within 15%, 0 duplicates: {verdict} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
