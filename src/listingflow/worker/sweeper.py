"""The sweeper: every interval, resend job items whose message was lost or whose worker died.

It runs in every API process (embedded or not); resending is safe because an item is claimed
once, so two replicas sweeping at the same moment only send a duplicate that does nothing.
"""

from __future__ import annotations

import asyncio

import structlog

from listingflow.db import Database
from listingflow.job.service import job_items_service
from listingflow.worker.enqueue import send_job_items

log = structlog.get_logger()


async def sweep_once(database: Database, *, running_timeout: float, pending_timeout: float) -> int:
    async with database.session() as session:
        stale = await job_items_service.sweep(
            session, running_timeout=running_timeout, pending_timeout=pending_timeout
        )
        await session.commit()
    for (kind, queue), item_ids in stale.items():
        send_job_items(kind, item_ids, queue=queue)
    count = sum(len(ids) for ids in stale.values())
    if count:
        log.warning("job.swept", items=count)
    return count


async def run_sweeper(
    database: Database, *, interval: float, running_timeout: float, pending_timeout: float
) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await sweep_once(
                database, running_timeout=running_timeout, pending_timeout=pending_timeout
            )
        except Exception as exc:  # the sweeper must outlive a database hiccup
            log.error("job.sweep_failed", error=str(exc))
