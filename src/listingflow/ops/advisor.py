"""The scaling advisor's judgement, pure: readings over a window in, one finding per signal out,
each against the scaling guide's lines, saying what to scale and why.

The guide ("Monitoring for Scale"): healthy below CPU 70%, memory 80%, API p95 500 ms, database
connections 80% of the limit, errors 1%; time to scale at CPU above 80% for 10+ minutes, memory
above 90%, p95 above 1,000 ms, connections above 90%, errors above 5%. In between: watch. Queue
depth follows the autoscaler's rule (above 100 waiting: more workers; below 10: fewer will do).
The LLM quota has no line in the guide: we use 70% / 90% of the daily request limit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from listingflow.ops.autoscaler import Policy


class Status(StrEnum):
    HEALTHY = "healthy"
    WATCH = "watch"
    SCALE = "scale"
    UNKNOWN = "unknown"  # no reading yet (no traffic, not Linux, no broker)


_RANK = {Status.UNKNOWN: 0, Status.HEALTHY: 1, Status.WATCH: 2, Status.SCALE: 3}


@dataclass(frozen=True, slots=True)
class Band:
    """Healthy strictly below `healthy_below`, scale strictly above `scale_above`."""

    healthy_below: float
    scale_above: float

    def judge(self, value: float) -> Status:
        if value < self.healthy_below:
            return Status.HEALTHY
        if value > self.scale_above:
            return Status.SCALE
        return Status.WATCH


@dataclass(frozen=True, slots=True)
class Thresholds:
    cpu: Band = Band(70, 80)
    cpu_sustain_seconds: float = 600  # "for 10+ minutes"
    memory: Band = Band(80, 90)
    p95_ms: Band = Band(500, 1000)
    db_connections: Band = Band(80, 90)
    error_rate: Band = Band(1, 5)
    llm_quota: Band = Band(70, 90)
    queue: Policy = field(default_factory=Policy)


GUIDE = Thresholds()


@dataclass(frozen=True, slots=True)
class Readings:
    """What the metrics said over the last `window_seconds` (None: not measured)."""

    window_seconds: float
    cpu_percent: float | None = None  # mean over the window
    cpu_min_percent: float | None = None  # the lowest sample interval: "consistently" above?
    memory_percent: float | None = None
    p95_ms: float | None = None
    requests: int = 0
    errors: int = 0
    db_connections_in_use: int | None = None
    db_connections_max: int | None = None
    queue_waiting: int | None = None
    llm_calls_today: int | None = None
    llm_daily_limit: int | None = None

    @property
    def error_rate_percent(self) -> float | None:
        return 100.0 * self.errors / self.requests if self.requests else None

    @property
    def db_connections_percent(self) -> float | None:
        if self.db_connections_in_use is None or not self.db_connections_max:
            return None
        return 100.0 * self.db_connections_in_use / self.db_connections_max

    @property
    def llm_quota_percent(self) -> float | None:
        if self.llm_calls_today is None or not self.llm_daily_limit:
            return None
        return 100.0 * self.llm_calls_today / self.llm_daily_limit


@dataclass(frozen=True, slots=True)
class Finding:
    signal: str  # cpu, memory, p95, db_connections, error_rate, queue, llm_quota
    status: Status
    value: str  # the reading, for people
    threshold: str  # the guide's lines
    target: str  # what would be scaled: API replicas, workers, database, LLM plan
    reason: str


@dataclass(frozen=True, slots=True)
class Advice:
    status: Status  # the worst finding
    findings: tuple[Finding, ...]

    @property
    def scale(self) -> list[Finding]:
        return [f for f in self.findings if f.status is Status.SCALE]

    @property
    def watch(self) -> list[Finding]:
        return [f for f in self.findings if f.status is Status.WATCH]

    def summary(self) -> str:
        if self.scale:
            return "scale now: " + "; ".join(f"{f.target} ({f.signal})" for f in self.scale)
        if self.watch:
            return "watch: " + "; ".join(f"{f.target} ({f.signal})" for f in self.watch)
        if self.status is Status.UNKNOWN:
            return "no readings yet"
        return "healthy: nothing to scale"


def _fmt(value: float, unit: str) -> str:
    return f"{value:.0f} {unit}" if unit == "ms" else f"{value:.1f}{unit}"


def _band_finding(
    signal: str,
    value: float | None,
    band: Band,
    unit: str,
    target: str,
    actions: dict[Status, str],
) -> Finding:
    lines = f"healthy < {band.healthy_below:g}{unit}, scale > {band.scale_above:g}{unit}"
    if value is None:
        return Finding(signal, Status.UNKNOWN, "-", lines, target, "not measured yet")
    status = band.judge(value)
    return Finding(signal, status, _fmt(value, unit), lines, target, actions[status])


def judge_cpu(readings: Readings, t: Thresholds = GUIDE) -> Finding:
    band, sustain = t.cpu, t.cpu_sustain_seconds
    lines = f"healthy < {band.healthy_below:g}%, scale > {band.scale_above:g}% for {sustain:g} s"
    target = "API replicas"
    mean, low = readings.cpu_percent, readings.cpu_min_percent
    if mean is None:
        return Finding("cpu", Status.UNKNOWN, "-", lines, target, "not measured yet")
    value = _fmt(mean, "%")
    if mean < band.healthy_below:
        return Finding("cpu", Status.HEALTHY, value, lines, target, "CPU has headroom")
    floor = low if low is not None else mean
    if floor > band.scale_above and readings.window_seconds >= sustain:
        return Finding(
            "cpu",
            Status.SCALE,
            value,
            lines,
            target,
            f"CPU above {band.scale_above:g}% for all of the last "
            f"{readings.window_seconds / 60:.0f} min: add an API replica (or a vCPU)",
        )
    if mean > band.scale_above:
        reason = (
            f"CPU above {band.scale_above:g}%, but not for {sustain / 60:.0f} minutes yet "
            f"(lowest {floor:.0f}% over {readings.window_seconds:.0f} s)"
        )
    else:
        reason = "CPU between the healthy and the scale lines"
    return Finding("cpu", Status.WATCH, value, lines, target, reason)


def judge_queue(readings: Readings, t: Thresholds = GUIDE) -> Finding:
    policy = t.queue
    lines = f"fewer workers < {policy.scale_down_below} waiting, more > {policy.scale_up_above}"
    waiting = readings.queue_waiting
    if waiting is None:
        return Finding("queue", Status.UNKNOWN, "-", lines, "workers", "no broker to read")
    if waiting > policy.scale_up_above:
        status, reason = (
            Status.SCALE,
            f"{waiting} messages waiting: add workers (`listingflow autoscale` does it)",
        )
    elif waiting < policy.scale_down_below:
        status, reason = Status.HEALTHY, "workers keep up (fewer would do)"
    else:
        status, reason = Status.WATCH, "a backlog is building"
    return Finding("queue", status, f"{waiting} waiting", lines, "workers", reason)


def advise(readings: Readings, t: Thresholds = GUIDE) -> Advice:
    """One finding per signal and the overall status (the worst one)."""
    findings = (
        judge_cpu(readings, t),
        _band_finding(
            "memory",
            readings.memory_percent,
            t.memory,
            "%",
            "API instance memory",
            {
                Status.HEALTHY: "memory has headroom",
                Status.WATCH: "memory is getting full",
                Status.SCALE: "memory nearly full: give the instances more RAM",
            },
        ),
        _band_finding(
            "p95",
            readings.p95_ms,
            t.p95_ms,
            " ms",
            "API replicas",
            {
                Status.HEALTHY: "responses are fast",
                Status.WATCH: "responses are slowing down",
                Status.SCALE: "p95 over a second: add API replicas (check the database too)",
            },
        ),
        _band_finding(
            "db_connections",
            readings.db_connections_percent,
            t.db_connections,
            "%",
            "database",
            {
                Status.HEALTHY: "connection pool has headroom",
                Status.WATCH: "connection pool filling up",
                Status.SCALE: "pool nearly exhausted: pool through PgBouncer or a bigger "
                "database plan (more API replicas would only queue for connections)",
            },
        ),
        _band_finding(
            "error_rate",
            readings.error_rate_percent,
            t.error_rate,
            "%",
            "API replicas",
            {
                Status.HEALTHY: "few errors",
                Status.WATCH: "errors rising: read the logs",
                Status.SCALE: "errors above 5%: read the logs first; scale the API if they "
                "are timeouts under load",
            },
        ),
        judge_queue(readings, t),
        _band_finding(
            "llm_quota",
            readings.llm_quota_percent,
            t.llm_quota,
            "%",
            "LLM plan",
            {
                Status.HEALTHY: "daily LLM quota has room",
                Status.WATCH: "most of today's LLM quota is used",
                Status.SCALE: "today's LLM quota is nearly spent: a paid plan or a second "
                "provider (the offline engine takes over meanwhile)",
            },
        ),
    )
    worst = max((f.status for f in findings), key=_RANK.__getitem__)
    return Advice(worst, findings)


def quantile_from_buckets(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """The q-quantile of a Prometheus histogram from cumulative (upper bound, count) pairs,
    interpolated within the bucket as PromQL's histogram_quantile does. None without data."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    total = ordered[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # beyond the last finite bucket: its bound is all we know
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return ordered[-1][0]
