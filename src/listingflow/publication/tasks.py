"""Thin actors: publish a group of job items through their connection; follow up on listings a
marketplace only accepted. Items are claimed once, so a redelivered message publishes nothing
twice; the marketplace calls are idempotent by SKU, so a retried group is safe too.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections.abc import Sequence

import dramatiq
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow import config
from listingflow.db import Database
from listingflow.exceptions import ListingflowError
from listingflow.integrations.marketplaces.base import (
    ConnectionBrokenError,
    MarketplaceClient,
    PermanentError,
    PublishStatus,
    RetryableError,
)
from listingflow.job.runner import MAX_ATTEMPTS, TransientFailure, retry_when
from listingflow.job.service import job_items_service
from listingflow.kit import jsonutil
from listingflow.kit.cache import Cache
from listingflow.kit.uow import written
from listingflow.models import Job, JobItem, MarketplaceConnection
from listingflow.publication.connections import connection_service
from listingflow.publication.service import publication_service
from listingflow.worker.context import task_cache, task_database

log = structlog.get_logger()
# Asking again what became of an ACCEPTED listing: after 1, 4, 20 and 60 times
# LISTINGFLOW_PUBLISH_FOLLOW_UP_SECONDS (30 s by default), then no more.
FOLLOW_UP_FACTORS = (1, 4, 20, 60)

# One client per connection per event loop: its token bucket paces every batch of that account
# in this process, and its access token is reused (a new client per batch would do neither).
_clients: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[int, str], MarketplaceClient]
] = weakref.WeakKeyDictionary()


def _version(connection: MarketplaceConnection) -> str:
    raw = connection.secrets + jsonutil.dumps(connection.settings).decode()
    return hashlib.sha256(raw.encode()).hexdigest()


def _client_for(
    connection: MarketplaceConnection, cache: Cache, database: Database
) -> MarketplaceClient:
    connection_id = connection.id
    clients = _clients.setdefault(asyncio.get_running_loop(), {})
    key = (connection_id, _version(connection))
    client = clients.get(key)
    if client is None:

        async def persist(tokens: dict[str, str]) -> None:
            async with database.session() as session:
                row = await session.get(MarketplaceConnection, connection_id)
                if row is not None:
                    connection_service.store_tokens(row, tokens)
                    await session.commit()

        for old in [k for k in clients if k[0] == connection_id]:
            clients.pop(old)  # credentials changed: the old client is dropped
        client = connection_service.client(connection, cache, persist)
        clients[key] = client
    return client


async def _fail_all(session: AsyncSession, item_ids: Sequence[int], message: str) -> None:
    for item_id in item_ids:
        await job_items_service.failed(session, item_id, message)


async def _publish(
    session: AsyncSession, cache: Cache, database: Database, job: Job, items: list[JobItem]
) -> None:
    # What is needed after a rollback (which expires every loaded row) is read now.
    job_id, connection_id = job.id, job.params.get("connection_id")
    item_ids = [item.id for item in items]
    attempts = max(item.attempts for item in items)
    try:
        connection = await publication_service.job_connection(session, job)
    except ListingflowError as exc:
        await _fail_all(session, item_ids, exc.message)
        await session.commit()
        return
    client = _client_for(connection, cache, database)
    try:
        outcomes = await publication_service.publish_items(session, job, items, client)
    except ConnectionBrokenError as exc:
        await session.rollback()
        broken = await session.get(MarketplaceConnection, connection_id)
        if broken is not None:
            connection_service.mark(broken, exc)
        await _fail_all(session, item_ids, exc.message)
        stopped = await job_items_service.fail_pending(session, job_id, exc.message)
        await session.commit()
        log.warning("publication.connection_broken", connection_id=connection_id, stopped=stopped)
        return
    except RetryableError as exc:
        await session.rollback()
        if attempts >= MAX_ATTEMPTS:
            await _fail_all(session, item_ids, exc.message)
            await session.commit()
            return
        for item_id in item_ids:
            await job_items_service.release(session, item_id, exc.message)
        await session.commit()
        raise TransientFailure(exc.message) from exc
    except PermanentError as exc:
        await session.rollback()
        await _fail_all(session, item_ids, exc.message)
        await session.commit()
        return
    connection_service.mark(connection, None)
    accepted: list[int] = []
    for outcome in outcomes:
        if outcome.ok:
            await job_items_service.succeeded(session, outcome.item, outcome.result)
            if outcome.result.get("status") == PublishStatus.ACCEPTED.value:
                accepted.append(outcome.item.id)
        else:
            await job_items_service.failed(
                session,
                outcome.item.id,
                outcome.error or "refused",
                status_code=outcome.status_code,
            )
    await session.commit()
    for item_id in accepted:
        follow_up_publication.send_with_options(args=(item_id, 0), delay=_follow_up_delay(0))


@dramatiq.actor(
    actor_name="publish_job_items",
    queue_name="publish",
    max_retries=MAX_ATTEMPTS,
    min_backoff=2_000,
    max_backoff=120_000,
    retry_when=retry_when,
)
async def publish_job_items(item_ids: list[int]) -> None:
    database, cache = task_database(), task_cache()
    async with database.session() as session:
        claimed = [c for c in [await job_items_service.claim(session, i) for i in item_ids] if c]
        await session.commit()
        if not claimed:
            return
        job = claimed[0][1]
        items = [item for item, _ in claimed]
        workspace_id = job.workspace_id  # read now: _publish's rollback expires the row
        with structlog.contextvars.bound_contextvars(
            request_id=job.params.get("request_id"), job_id=job.id
        ):
            try:
                await _publish(session, cache, database, job, items)
            finally:
                await written(cache, workspace_id)
            log.info("publication.batch_done", items=len(items))


@dramatiq.actor(actor_name="follow_up_publication", queue_name="publish", max_retries=3)
async def follow_up_publication(item_id: int, round_: int) -> None:
    """ACCEPTED is not live: ask again later what the marketplace finally made of it."""
    database, cache = task_database(), task_cache()
    async with database.session() as session:
        item = await session.get(JobItem, item_id)
        job = await session.get(Job, item.job_id) if item is not None else None
        listing_id = (item.result or {}).get("listing_id") if item is not None else None
        if item is None or job is None:
            return
        try:
            connection = await publication_service.job_connection(session, job)
        except ListingflowError:
            return
        if listing_id is None:
            return
        client = _client_for(connection, cache, database)
        try:
            result = await publication_service.follow_up(
                session, job, client, listing_id=int(listing_id)
            )
        except (RetryableError, PermanentError) as exc:
            await session.rollback()
            log.warning("publication.follow_up_failed", item_id=item_id, error=exc.message)
            ask_again = True
        else:
            await session.commit()
            await written(cache, job.workspace_id)
            ask_again = result is not None and result.status is PublishStatus.ACCEPTED
        if ask_again and round_ + 1 < len(FOLLOW_UP_FACTORS):
            follow_up_publication.send_with_options(
                args=(item_id, round_ + 1), delay=_follow_up_delay(round_ + 1)
            )


def _follow_up_delay(round_: int) -> int:
    """Milliseconds before follow-up number `round_`."""
    return int(config.settings.publish_follow_up_seconds * FOLLOW_UP_FACTORS[round_] * 1000)
