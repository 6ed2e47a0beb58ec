"""GET /metrics in the Prometheus text format: the counters of `kit/metrics.py` (requests and
latency per route template, errors, cache, LLM, marketplaces), the database pool, queue depth
per queue, jobs by status, CPU and memory, and prometheus-client's process collector.

Figures read at scrape time (queue depth, jobs by status, CPU and memory) come from a snapshot
the endpoint refreshes just before rendering. With several processes behind one port (`listingflow
serve --workers N` sets PROMETHEUS_MULTIPROC_DIR) counters and histograms are summed over the
processes by prometheus-client's multiprocess mode; the process collector (one process's CPU
and memory) is then left out, and the replica-wide CPU and memory gauges stand for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import dramatiq
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from listingflow.db import Database
from listingflow.kit.metrics import DB_POOL_IN_USE, DB_POOL_SIZE, DB_QUERIES
from listingflow.ops import autoscaler
from listingflow.ops.repository import ops_repository
from listingflow.worker.broker import QUEUES

CONTENT_TYPE = CONTENT_TYPE_LATEST


def multiprocess_dir() -> str | None:
    """prometheus-client's own switch (it reads the variable itself, so we read it too)."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


# --- database pool and queries -----------------------------------------------------------------


def _pool_max(engine: AsyncEngine) -> int:
    pool: Any = engine.sync_engine.pool
    size = pool.size() if hasattr(pool, "size") else 0
    return int(size) + max(int(getattr(pool, "_max_overflow", 0)), 0)


def instrument_database(database: Database) -> None:
    """Count connections checked out of each pool, the pool's ceiling, and statements sent."""
    engines = {"primary": database.engine}
    if database.read_engine is not database.engine:
        engines["replica"] = database.read_engine
    for name, engine in engines.items():
        in_use = DB_POOL_IN_USE.labels(name)
        queries = DB_QUERIES.labels(name)
        DB_POOL_SIZE.labels(name).inc(_pool_max(engine))

        def checkout(*_: Any, gauge: Any = in_use) -> None:
            gauge.inc()

        def checkin(*_: Any, gauge: Any = in_use) -> None:
            gauge.dec()

        def executed(*_: Any, counter: Any = queries) -> None:
            counter.inc()

        event.listen(engine.sync_engine, "checkout", checkout)
        event.listen(engine.sync_engine, "checkin", checkin)
        event.listen(engine.sync_engine, "before_cursor_execute", executed)
    database.metrics_engines = engines  # type: ignore[attr-defined]


def release_database(database: Database) -> None:
    """The pool's ceiling leaves the sum when its engine is disposed (app shutdown)."""
    for name, engine in getattr(database, "metrics_engines", {}).items():
        DB_POOL_SIZE.labels(name).dec(_pool_max(engine))


# --- queues, jobs, CPU and memory: read at scrape time ------------------------------------------


def queue_depths(broker_url: str | None, broker: dramatiq.Broker | None) -> dict[str, int] | None:
    """Messages waiting per queue (delayed ones included): the Redis or RabbitMQ broker, or the
    in-process broker's own queues. Blocking on a remote broker: call it in a thread."""
    if broker_url:
        return {q: autoscaler.queue_depth(broker_url, (q,)) for q in QUEUES}
    queues = getattr(broker, "queues", None)
    if not isinstance(queues, dict):
        return None
    return {
        q: sum(queues[name].qsize() for name in (q, f"{q}.DQ") if name in queues) for q in QUEUES
    }


@dataclass
class Snapshot:
    taken_at: float = 0.0
    queues: dict[str, int] | None = None
    jobs: dict[str, int] = field(default_factory=dict)
    cpu_percent: float | None = None
    memory_percent: float | None = None


class ScrapeCollector(Collector):
    """Yields the latest snapshot as gauges; registered once per registry."""

    def __init__(self) -> None:
        self.snapshot = Snapshot()

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        if snap.queues is not None:
            depth = GaugeMetricFamily(
                "listingflow_queue_depth",
                "Messages waiting per queue, delayed ones included.",
                labels=["queue"],
            )
            for queue, waiting in sorted(snap.queues.items()):
                depth.add_metric([queue], waiting)
            yield depth
        jobs = GaugeMetricFamily("listingflow_jobs", "Jobs by status.", labels=["status"])
        for status in ("pending", "running", "completed", "failed", "cancelled"):
            jobs.add_metric([status], snap.jobs.get(status, 0))
        yield jobs
        if snap.cpu_percent is not None:
            yield GaugeMetricFamily(
                "listingflow_cpu_usage_ratio",
                "CPU used by this replica (container or machine) over the advisor's last "
                "sample interval, 0-1 of its cores.",
                value=snap.cpu_percent / 100,
            )
        if snap.memory_percent is not None:
            yield GaugeMetricFamily(
                "listingflow_memory_usage_ratio",
                "Memory in use by this replica (container limit, else the machine), 0-1.",
                value=snap.memory_percent / 100,
            )


scrape_collector = ScrapeCollector()
REGISTRY.register(scrape_collector)


async def refresh(
    database: Database,
    broker_url: str | None,
    broker: dramatiq.Broker | None,
    *,
    cpu_percent: float | None,
    memory_percent: float | None,
) -> Snapshot:
    """Read the scrape-time figures now (one grouped query, one broker round per queue)."""
    async with database.read_sessionmaker() as session:
        jobs = await ops_repository.jobs_by_status(session)
    if broker_url:
        queues = await asyncio.to_thread(queue_depths, broker_url, broker)
    else:
        queues = queue_depths(None, broker)
    snapshot = Snapshot(time.monotonic(), queues, jobs, cpu_percent, memory_percent)
    scrape_collector.snapshot = snapshot
    return snapshot


def registry() -> CollectorRegistry:
    """The registry to read: this process's, or every process's in multiprocess mode."""
    if multiprocess_dir() is None:
        return REGISTRY
    from prometheus_client import multiprocess

    combined = CollectorRegistry()
    multiprocess.MultiProcessCollector(combined)
    combined.register(scrape_collector)
    return combined


def render() -> bytes:
    return generate_latest(registry())


def mark_process_dead() -> None:
    """Multiprocess mode: drop this process's live gauges when it stops."""
    if multiprocess_dir() is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())


@contextlib.contextmanager
def multiprocess_for(workers: int) -> Iterator[None]:
    """`listingflow serve --workers N` (N > 1): the workers share their figures through files in a
    temporary directory (prometheus-client's multiprocess mode), removed when serving stops. One
    process per replica needs none of it. An operator's own PROMETHEUS_MULTIPROC_DIR is kept."""
    if workers <= 1 or multiprocess_dir() is not None:
        yield
        return
    path = tempfile.mkdtemp(prefix="listingflow-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path  # read by the worker processes we spawn
    try:
        yield
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        shutil.rmtree(path, ignore_errors=True)
