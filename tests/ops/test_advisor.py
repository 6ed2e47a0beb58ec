"""The scaling advisor's judgement (pure): every threshold band of the guide, the sustained-CPU
rule, the queue rule, the LLM quota, the overall verdict, and p95 from histogram buckets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from listingflow.ops.advisor import (
    GUIDE,
    Readings,
    Status,
    advise,
    judge_cpu,
    judge_queue,
    quantile_from_buckets,
)
from listingflow.ops.resources import CpuReading
from listingflow.ops.service import Sample, window_readings

TEN_MIN = 600.0


def finding(readings: Readings, signal: str) -> Status:
    return next(f for f in advise(readings).findings if f.signal == signal).status


@pytest.mark.parametrize(
    ("memory", "status"),
    [(79.9, Status.HEALTHY), (80, Status.WATCH), (90, Status.WATCH), (90.1, Status.SCALE)],
)
def test_memory_bands(memory: float, status: Status) -> None:
    assert finding(Readings(TEN_MIN, memory_percent=memory), "memory") is status


@pytest.mark.parametrize(
    ("p95", "status"),
    [(499, Status.HEALTHY), (500, Status.WATCH), (1000, Status.WATCH), (1001, Status.SCALE)],
)
def test_p95_bands(p95: float, status: Status) -> None:
    assert finding(Readings(TEN_MIN, p95_ms=p95), "p95") is status


@pytest.mark.parametrize(
    ("in_use", "status"),
    [(79, Status.HEALTHY), (80, Status.WATCH), (90, Status.WATCH), (91, Status.SCALE)],
)
def test_db_connection_bands(in_use: int, status: Status) -> None:
    readings = Readings(TEN_MIN, db_connections_in_use=in_use, db_connections_max=100)
    assert finding(readings, "db_connections") is status


@pytest.mark.parametrize(
    ("errors", "status"),
    [(9, Status.HEALTHY), (10, Status.WATCH), (50, Status.WATCH), (51, Status.SCALE)],
)
def test_error_rate_bands(errors: int, status: Status) -> None:
    readings = Readings(TEN_MIN, requests=1000, errors=errors)
    assert finding(readings, "error_rate") is status


@pytest.mark.parametrize(
    ("calls", "status"),
    [(699, Status.HEALTHY), (700, Status.WATCH), (900, Status.WATCH), (901, Status.SCALE)],
)
def test_llm_quota_bands(calls: int, status: Status) -> None:
    readings = Readings(TEN_MIN, llm_calls_today=calls, llm_daily_limit=1000)
    assert finding(readings, "llm_quota") is status


@pytest.mark.parametrize(
    ("mean", "low", "window", "status"),
    [
        (69.9, 60, TEN_MIN, Status.HEALTHY),
        (70, 70, TEN_MIN, Status.WATCH),
        (80, 80, TEN_MIN, Status.WATCH),  # not above 80
        (95, 81, TEN_MIN, Status.SCALE),  # above 80 for all of 10 minutes
        (95, 81, 599, Status.WATCH),  # above 80, but not for 10 minutes yet
        (90, 50, TEN_MIN, Status.WATCH),  # a spike, not consistently above 80
    ],
)
def test_cpu_must_stay_above_80_for_10_minutes(
    mean: float, low: float, window: float, status: Status
) -> None:
    readings = Readings(window, cpu_percent=mean, cpu_min_percent=low)
    assert judge_cpu(readings).status is status


@pytest.mark.parametrize(
    ("waiting", "status"),
    [
        (0, Status.HEALTHY),
        (9, Status.HEALTHY),
        (10, Status.WATCH),
        (100, Status.WATCH),
        (101, Status.SCALE),
    ],
)
def test_queue_follows_the_autoscalers_rule(waiting: int, status: Status) -> None:
    found = judge_queue(Readings(TEN_MIN, queue_waiting=waiting))
    assert found.status is status
    assert found.target == "workers"


def test_nothing_measured_is_unknown_not_healthy() -> None:
    advice = advise(Readings(0.0))
    assert advice.status is Status.UNKNOWN
    assert all(f.status is Status.UNKNOWN for f in advice.findings)
    assert advice.summary() == "no readings yet"


def test_each_signal_names_what_to_scale() -> None:
    readings = Readings(
        TEN_MIN,
        cpu_percent=95,
        cpu_min_percent=90,
        memory_percent=95,
        p95_ms=2000,
        requests=100,
        errors=10,
        db_connections_in_use=19,
        db_connections_max=20,
        queue_waiting=500,
        llm_calls_today=990,
        llm_daily_limit=1000,
    )
    advice = advise(readings)
    assert advice.status is Status.SCALE
    targets = {f.signal: f.target for f in advice.scale}
    assert targets == {
        "cpu": "API replicas",
        "memory": "API instance memory",
        "p95": "API replicas",
        "db_connections": "database",
        "error_rate": "API replicas",
        "queue": "workers",
        "llm_quota": "LLM plan",
    }
    assert advice.summary().startswith("scale now: ")


_percent = st.floats(min_value=0, max_value=100, allow_nan=False)


@given(memory=_percent, p95=st.floats(0, 10_000), errors=st.integers(0, 1000))
def test_overall_status_is_the_worst_finding(memory: float, p95: float, errors: int) -> None:
    advice = advise(
        Readings(TEN_MIN, memory_percent=memory, p95_ms=p95, requests=1000, errors=errors)
    )
    rank = [Status.UNKNOWN, Status.HEALTHY, Status.WATCH, Status.SCALE]
    assert advice.status == max((f.status for f in advice.findings), key=rank.index)


@given(value=st.floats(min_value=0, max_value=200, allow_nan=False))
def test_bands_are_monotonic(value: float) -> None:
    rank = [Status.HEALTHY, Status.WATCH, Status.SCALE]
    for band in (GUIDE.memory, GUIDE.p95_ms, GUIDE.db_connections, GUIDE.error_rate):
        assert rank.index(band.judge(value)) <= rank.index(band.judge(value + 1))


def test_p95_from_buckets_interpolates_like_histogram_quantile() -> None:
    # 100 requests: 90 under 0.1 s, 10 between 0.1 and 0.5 s.
    buckets = [(0.1, 90.0), (0.5, 100.0), (float("inf"), 100.0)]
    assert quantile_from_buckets(0.95, buckets) == pytest.approx(0.3)
    assert quantile_from_buckets(0.5, buckets) == pytest.approx(0.1 * 50 / 90)
    assert quantile_from_buckets(0.95, [(0.1, 0.0), (float("inf"), 0.0)]) is None


@given(counts=st.lists(st.integers(0, 50), min_size=3, max_size=12))
def test_p95_lies_within_the_bucket_bounds(counts: list[int]) -> None:
    bounds = [0.005 * 2**i for i in range(len(counts))]
    cumulative, total = [], 0
    for bound, count in zip(bounds, counts, strict=True):
        total += count
        cumulative.append((bound, float(total)))
    p95 = quantile_from_buckets(0.95, [*cumulative, (float("inf"), float(total))])
    if total == 0:
        assert p95 is None
    else:
        assert p95 is not None
        assert 0 <= p95 <= bounds[-1]


def _sample(at: float, busy: float, requests: float, slow: float) -> Sample:
    return Sample(
        at=at,
        cpu=CpuReading(busy, 2.0),
        memory_percent=50.0,
        requests=requests,
        errors=0.0,
        latency_buckets=((0.5, requests - slow), (1.0, requests), (float("inf"), requests)),
        pool_in_use=3.0,
        pool_max=20.0,
        queues={"bulk": 5, "llm": 7},
        llm_calls_today=None,
        llm_daily_limit=None,
    )


def test_window_readings_are_differences_over_the_window() -> None:
    # Two cores; 1.8 busy seconds per wall second = 90% in every interval.
    samples = [_sample(t, 1.8 * t, 10.0 * t, 1.0 * t) for t in range(0, 901, 60)]
    readings = window_readings(samples, TEN_MIN)
    assert readings.window_seconds == TEN_MIN
    assert readings.cpu_percent == pytest.approx(90)
    assert readings.cpu_min_percent == pytest.approx(90)
    assert readings.requests == 6000
    assert readings.queue_waiting == 12
    assert readings.db_connections_percent == pytest.approx(15)
    assert readings.p95_ms is not None and 500 < readings.p95_ms <= 1000  # 10% over 0.5 s
    assert judge_cpu(readings).status is Status.SCALE
