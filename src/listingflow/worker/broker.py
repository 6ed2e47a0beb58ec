"""The Dramatiq broker from settings: Redis, RabbitMQ, or in-process (embedded mode).

Embedded mode uses Dramatiq's in-memory StubBroker and runs a Worker's threads inside the API
process: the same actors and queues as production, nothing to install. Actors are declared once
(in `listingflow.tasks`); `setup_broker` moves every one of them onto the configured broker.
"""

from __future__ import annotations

import asyncio

import dramatiq
import structlog
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware, Retries, ShutdownNotifications, TimeLimit
from dramatiq.middleware.asyncio import AsyncIO

from listingflow.config import Settings
from listingflow.worker.context import TaskDatabases

log = structlog.get_logger()

QUEUES = ("interactive", "bulk", "llm", "publish")
_configured: dramatiq.Broker | None = None


def use_fast_event_loop() -> bool:
    """uvloop for the loops this process makes from now on (a worker process: its AsyncIO
    middleware's loop), where uvloop is installed (uvicorn[standard] brings it on Linux)."""
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


def _middleware() -> list[Middleware]:
    """Dramatiq's defaults minus what no actor of ours uses (message age limits, callbacks,
    pipelines): each middleware hook runs for every message."""
    return [TimeLimit(), ShutdownNotifications(), Retries()]


def build_broker(settings: Settings) -> dramatiq.Broker:
    url = settings.broker_url
    broker: dramatiq.Broker
    if url is None:
        broker = StubBroker(middleware=_middleware())
        broker.emit_after("process_boot")
    elif url.startswith(("redis://", "rediss://")):
        from listingflow.worker.redis_broker import BatchedAckRedisBroker

        broker = BatchedAckRedisBroker(url=url, middleware=_middleware())
    elif url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=url, middleware=_middleware())
    else:
        raise ValueError("LISTINGFLOW_BROKER_URL must start with redis:// or amqp://")
    broker.add_middleware(AsyncIO())
    broker.add_middleware(TaskDatabases())
    return broker


def setup_broker(settings: Settings) -> dramatiq.Broker:
    """Make the configured broker the global one and declare every actor and queue on it."""
    global _configured
    import listingflow.tasks as tasks  # the one place that imports every actor

    broker = build_broker(settings)
    dramatiq.set_broker(broker)
    for actor in tasks.ACTORS:
        actor.broker = broker
        broker.declare_actor(actor)
    for queue in QUEUES:
        broker.declare_queue(queue)
    _configured = broker
    log.info("worker.broker", kind=type(broker).__name__)
    return broker


def current_broker() -> dramatiq.Broker:
    return _configured or dramatiq.get_broker()


def start_embedded_worker(broker: dramatiq.Broker, threads: int) -> dramatiq.Worker:
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    return worker
