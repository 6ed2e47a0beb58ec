"""The Redis broker with batched acknowledgements: every processed message is acknowledged
(nothing left to redeliver), and the worker uses the broker the settings choose."""

from __future__ import annotations

import time

import dramatiq
import redis

from listingflow.config import Settings
from listingflow.worker.broker import build_broker
from listingflow.worker.redis_broker import ACK_BATCH, BatchedAckRedisBroker


def test_every_processed_message_is_acknowledged(redis_url: str) -> None:
    broker = build_broker(Settings(_env_file=None, broker_url=redis_url))
    assert isinstance(broker, BatchedAckRedisBroker)
    seen: list[int] = []

    @dramatiq.actor(broker=broker, queue_name="ack_test", max_retries=0)
    def record(n: int) -> None:
        seen.append(n)

    count = ACK_BATCH * 3 + 7  # full batches and a remainder flushed when the queue runs dry
    for n in range(count):
        record.send(n)
    worker = dramatiq.Worker(broker, worker_threads=4, worker_timeout=100)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while len(seen) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        client = redis.Redis.from_url(redis_url)
        # acks land shortly after the last message: nothing stays un-acked or queued
        while broker.do_qsize("ack_test") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sorted(seen) == list(range(count))
        assert broker.do_qsize("ack_test") == 0
        assert not [k for k in client.scan_iter("dramatiq:__acks__*") if client.scard(k)]
    finally:
        worker.stop()
        broker.close()
