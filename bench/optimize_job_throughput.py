"""Batch-optimize job throughput end to end: items per second through the API, a Redis broker and
`listingflow worker` processes on PostgreSQL, and whether workers wait on each other's locks.

A fresh PostgreSQL database gets N products (default 5,000) by the set-based fill of
bench/list_latency.py. `listingflow serve` (1 process) and `listingflow worker --processes P
--threads T` run with Redis as broker and cache and the offline optimizer (no LLM key). One
`POST /api/ai/batch-optimize` for every product (LISTINGFLOW_JOB_WAIT_SECONDS=0: the answer
comes at once) starts the job; `GET /api/jobs/{id}` is polled every 0.2 s until it completes.
Meanwhile pg_stat_activity is sampled every 0.1 s for backends of this database that are
active, and of those, waiting on a lock (`wait_event_type = 'Lock'`, e.g. the job's counter
row held by another item's transaction).

Prints items/s from the first finished item to the last (and over the whole job), and the
share of active-backend samples that were waiting on a lock.

    .venv/bin/python bench/optimize_job_throughput.py [--products 5000] [--processes 2]
        [--threads 8] [--marketplace amazon]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time

import httpx
import psycopg
import redis
from _support import Scratch, listingflow_bin, machine_lines, run_cli, server, stop_group, tail
from list_latency import fill


class BrokerScratch(Scratch):
    """The scratch database with Redis as cache and broker; abuse limits off."""

    redis_url = ""

    def env(self) -> dict[str, str]:
        env = super().env()
        env["LISTINGFLOW_REDIS_URL"] = self.redis_url
        env["LISTINGFLOW_BROKER_URL"] = self.redis_url
        env["LISTINGFLOW_JOB_WAIT_SECONDS"] = "0"
        env["LISTINGFLOW_RATE_LIMIT_PER_KEY"] = ""
        env["LISTINGFLOW_RATE_LIMIT_PER_IP"] = ""
        return env


class LockSampler(threading.Thread):
    """Counts, every 0.1 s, this database's active backends and those waiting on a lock."""

    def __init__(self, url: str, database: str) -> None:
        super().__init__(daemon=True)
        self.url, self.database = url, database
        self.active = self.waiting = 0
        self.done = threading.Event()

    def run(self) -> None:
        query = (
            "SELECT count(*) FILTER (WHERE state = 'active'), "
            "count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock') "
            "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
        )
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.done.wait(0.1):
                row = conn.execute(query, (self.database,)).fetchone()
                if row:
                    self.active += int(row[0])
                    self.waiting += int(row[1])


def product_ids(base: str, key: str) -> list[int]:
    ids: list[int] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"page_size": 100}
        if cursor:
            params["cursor"] = cursor
        page = httpx.get(
            f"{base}/api/products", params=params, headers={"X-API-Key": key}, timeout=60
        ).json()
        ids += [item["id"] for item in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            return ids


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--products", type=int, default=5_000)
    parser.add_argument("--processes", type=int, default=2, help="worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per worker process")
    parser.add_argument("--marketplace", default="amazon")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/6", help="flushed first")
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds for the job")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    r = redis.Redis.from_url(args.redis_url)
    r.flushdb()
    try:
        with BrokerScratch("postgresql", None, args.pg_admin_url) as scratch:
            scratch.redis_url = args.redis_url
            print(f"Batch-optimize job: {args.products:,} products on PostgreSQL, Redis broker")
            for line in machine_lines(scratch.url):
                print("  " + line)
            fill(scratch, args.products, chunk=1000, spread_days=30.0)
            key = run_cli(scratch, "apikey", "create", "--name", "bench").strip()
            worker_log = scratch.dir / "worker.log"
            with server(scratch, 1) as (base, _pid), worker_log.open("wb") as log:
                worker = subprocess.Popen(
                    [
                        listingflow_bin(),
                        "worker",
                        "--processes",
                        str(args.processes),
                        "--threads",
                        str(args.threads),
                    ],
                    env=scratch.env(),
                    cwd=scratch.dir,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                try:
                    ids = product_ids(base, key)
                    time.sleep(3)  # the workers' start-up is not the job's
                    sampler = LockSampler(args.pg_admin_url, scratch.url.rsplit("/", 1)[1])
                    sampler.start()
                    started = time.perf_counter()
                    answer = httpx.post(
                        f"{base}/api/ai/batch-optimize",
                        json={"product_ids": ids, "target_marketplace": args.marketplace},
                        headers={"X-API-Key": key},
                        timeout=120,
                    )
                    answer.raise_for_status()
                    job_id = answer.json()["job_id"]
                    first = None
                    while True:
                        job = httpx.get(
                            f"{base}/api/jobs/{job_id}", headers={"X-API-Key": key}, timeout=30
                        ).json()
                        now = time.perf_counter()
                        if first is None and job["processed"] > 0:
                            first = (now, job["processed"])
                        if job["status"] not in ("pending", "running"):
                            break
                        if now - started > args.timeout:
                            raise RuntimeError(f"job not done in {args.timeout:g} s: {job}")
                        if worker.poll() is not None:
                            raise RuntimeError(f"worker exited:\n{tail(worker_log)}")
                        time.sleep(0.2)
                    sampler.done.set()
                    sampler.join()
                finally:
                    stop_group(worker)  # the whole group: dramatiq's forked processes too
    finally:
        r.flushdb()
        r.close()
    total = now - started  # to the poll that saw the job finished, not the clean-up after it
    assert first is not None
    span = now - first[0]
    steady = (job["processed"] - first[1]) / span if span > 0 else float(job["processed"])
    waiting = sampler.waiting / sampler.active if sampler.active else 0.0
    print(
        f"  {args.processes} worker processes x {args.threads} threads, offline optimizer, "
        f"{args.marketplace}; cpu count {os.cpu_count()}"
    )
    print()
    print(
        "| items | succeeded | failed | items/s (first to last) | items/s (whole job) "
        "| active backends waiting on a lock |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {job['total']:,} | {job['succeeded']:,} | {job['failed']:,} | {steady:,.0f} "
        f"| {job['total'] / total:,.0f} | {waiting:.0%} of {sampler.active:,} samples |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
