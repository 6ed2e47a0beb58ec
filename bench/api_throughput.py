"""API throughput: our cached dashboard stats and a product list page beside a bare FastAPI app
that returns the same bytes from memory, on the same machine, through the same load client.

A fresh PostgreSQL database is migrated and filled with N products (default 1,000,000) by the
set-based fill of bench/list_latency.py; `listingflow serve --workers 2` runs with the Redis
cache (LISTINGFLOW_REDIS_URL) and an API key. The bodies of `GET /api/products/stats/summary`
(the v1 dashboard stats) and `GET /api/products?page_size=20` are fetched once (this also fills
the cache), then a bare FastAPI app (2 uvicorn workers, no middleware, no auth, no database)
serves exactly those bytes. Each of the four targets gets --seconds of load from wrk (2
threads, --connections connections, keep-alive; a Python asyncio client in its own process
when wrk is missing), after a short warm-up; wrk's own p95 comes from a Lua `done` hook. The
API key is sent to both apps. Everything created is removed at the end. Our app runs with its
response cache (LISTINGFLOW_RESPONSE_CACHE_SECONDS, 5 s by default: a repeated read is replayed
from the process's memory after the abuse limits, the key and the workspace's generation are
checked); `--response-cache-seconds 0` measures the full stack on every request.

Targets (issue 7): stats at least 40% of the bare app's requests/s, the list page at least 20%,
both with p95 at most 50 ms.

    .venv/bin/python bench/api_throughput.py [--rows 1000000] [--seconds 10] [--connections 64]
        [--response-cache-seconds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import redis
from _support import Scratch, free_port, machine_lines, run_cli, server, stop, tail
from list_latency import fill

STATS = "/api/products/stats/summary"
LIST = "/api/products?page_size=20"

WRK_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("LF p50_us=%d p95_us=%d requests=%d errors=%d\\n",
    latency:percentile(50), latency:percentile(95), summary.requests,
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""

BARE_APP = """
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import Response

HERE = Path(__file__).parent
STATS = (HERE / "stats.json").read_bytes()
LIST = (HERE / "list.json").read_bytes()
app = FastAPI()


@app.get("/api/products/stats/summary")
async def stats() -> Response:
    return Response(STATS, media_type="application/json")


@app.get("/api/products")
async def products() -> Response:
    return Response(LIST, media_type="application/json")
"""

PY_CLIENT = """
import asyncio, json, sys, time
import httpx

url, key, seconds, connections = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])


