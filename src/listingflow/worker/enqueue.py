"""Sending job items to their actor, in one place (always after the commit that made them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog

log = structlog.get_logger()


def send_items(actor: Any, item_ids: Sequence[int], *, queue: str | None = None) -> None:
    """One message per item; a message lost here is found and resent by the sweeper.

    `queue` overrides the actor's own queue: a person waiting for one product goes to
    `interactive`, which is never stuck behind a bulk backlog."""
    for item_id in item_ids:
        message = actor.message(item_id)
        if queue is not None:
            message = message.copy(queue_name=queue)
        actor.broker.enqueue(message)
    if item_ids:
        log.info("job.enqueued", actor=actor.actor_name, items=len(item_ids))


def send_job_items(kind: str, item_ids: Sequence[int], *, queue: str | None = None) -> None:
    from listingflow.tasks import ACTOR_FOR_KIND

    actor = ACTOR_FOR_KIND.get(kind)
    if actor is not None:
        send_items(actor, item_ids, queue=queue)
