"""Ops use cases: sample the metrics into a small in-process ring, turn a window of samples
into the advisor's readings, and report status; the growth-stage figures from the database.

Every API process samples on its own (every `ops_sample_interval` seconds, keeping
`ops_window` seconds): counters are cumulative, so the window's figures are differences between
its first and last sample. In multiprocess mode the counters read are every process's sum.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import dramatiq
import structlog
from prometheus_client import CollectorRegistry

from listingflow.config import Settings
from listingflow.db import Database
from listingflow.kit.models import utcnow
from listingflow.ops import metrics as ops_metrics
from listingflow.ops.advisor import Advice, Readings, advise, quantile_from_buckets
from listingflow.ops.repository import ops_repository
from listingflow.ops.resources import CpuReading, cpu_percent, cpu_reading, memory_percent
from listingflow.ops.stage import Activity

log = structlog.get_logger()

# The advisor's own traffic is not the application's.
_SELF_ROUTES = frozenset({"/metrics", "/api/ops/status"})


@dataclass(frozen=True, slots=True)
class Sample:
    at: float  # monotonic seconds
    cpu: CpuReading | None
    memory_percent: float | None
    requests: float
    errors: float
    latency_buckets: tuple[tuple[float, float], ...]  # cumulative (upper bound s, count)
    pool_in_use: float | None
    pool_max: float | None
    queues: dict[str, int] | None
    llm_calls_today: int | None
    llm_daily_limit: int | None


def read_counters(registry: CollectorRegistry) -> dict[str, Any]:
    """Requests, 5xx, latency buckets (summed over routes) and the pool, from a registry."""
    requests = errors = 0.0
    buckets: dict[float, float] = {}
    pool_in_use = pool_max = None
    for metric in registry.collect():
        for s in metric.samples:
            route = s.labels.get("route")
            if route in _SELF_ROUTES:
                continue
            if s.name == "listingflow_http_requests_total":
                requests += s.value
            elif s.name == "listingflow_http_errors_total":
                errors += s.value
            elif s.name == "listingflow_http_request_duration_seconds_bucket":
                bound = float(s.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + s.value
            elif s.name == "listingflow_db_pool_connections_in_use":
                pool_in_use = (pool_in_use or 0.0) + s.value
            elif s.name == "listingflow_db_pool_connections_max":
                pool_max = (pool_max or 0.0) + s.value
    return {
        "requests": requests,
        "errors": errors,
        "buckets": tuple(sorted(buckets.items())),
        "pool_in_use": pool_in_use,
        "pool_max": pool_max,
    }


def window_readings(samples: list[Sample], window: float) -> Readings:
    """The advisor's readings from the samples of the last `window` seconds."""
    if not samples:
        return Readings(window_seconds=0.0)
    last = samples[-1]
    inside = [s for s in samples if s.at >= last.at - window - 1e-9]
    first = inside[0]
    span = last.at - first.at
    cpus: list[float] = []
    for before, after in itertools.pairwise(inside):
        if before.cpu is not None and after.cpu is not None and after.at - before.at >= 1:
            cpus.append(cpu_percent(before.cpu, after.cpu, after.at - before.at))
    # CPU over less than a second is noise: no reading until the window holds one.
    cpu_mean = (
        cpu_percent(first.cpu, last.cpu, span) if first.cpu and last.cpu and span >= 1 else None
    )
    delta = [
        (bound, count - dict(first.latency_buckets).get(bound, 0.0))
        for bound, count in last.latency_buckets
    ]
    p95 = quantile_from_buckets(0.95, delta)
    return Readings(
        window_seconds=span,
        cpu_percent=cpu_mean,
        cpu_min_percent=min(cpus) if cpus else None,
        memory_percent=last.memory_percent,
        p95_ms=p95 * 1000 if p95 is not None else None,
        requests=round(last.requests - first.requests),
        errors=round(last.errors - first.errors),
        db_connections_in_use=round(last.pool_in_use) if last.pool_in_use is not None else None,
        db_connections_max=round(last.pool_max) if last.pool_max else None,
        queue_waiting=sum(last.queues.values()) if last.queues is not None else None,
        llm_calls_today=last.llm_calls_today,
        llm_daily_limit=last.llm_daily_limit,
    )


