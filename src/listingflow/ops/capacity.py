"""`listingflow capacity`: a short, bounded self-test on loopback. Starts `listingflow serve` on a
free 127.0.0.1 port against the configured database, sends a few seconds of read requests
(dashboard stats, a product page, one product, health) from concurrent clients, reads the
statements the server sent from its /metrics, and times the offline optimizer on products from
the database (no writes: the optimizer is pure). Only a temporary API key is written, and
revoked at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from listingflow.models import Product
from listingflow.ops.stage import SECONDS_PER_USER_REQUEST
from listingflow.optimization.service import optimization_service, source_of
from listingflow.rules.optimizer import optimize_offline


@dataclass(frozen=True, slots=True)
class CapacityResult:
    seconds: float
    concurrency: int
    requests: int
    errors: int
    p95_ms: float | None
    db_queries: float
    optimizations: int
    optimizer_seconds: float
    llm_rpm: int | None  # the LLM's own ceiling, when an LLM is configured

    @property
    def requests_per_minute(self) -> float:
        return 60.0 * self.requests / self.seconds if self.seconds else 0.0

    @property
    def db_queries_per_second(self) -> float:
        return self.db_queries / self.seconds if self.seconds else 0.0

    @property
    def optimizations_per_minute(self) -> float:
        offline = (
            60.0 * self.optimizations / self.optimizer_seconds if self.optimizer_seconds else 0
        )
        return min(offline, float(self.llm_rpm)) if self.llm_rpm else offline

    @property
    def concurrent_users(self) -> float:
        return self.requests_per_minute / 60.0 * SECONDS_PER_USER_REQUEST


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def served(token: str, *, startup_timeout: float = 60.0) -> Iterator[str]:
    """`listingflow serve` (one worker) on a free loopback port; always stopped."""
    port = free_port()
    env = dict(os.environ)  # the operator's settings, plus a metrics token of this run
    env["LISTINGFLOW_METRICS_TOKEN"] = token
    env.setdefault("LISTINGFLOW_LOG_LEVEL", "WARNING")
    # Capacity, not the abuse limits: a per-key limit would answer 429 to the self-test.
    env["LISTINGFLOW_RATE_LIMIT_PER_KEY"] = ""
    env["LISTINGFLOW_RATE_LIMIT_PER_IP"] = ""
    command = [str(Path(sys.executable).parent / "listingflow"), "serve", "--port", str(port)]
    proc = subprocess.Popen(  # noqa: S603 (our own executable, fixed arguments)
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode} while starting")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer /health in {startup_timeout:.0f} s")
            time.sleep(0.2)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def metric_total(text: str, name: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    )


async def load(
    base: str, api_key: str, paths: list[str], *, seconds: float, concurrency: int
) -> tuple[int, int, list[float]]:
    """`concurrency` clients, each sending the paths in turn until `seconds` pass."""
    latencies: list[float] = []
    errors = 0
    stop_at = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(
        base_url=base, headers={"X-API-Key": api_key}, timeout=30, limits=limits
    ) as client:

        async def user(offset: int) -> None:
            nonlocal errors
            i = offset
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                response = await client.get(paths[i % len(paths)])
                latencies.append(time.perf_counter() - started)
                if response.status_code >= 400:
                    errors += 1
                i += 1

        await asyncio.gather(*(user(n) for n in range(concurrency)))
    return len(latencies), errors, latencies


def optimizer_rate(products: list[Product], seconds: float) -> tuple[int, float]:
    """Offline optimizations (rewrite, validate, score) done in `seconds`, on these products."""
    if not products:
        return 0, 0.0
    sources = [source_of(p) for p in products]
    done = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        source = sources[done % len(sources)]
        draft = optimize_offline(source, "amazon")
        optimization_service.assess(draft, "amazon", source)
        done += 1
    return done, time.perf_counter() - started


def measure(
    api_key: str,
    paths: list[str],
    products: list[Product],
    *,
    seconds: float,
    concurrency: int,
    llm_rpm: int | None,
) -> CapacityResult:
    token = secrets.token_urlsafe(24)
    auth = {"Authorization": f"Bearer {token}"}
    with served(token) as base:
        for path in paths:  # warm the caches: steady state is what capacity means
            httpx.get(f"{base}{path}", headers={"X-API-Key": api_key}, timeout=30)
        before = httpx.get(f"{base}/metrics", headers=auth, timeout=30).text
        started = time.perf_counter()
        count, errors, latencies = asyncio.run(
            load(base, api_key, paths, seconds=seconds, concurrency=concurrency)
        )
        elapsed = time.perf_counter() - started
        after = httpx.get(f"{base}/metrics", headers=auth, timeout=30).text
    queries = metric_total(after, "listingflow_db_queries_total") - metric_total(
        before, "listingflow_db_queries_total"
    )
    p95 = (
        statistics.quantiles(latencies, n=20, method="inclusive")[18] * 1000
        if len(latencies) >= 2
        else None
    )
    optimizations, optimizer_seconds = optimizer_rate(products, min(seconds, 2.0))
    return CapacityResult(
        seconds=elapsed,
        concurrency=concurrency,
        requests=count,
        errors=errors,
        p95_ms=p95,
        db_queries=queries,
        optimizations=optimizations,
        optimizer_seconds=optimizer_seconds,
        llm_rpm=llm_rpm,
    )
