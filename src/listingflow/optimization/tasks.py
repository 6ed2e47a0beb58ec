"""Thin actors: optimize one job item. Running the same message twice changes nothing (the item
is claimed once; see job/runner.py)."""

from __future__ import annotations

from typing import Any

import dramatiq
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow.job.runner import MAX_ATTEMPTS, retry_when, run_job_item
from listingflow.kit.cache import Cache
from listingflow.listing.service import listing_service
from listingflow.models import Job, JobItem


async def _optimize(session: AsyncSession, cache: Cache, item: JobItem, job: Job) -> dict[str, Any]:
    assert item.product_id is not None and item.marketplace is not None
    _, listing = await listing_service.optimize(
        session,
        item.workspace_id,
        item.product_id,
        item.marketplace,
        engine=job.params.get("engine"),
        cache=cache,
    )
    return {"listing_id": listing.id, "score": listing.score}


@dramatiq.actor(
    actor_name="optimize_job_item",
    queue_name="bulk",
    max_retries=MAX_ATTEMPTS,
    min_backoff=1_000,
    max_backoff=60_000,
    retry_when=retry_when,
)
async def optimize_job_item(item_id: int) -> None:
    await run_job_item(item_id, _optimize)
