"""The autoscaler: the guide's rule as a pure decision, and real workers started and stopped
by queue depth on Redis."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from listingflow.cli.main import app as cli
from listingflow.config import Settings
from listingflow.ops.autoscaler import (
    Autoscaler,
    CommandBackend,
    LocalBackend,
    Policy,
    decide,
    queue_depth,
)
from listingflow.tasks import ACTOR_FOR_KIND
from listingflow.worker.broker import setup_broker

POLICY = Policy(min_replicas=1, max_replicas=3, step=1, cooldown=30)


@pytest.mark.parametrize(
    ("waiting", "current", "since", "replicas"),
    [
        (101, 1, None, 2),  # above 100: up one step
        (100, 1, None, 1),  # not above: keep
        (500, 3, None, 3),  # at the maximum
        (9, 2, None, 1),  # below 10: down
        (9, 1, None, 1),  # at the minimum
        (500, 1, 5.0, 1),  # cooling down
        (0, 7, None, 3),  # outside the bounds: brought back at once
    ],
)
def test_decide_follows_the_guides_rule(
    waiting: int, current: int, since: float | None, replicas: int
) -> None:
    assert decide(waiting, current, POLICY, since_last_change=since).replicas == replicas


def test_local_workers_start_above_100_waiting_and_stop_below_10(
    settings: Settings, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.broker_url = redis_url
    broker = setup_broker(settings)
    broker.flush_all()
    actor = ACTOR_FOR_KIND["optimize"]
    for item_id in range(1_000_000, 1_000_150):  # no such items: each message is a quick no-op
        actor.send(item_id)
    monkeypatch.setenv("LISTINGFLOW_BROKER_URL", redis_url)
    monkeypatch.setenv("LISTINGFLOW_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LISTINGFLOW_LOG_LEVEL", "WARNING")
    backend = LocalBackend(threads=4)
    scaler = Autoscaler(
        broker_url=redis_url,
        queues=("bulk",),
        backend=backend,
        policy=Policy(min_replicas=0, max_replicas=2, step=1, cooldown=0),
    )
    try:
        assert queue_depth(redis_url, ("bulk",)) == 150
        assert scaler.step().replicas == 1
        assert backend.current() == 1
        deadline = time.monotonic() + 60
        while queue_depth(redis_url, ("bulk",)) >= 10 and time.monotonic() < deadline:
            time.sleep(0.2)
        decision = scaler.step()
        assert decision.replicas == 0, decision.reason
        assert backend.current() == 0
    finally:
        backend.close()


def test_command_backend_runs_the_operators_template(tmp_path: Path) -> None:
    target = tmp_path / "replicas.txt"
    template = f"{sys.executable} -c \"open('{target}', 'w').write('{{replicas}}')\""
    backend = CommandBackend(template, replicas=1)
    backend.scale(4)
    assert target.read_text() == "4"
    assert backend.current() == 4


def test_autoscale_needs_a_broker(settings: Settings) -> None:
    result = CliRunner().invoke(cli, ["autoscale", "--once"])
    assert result.exit_code == 2
    assert "LISTINGFLOW_BROKER_URL" in result.stderr


def test_autoscale_dry_run_only_prints(settings: Settings, redis_url: str) -> None:
    settings.broker_url = redis_url
    result = CliRunner().invoke(cli, ["autoscale", "--once", "--dry-run", "--min", "0"])
    assert result.exit_code == 0, result.output
    assert "waiting" in result.stdout
