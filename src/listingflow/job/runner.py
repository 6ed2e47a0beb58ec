"""Running one job item inside an actor, the same way for every kind of job.

Claim the item (a redelivered or cancelled one does nothing), bind the job's request id to the
logs, run the handler, then record the outcome: success with its result; a seller's problem or
a permanent refusal fails the item at once with the reason; a transient error releases it and
raises TransientFailure so Dramatiq's Retries middleware tries again with backoff.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow.exceptions import ListingflowError
from listingflow.job.service import job_items_service
from listingflow.kit.cache import Cache
from listingflow.kit.uow import written
from listingflow.models import Job, JobItem
from listingflow.worker.context import task_cache, task_database

log = structlog.get_logger()
MAX_ATTEMPTS = 5

ItemHandler = Callable[[AsyncSession, Cache, JobItem, Job], Awaitable[dict[str, Any]]]


class TransientFailure(Exception):
    """Raised so that Dramatiq's Retries middleware tries the message again later."""


def retry_when(retries: int, exc: BaseException) -> bool:
    """Dramatiq's retry_when for item actors: only transient failures, a bounded number."""
    return isinstance(exc, TransientFailure) and retries < MAX_ATTEMPTS


async def run_job_item(item_id: int, handler: ItemHandler) -> None:
    database, cache = task_database(), task_cache()
    async with database.session() as session:
        claimed = await job_items_service.claim(session, item_id)
        await session.commit()
        if claimed is None:
            return
        item, job = claimed
        # read now: a rollback below expires every loaded row
        workspace_id, attempts, kind = item.workspace_id, item.attempts, job.kind
        with structlog.contextvars.bound_contextvars(
            request_id=job.params.get("request_id"), job_id=job.id, item_id=item_id
        ):
            try:
                result = await handler(session, cache, item, job)
                await job_items_service.succeeded(session, item, result)
                await session.commit()
            except ListingflowError as exc:
                await session.rollback()
                if not exc.retryable or attempts >= MAX_ATTEMPTS:
                    # A seller's problem (bad data) or a refusal no retry can fix.
                    await job_items_service.failed(
                        session, item_id, exc.message, status_code=exc.status_code
                    )
                    await session.commit()
                else:
                    await job_items_service.release(session, item_id, exc.message)
                    await session.commit()
                    raise TransientFailure(exc.message) from exc
            finally:
                await written(cache, workspace_id)
            log.info("job.item_done", kind=kind)
