"""Thin actors: optimize one job item. Reload, check state, do the work, record it; running the
same message twice changes nothing (the item is claimed once)."""

from __future__ import annotations

import dramatiq
import structlog

from listingflow.exceptions import ListingflowError
from listingflow.job.service import job_items_service
from listingflow.kit.cache import bump_workspace_generation
from listingflow.listing.service import listing_service
from listingflow.worker.context import task_cache, task_database

log = structlog.get_logger()
MAX_ATTEMPTS = 5


class TransientFailure(Exception):
    """Raised so that Dramatiq's Retries middleware tries the message again later."""


@dramatiq.actor(
    actor_name="optimize_job_item",
    queue_name="bulk",
    max_retries=MAX_ATTEMPTS,
    min_backoff=1_000,
    max_backoff=60_000,
    retry_when=lambda retries, exc: isinstance(exc, TransientFailure) and retries < MAX_ATTEMPTS,
)
async def optimize_job_item(item_id: int) -> None:
    database, cache = task_database(), task_cache()
    async with database.session() as session:
        claimed = await job_items_service.claim(session, item_id)
        await session.commit()
        if claimed is None:
            return
        item, job = claimed
        assert item.product_id is not None and item.marketplace is not None
        try:
            _, listing = await listing_service.optimize(
                session,
                item.workspace_id,
                item.product_id,
                item.marketplace,
                engine=job.params.get("engine"),
                cache=cache,
            )
            await job_items_service.succeeded(
                session, item, {"listing_id": listing.id, "score": listing.score}
            )
            await session.commit()
        except ListingflowError as exc:
            await session.rollback()
            if not exc.retryable or item.attempts >= MAX_ATTEMPTS:
                # A seller's problem (unknown product, bad data) or a refusal no retry can fix.
                await job_items_service.failed(
                    session, item_id, exc.message, status_code=exc.status_code
                )
                await session.commit()
            else:
                await job_items_service.release(session, item_id, exc.message)
                await session.commit()
                raise TransientFailure(exc.message) from exc
        finally:
            await bump_workspace_generation(cache, item.workspace_id)
    log.info("job.item_done", item_id=item_id, job_id=item.job_id)