async def main():
    latencies, errors = [], 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(headers={"X-API-Key": key}, limits=limits, timeout=30) as c:
        stop = time.monotonic() + seconds

        async def user():
            nonlocal errors
            while time.monotonic() < stop:
                t = time.perf_counter()
                r = await c.get(url)
                latencies.append(time.perf_counter() - t)
                errors += r.status_code >= 400

        started = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    print(json.dumps({"requests": len(latencies), "errors": errors, "seconds": elapsed,
        "p50": latencies[len(latencies) // 2], "p95": latencies[int(len(latencies) * 0.95)]}))


asyncio.run(main())
"""


@dataclass(slots=True)
class Load:
    requests_per_second: float
    p50_ms: float
    p95_ms: float
    requests: int
    errors: int


def run_wrk(url: str, key: str, seconds: float, connections: int, lua: Path) -> Load:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(lua),
            "-H",
            f"X-API-Key: {key}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    mine = re.search(r"LF p50_us=(\d+) p95_us=(\d+) requests=(\d+) errors=(\d+)", out)
    if not rate or not mine:
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    return Load(
        float(rate.group(1)),
        int(mine.group(1)) / 1000,
        int(mine.group(2)) / 1000,
        int(mine.group(3)),
        int(mine.group(4)),
    )


def run_python_client(url: str, key: str, seconds: float, connections: int, path: Path) -> Load:
    out = subprocess.run(
        [sys.executable, str(path), url, key, str(seconds), str(connections)],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 120,
    ).stdout
    data = json.loads(out.strip().splitlines()[-1])
    return Load(
        data["requests"] / data["seconds"],
        data["p50"] * 1000,
        data["p95"] * 1000,
        data["requests"],
        data["errors"],
    )


@contextlib.contextmanager
def bare_server(directory: Path, workers: int) -> Iterator[str]:
    port = free_port()
    log_path = directory / "bare.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bare_app:app",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=directory,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"bare app exited {proc.returncode}:\n{tail(log_path)}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}{STATS}", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"bare app did not start:\n{tail(log_path)}")
            time.sleep(0.2)
        yield base
    finally:
        stop(proc)


class RedisScratch(Scratch):
    """The scratch database, served with the Redis cache."""

    redis_url = ""

    def env(self) -> dict[str, str]:
        env = super().env()
        env["LISTINGFLOW_REDIS_URL"] = self.redis_url
        # The abuse limits (600 requests/minute per key by default) would answer 429 to a load
        # test; they are off here so the figure is the serving path's own.
        env["LISTINGFLOW_RATE_LIMIT_PER_KEY"] = ""
        env["LISTINGFLOW_RATE_LIMIT_PER_IP"] = ""
        return env


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="load per target")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured load first")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2, help="API and bare app processes")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5", help="flushed first")
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--response-cache-seconds",
        type=float,
        default=5.0,
        help="LISTINGFLOW_RESPONSE_CACHE_SECONDS for our app (the default; 0 measures the full "
        "stack on every request)",
    )
    return parser.parse_args(argv)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
    client_name = "wrk 2 threads" if use_wrk else "Python asyncio httpx client, own process"
    results: dict[tuple[str, str], Load] = {}
    sizes: dict[str, int] = {}
    try:
        r = redis.Redis.from_url(args.redis_url)
        r.flushdb()
        r.close()
        with RedisScratch("postgresql", args.workdir, args.pg_admin_url) as scratch:
            scratch.redis_url = args.redis_url
            print(f"ListingFlow API throughput: {args.rows:,} products on PostgreSQL, Redis cache")
            for line in machine_lines(scratch.url):
                print("  " + line)
            print(f"filling {args.rows:,} rows ...", file=sys.stderr)
            seconds = fill(scratch, args.rows, chunk=1000, spread_days=365.0)
            print(f"  fill: {seconds:.1f} s")
            key = run_cli(scratch, "apikey", "create", "--name", "bench").strip()
            lua = scratch.dir / "report.lua"
            lua.write_text(WRK_LUA)
            py_client = scratch.dir / "client.py"
            py_client.write_text(textwrap.dedent(PY_CLIENT))

            def load(url: str, seconds: float) -> Load:
                if use_wrk:
                    return run_wrk(url, key, seconds, args.connections, lua)
                return run_python_client(url, key, seconds, args.connections, py_client)

            settings = {"LISTINGFLOW_RESPONSE_CACHE_SECONDS": f"{args.response_cache_seconds:g}"}
            with server(scratch, args.workers, settings) as (base, _pid):
                for name, path in (("stats", STATS), ("list", LIST)):
                    response = httpx.get(f"{base}{path}", headers={"X-API-Key": key}, timeout=120)
                    response.raise_for_status()
                    (scratch.dir / f"{name}.json").write_bytes(response.content)
                    sizes[name] = len(response.content)
                for name, path in (("stats", STATS), ("list", LIST)):
                    print(f"loading ListingFlow {path} ...", file=sys.stderr)
                    load(f"{base}{path}", args.warmup)
                    results[("ours", name)] = load(f"{base}{path}", args.seconds)
            (scratch.dir / "bare_app.py").write_text(BARE_APP)
            with bare_server(scratch.dir, args.workers) as bare:
                for name, path in (("stats", STATS), ("list", LIST)):
                    print(f"loading bare {path} ...", file=sys.stderr)
                    load(f"{bare}{path}", args.warmup)
                    results[("bare", name)] = load(f"{bare}{path}", args.seconds)
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        return 1
    except (RuntimeError, OSError, psycopg.Error, httpx.HTTPError, redis.RedisError) as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        print(f"failed: {exc}\n{exc.stderr}", file=sys.stderr)
        return 1
    print(
        f"  load: {client_name}, {args.connections} connections, {args.seconds:g} s per target "
        f"after {args.warmup:g} s warm-up; {args.workers} server processes each; "
        f"cpu count {os.cpu_count()}; response cache {args.response_cache_seconds:g} s"
    )
    print()
    print(
        "| request | body | ours req/s | bare req/s | ratio | target | ours p50 / p95 ms "
        "| bare p95 ms | errors |"
    )
    print("|---|---:|---:|---:|---:|---|---:|---:|---:|")
    targets = {"stats": 0.40, "list": 0.20}
    labels = {"stats": f"GET {STATS}", "list": f"GET {LIST}"}
    for name in ("stats", "list"):
        ours, bare = results[("ours", name)], results[("bare", name)]
        ratio = ours.requests_per_second / bare.requests_per_second
        met = ratio >= targets[name] and ours.p95_ms <= 50
        print(
            f"| {labels[name]} | {sizes[name]:,} B | {ours.requests_per_second:,.0f} "
            f"| {bare.requests_per_second:,.0f} | {ratio:.0%} "
            f"| ≥ {targets[name]:.0%}, p95 ≤ 50 ms: {'met' if met else 'NOT met'} "
            f"| {ours.p50_ms:.1f} / {ours.p95_ms:.1f} | {bare.p95_ms:.1f} "
            f"| {ours.errors + bare.errors} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
