"""Worker autoscaling by queue depth, the scaling guide's rule: above 100 waiting scale up,
below 10 scale down; min, max, step and cooldown are settings of the command.

A backend applies the decision: `local` starts and stops `listingflow worker` processes on this
machine; `command` runs the operator's template (`kubectl scale deployment/worker
--replicas={replicas}`, a PaaS CLI). Every decision is logged with its reason.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import structlog

log = structlog.get_logger()


@dataclass(frozen=True)
class Policy:
    min_replicas: int = 1
    max_replicas: int = 5
    step: int = 1
    scale_up_above: int = 100
    scale_down_below: int = 10
    cooldown: float = 60.0


@dataclass(frozen=True)
class Decision:
    replicas: int
    reason: str

    @property
    def changes(self) -> bool:
        return "keep" not in self.reason


def decide(
    waiting: int, current: int, policy: Policy, *, since_last_change: float | None
) -> Decision:
    """Pure: how many workers for this many waiting messages."""
    bounded = min(max(current, policy.min_replicas), policy.max_replicas)
    if bounded != current:
        return Decision(
            bounded,
            f"{current} replicas is outside {policy.min_replicas}.."
            f"{policy.max_replicas}: set {bounded}",
        )
    if since_last_change is not None and since_last_change < policy.cooldown:
        return Decision(
            current,
            f"keep {current}: cooling down ({since_last_change:.0f} s of {policy.cooldown:.0f} s)",
        )
    if waiting > policy.scale_up_above and current < policy.max_replicas:
        target = min(current + policy.step, policy.max_replicas)
        return Decision(
            target, f"{waiting} waiting > {policy.scale_up_above}: scale up to {target}"
        )
    if waiting < policy.scale_down_below and current > policy.min_replicas:
        target = max(current - policy.step, policy.min_replicas)
        return Decision(
            target, f"{waiting} waiting < {policy.scale_down_below}: scale down to {target}"
        )
    return Decision(current, f"keep {current}: {waiting} waiting")


def queue_depth(broker_url: str, queues: tuple[str, ...]) -> int:
    """Messages waiting in these queues (delayed ones included) on Redis or RabbitMQ."""
    if broker_url.startswith(("redis://", "rediss://")):
        import redis

        client = redis.Redis.from_url(broker_url)
        try:
            # Dramatiq's Redis broker keeps each queue, and its delay queue (.DQ), as lists.
            return sum(
                int(client.llen(f"dramatiq:{q}")) + int(client.llen(f"dramatiq:{q}.DQ"))
                for q in queues
            )
        finally:
            client.close()
    if broker_url.startswith(("amqp://", "amqps://")):
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(broker_url))
        try:
            channel = connection.channel()
            total = 0
            for q in queues:
                for name in (q, f"{q}.DQ"):
                    try:
                        total += channel.queue_declare(name, passive=True).method.message_count
                    except pika.exceptions.ChannelClosedByBroker:
                        channel = connection.channel()  # the queue does not exist yet
            return total
        finally:
            connection.close()
    raise ValueError("autoscaling needs LISTINGFLOW_BROKER_URL (redis:// or amqp://)")


class Backend(Protocol):
    def current(self) -> int: ...
    def scale(self, replicas: int) -> None: ...
    def close(self) -> None: ...


@dataclass
class LocalBackend:
    """Worker processes on this machine (each `listingflow worker --processes 1`)."""

    threads: int = 8
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def current(self) -> int:
        self.processes = [p for p in self.processes if p.poll() is None]
        return len(self.processes)

    def scale(self, replicas: int) -> None:
        while self.current() < replicas:
            command = [
                str(Path(sys.executable).parent / "listingflow"),
                "worker",
                "--processes",
                "1",
                "--threads",
                str(self.threads),
            ]
            self.processes.append(
                subprocess.Popen(  # noqa: S603 (our own executable, fixed arguments)
                    command,
                    start_new_session=True,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        while self.current() > replicas:
            _stop(self.processes.pop())

    def close(self) -> None:
        while self.processes:
            _stop(self.processes.pop())


def _stop(process: subprocess.Popen[bytes]) -> None:
    import os
    import signal

    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@dataclass
class CommandBackend:
    """The operator's command, e.g. `kubectl scale deployment/worker --replicas={replicas}`."""

    template: str
    replicas: int = 1

    def current(self) -> int:
        return self.replicas

    def scale(self, replicas: int) -> None:
        command = shlex.split(self.template.format(replicas=replicas))
        subprocess.run(command, check=True, timeout=120)  # noqa: S603
        self.replicas = replicas

    def close(self) -> None:
        return None


@dataclass
class Autoscaler:
    broker_url: str
    queues: tuple[str, ...]
    backend: Backend
    policy: Policy
    dry_run: bool = False
    last_change: float | None = None

    def step(self) -> Decision:
        waiting = queue_depth(self.broker_url, self.queues)
        current = self.backend.current()
        since = None if self.last_change is None else time.monotonic() - self.last_change
        decision = decide(waiting, current, self.policy, since_last_change=since)
        log.info(
            "autoscale.decision",
            waiting=waiting,
            current=current,
            replicas=decision.replicas,
            reason=decision.reason,
            dry_run=self.dry_run,
        )
        if decision.replicas != current and not self.dry_run:
            self.backend.scale(decision.replicas)
            self.last_change = time.monotonic()
        return decision