@dataclass
class OpsStatus:
    advice: Advice
    readings: Readings
    queues: dict[str, int] | None
    jobs: dict[str, int]
    samples: int


@dataclass
class OpsService:
    samples: deque[Sample] = field(default_factory=lambda: deque(maxlen=10_000))

    async def take_sample(
        self, database: Database, settings: Settings, broker: dramatiq.Broker | None
    ) -> Sample:
        """Read everything once, refresh the /metrics snapshot, keep the sample in the ring."""
        now = time.monotonic()
        counters = read_counters(ops_metrics.registry())
        cpu = cpu_reading()
        memory = memory_percent()
        previous = self.samples[-1] if self.samples else None
        cpu_now = (
            cpu_percent(previous.cpu, cpu, now - previous.at)
            if previous is not None and previous.cpu is not None and cpu is not None
            else None
        )
        snapshot = await ops_metrics.refresh(
            database,
            settings.broker_url,
            broker,
            cpu_percent=cpu_now,
            memory_percent=memory,
        )
        llm_configured = settings.llm_api_key is not None and bool(
            settings.llm_api_key.get_secret_value()
        )
        calls = None
        if llm_configured:
            async with database.read_sessionmaker() as session:
                calls = await ops_repository.llm_calls_on(session, utcnow().date())
        sample = Sample(
            at=now,
            cpu=cpu,
            memory_percent=memory,
            requests=counters["requests"],
            errors=counters["errors"],
            latency_buckets=counters["buckets"],
            pool_in_use=counters["pool_in_use"],
            pool_max=counters["pool_max"],
            queues=snapshot.queues,
            llm_calls_today=calls,
            llm_daily_limit=settings.llm_rpd if llm_configured else None,
        )
        self.samples.append(sample)
        while self.samples and self.samples[0].at < now - settings.ops_window * 2:
            self.samples.popleft()
        return sample

    async def status(
        self, database: Database, settings: Settings, broker: dramatiq.Broker | None
    ) -> OpsStatus:
        await self.take_sample(database, settings, broker)
        readings = window_readings(list(self.samples), settings.ops_window)
        snapshot = ops_metrics.scrape_collector.snapshot
        return OpsStatus(
            advice=advise(readings),
            readings=readings,
            queues=snapshot.queues,
            jobs=snapshot.jobs,
            samples=len(self.samples),
        )

    async def run_sampler(
        self, database: Database, settings: Settings, broker: dramatiq.Broker | None
    ) -> None:
        """The lifespan's background task: one sample every `ops_sample_interval` seconds."""
        self.samples.clear()  # a new app in this process starts its own window
        while True:
            try:
                await self.take_sample(database, settings, broker)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a broker or database hiccup must not stop sampling
                log.warning("ops.sample_failed", error=repr(exc))
            await asyncio.sleep(settings.ops_sample_interval)

    async def activity(self, database: Database, *, days: int = 7) -> Activity:
        """Users per day, products per month and optimizations per day, from the database.

        Users per day: ListingFlow keeps no per-request log, so this is the larger of (a)
        workspaces active per day (a product created or changed, a job, a listing written, an
        API key used) averaged over `days` days and (b) web users signed in during those days
        divided by `days` (only each user's latest sign-in is stored)."""
        now = utcnow()
        since = now - timedelta(days=days)
        async with database.read_sessionmaker() as session:
            pairs = await ops_repository.active_workspaces_per_day(session, since)
            signed_in = await ops_repository.users_signed_in_since(session, since)
            products = await ops_repository.products_created_since(
                session, now - timedelta(days=30)
            )
            optimizations = await ops_repository.listings_updated_since(session, since)
        return Activity(
            users_per_day=math.ceil(max(pairs, signed_in) / days),
            products_per_month=products,
            optimizations_per_day=math.ceil(optimizations / days),
        )


ops_service = OpsService()
