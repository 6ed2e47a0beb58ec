"""Sending job items to their actor, in one place (always after the commit that made them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog

log = structlog.get_logger()


def send_items(actor: Any, item_ids: Sequence[int]) -> None:
    """One message per item; a message lost here is found and resent by the sweeper."""
    for item_id in item_ids:
        actor.send(item_id)
    if item_ids:
        log.info("job.enqueued", actor=actor.actor_name, items=len(item_ids))


def send_job_items(kind: str, item_ids: Sequence[int]) -> None:
    from listingflow.tasks import ACTOR_FOR_KIND

    actor = ACTOR_FOR_KIND.get(kind)
    if actor is not None:
        send_items(actor, item_ids)
