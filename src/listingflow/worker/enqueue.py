"""Sending job items to their actor, in one place (always after the commit that made them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog

log = structlog.get_logger()


def send_items(
    actor: Any, item_ids: Sequence[int], *, queue: str | None = None, batch: int | None = None
) -> None:
    """One message per item, or per `batch` items for actors that take a list; a message lost
    here is found and resent by the sweeper.

    `queue` overrides the actor's own queue: a person waiting for one product goes to
    `interactive`, which is never stuck behind a bulk backlog. A broker that cannot be reached
    is logged (job.enqueue_failed), never raised: the caller's commit already happened."""
    payloads: list[Any] = (
        list(item_ids)
        if batch is None
        else [list(item_ids[i : i + batch]) for i in range(0, len(item_ids), batch)]
    )
    for sent, payload in enumerate(payloads):
        message = actor.message(payload)
        if queue is not None:
            message = message.copy(queue_name=queue)
        try:
            actor.broker.enqueue(message)
        except Exception as exc:  # any broker failure: the rows are already committed
            # The items stay pending in the database; the sweeper sends them once the broker
            # answers again. The rest would fail the same way, so stop here.
            log.error(
                "job.enqueue_failed",
                actor=actor.actor_name,
                items=len(item_ids),
                not_sent=len(payloads) - sent,
                error=f"{type(exc).__name__}: {exc}",
            )
            return
    if item_ids:
        log.info("job.enqueued", actor=actor.actor_name, items=len(item_ids))


def send_job_items(
    kind: str, item_ids: Sequence[int], *, queue: str | None = None, batch: int | None = None
) -> None:
    """Send a job's items to the actor for its kind (lists of `batch`, or the kind's default,
    for actors that take lists)."""
    from listingflow.tasks import ACTOR_FOR_KIND, BATCH_FOR_KIND

    actor = ACTOR_FOR_KIND.get(kind)
    if actor is not None:
        default = BATCH_FOR_KIND.get(kind)
        send_items(actor, item_ids, queue=queue, batch=(batch or default) if default else None)
