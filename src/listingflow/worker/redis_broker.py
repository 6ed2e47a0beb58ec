"""Dramatiq's Redis broker with acknowledgements sent in batches.

Stock Dramatiq acknowledges each message with its own Lua call, a round trip per message that
was a third of a worker's CPU time for short tasks. Here a consumer collects acks and sends them
as one pipeline of the same Lua calls: when 64 are waiting, when its prefetched messages run
out, after 20 ms, and when it closes. A worker that dies with acks still waiting loses them;
Dramatiq's heartbeat then puts those messages back on the queue and they are delivered again,
which our handlers already make harmless (each job item is claimed once).
"""

from __future__ import annotations

import time
from typing import Any

import redis
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer, current_millis
from dramatiq.errors import ConnectionClosed

ACK_BATCH = 64
ACK_DELAY = 0.02  # seconds an ack may wait for company


class _BatchedAckConsumer(_RedisConsumer):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._acks: list[str] = []
        self._first_ack_at = 0.0

    def ack(self, message: Any) -> None:
        if not self._acks:
            self._first_ack_at = time.monotonic()
        self._acks.append(message.options["redis_message_id"])
        self.queued_message_ids.discard(message.message_id)
        if len(self._acks) >= ACK_BATCH:
            self._flush_acks()

    def nack(self, message: Any) -> None:
        self._flush_acks()
        super().nack(message)

    def _flush_acks(self) -> None:
        if not self._acks:
            return
        ids, self._acks = self._acks, []
        broker = self.broker
        dispatch = broker.scripts["dispatch"]
        keys = [broker.namespace]
        try:
            pipe = broker.client.pipeline(transaction=False)
            for message_id in ids:
                args = [
                    "ack",
                    current_millis(),
                    self.queue_name,
                    broker.broker_id,
                    broker.heartbeat_timeout,
                    broker.dead_message_ttl,
                    broker._should_do_maintenance("ack"),
                    broker._max_unpack_size(),
                    message_id,
                ]
                dispatch(keys=keys, args=args, client=pipe)
            pipe.execute()
        except redis.ConnectionError as e:
            raise ConnectionClosed(e) from None

    def __next__(self) -> Any:
        if self._acks and (
            not self.message_cache or time.monotonic() - self._first_ack_at >= ACK_DELAY
        ):
            self._flush_acks()
        return super().__next__()

    def close(self) -> None:
        try:
            self._flush_acks()
        finally:
            super().close()


class BatchedAckRedisBroker(RedisBroker):
    @property
    def consumer_class(self) -> type[_RedisConsumer]:
        return _BatchedAckConsumer
