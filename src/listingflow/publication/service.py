"""Publishing use cases: start a publish job, publish a batch of its items through one
connection's client, record every attempt, follow up on listings the marketplace only accepted.

Each item is validated first (a blocking issue stops it with the reason) and priced by the
operator's rules (a margin below the minimum holds it back), then sent in groups of the client's
batch size. What comes back updates the listing (remote id, status) and the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow.exceptions import BadRequest, Conflict, NotFound
from listingflow.integrations.marketplaces import registry
from listingflow.integrations.marketplaces.base import (
    MarketplaceClient,
    Offer,
    PublishResult,
    PublishStatus,
)
from listingflow.job.service import job_items_service, job_queue
from listingflow.kit.models import utcnow
from listingflow.kit.uow import UnitOfWork
from listingflow.listing.service import listing_service
from listingflow.models import (
    ConnectionStatus,
    Job,
    JobItem,
    JobKind,
    Listing,
    ListingStatus,
    MarketplaceConnection,
    Product,
    ProductStatus,
    PublishAttempt,
)
from listingflow.product.service import product_service
from listingflow.publication.connections import connection_service
from listingflow.publication.offers import offer_for, sku_for
from listingflow.publication.pricing import pricing_service
from listingflow.publication.repository import publication_repository
from listingflow.rules.pricing import PricingError
from listingflow.worker.enqueue import send_job_items

log = structlog.get_logger()

LIVE = (PublishStatus.PUBLISHED, PublishStatus.ACCEPTED)


def check_publishable(marketplace: str) -> str:
    value = (marketplace or "").strip().lower()
    if value not in registry.PUBLISHABLE:
        raise BadRequest(
            f"cannot publish to {marketplace!r}; one of {', '.join(registry.PUBLISHABLE)}",
            field="marketplace",
        )
    return value


@dataclass(slots=True)
class ItemOutcome:
    """What happened to one job item: succeeded with a result, or failed with the reason."""

    item: JobItem
    ok: bool
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    status_code: int = 422


@dataclass(slots=True)
class _Ready:
    item: JobItem
    product: Product
    listing: Listing
    offer: Offer
    price: dict[str, Any]


def _issues(result: PublishResult) -> list[dict[str, Any]]:
    return [
        {"code": i.code, "field": i.field, "severity": str(i.severity), "message": i.message}
        for i in result.issues
    ]


class PublicationService:
    # --- starting ---------------------------------------------------------------------------

    async def connection_for(
        self, session: AsyncSession, workspace_id: int, marketplace: str, name: str | None
    ) -> MarketplaceConnection:
        connection = await connection_service.pick(session, workspace_id, marketplace, name)
        if connection is None:
            raise Conflict(
                f"no {marketplace} connection: add one with `listingflow connect {marketplace}` "
                f"or POST /api/connections, or download the bulk-upload file from "
                f"GET /api/export/file?marketplace={marketplace}",
                field="marketplace",
            )
        if connection.status == ConnectionStatus.BROKEN.value:
            raise Conflict(
                f"the {marketplace} connection {connection.name!r} is no longer authorized: "
                f"reconnect {marketplace}",
                field="connection",
            )
        return connection

    async def start(
        self,
        session: AsyncSession,
        workspace_id: int,
        product_ids: Sequence[int],
        marketplace: str,
        *,
        connection: str | None = None,
        dry_run: bool = False,
        queue: str = "publish",
        source: str = "publish",
    ) -> tuple[Job, list[int]]:
        """A publish job over these products (rows flushed; enqueue after the commit)."""
        marketplace = check_publishable(marketplace)
        chosen = await self.connection_for(session, workspace_id, marketplace, connection)
        ids = list(dict.fromkeys(product_ids))
        return await job_items_service.create(
            session,
            workspace_id,
            kind=JobKind.PUBLISH,
            source=f"{source}:{marketplace}",
            items=[(product_id, marketplace) for product_id in ids],
            params={
                "marketplace": marketplace,
                "connection_id": chosen.id,
                "dry_run": dry_run,
            },
            queue=queue,
        )

    def send_after_commit(self, uow: UnitOfWork, job: Job, item_ids: list[int]) -> None:
        """Queue the job's messages for when the boundary commits: on the job's queue, in the
        marketplace's group size (one place for the API and the web pages)."""
        queue = job_queue(job)
        batch = registry.MESSAGE_BATCH.get(str(job.params.get("marketplace")))
        uow.after_commit(
            lambda: send_job_items(JobKind.PUBLISH.value, item_ids, queue=queue, batch=batch)
        )

    async def history(
        self, session: AsyncSession, workspace_id: int, product_id: int, *, limit: int = 50
    ) -> list[PublishAttempt]:
        await product_service.get(session, workspace_id, product_id)  # 404 first
        return await publication_repository.attempts(session, workspace_id, product_id, limit=limit)

    # --- running ----------------------------------------------------------------------------

    async def job_connection(self, session: AsyncSession, job: Job) -> MarketplaceConnection:
        connection_id = job.params.get("connection_id")
        connection = (
            await publication_repository.connection(session, job.workspace_id, int(connection_id))
            if connection_id is not None
            else None
        )
        if connection is None:
            raise NotFound("the connection this job publishes through was removed")
        return connection

    async def _prepare(
        self, session: AsyncSession, job: Job, items: Sequence[JobItem]
    ) -> tuple[list[_Ready], list[ItemOutcome], list[dict[str, Any]]]:
        """Validate and price each item; those that may not go out fail here with the reason.
        The batch's products and listings are loaded in two queries, not per item."""
        marketplace = str(job.params["marketplace"])
        ready: list[_Ready] = []
        outcomes: list[ItemOutcome] = []
        attempts: list[dict[str, Any]] = []
        ids = [item.product_id for item in items if item.product_id is not None]
        products = await product_service.get_many(session, job.workspace_id, ids)
        listings = await listing_service.by_product(session, job.workspace_id, ids)
        for item in items:
            product = products.get(item.product_id or 0)
            if product is None:
                error = f"product {item.product_id} not found"
                outcomes.append(ItemOutcome(item, False, error=error, status_code=404))
                continue
            listing = next(
                (x for x in listings.get(product.id, []) if x.marketplace == marketplace), None
            )
            if listing is None:
                outcomes.append(
                    ItemOutcome(
                        item,
                        False,
                        error=f"product {product.id} has no {marketplace} listing: optimize it "
                        f"for {marketplace} first",
                        status_code=409,
                    )
                )
                continue
            listing_service.reassess(listing, product)
            base: dict[str, Any] = {
                "workspace_id": job.workspace_id,
                "product_id": product.id,
                "listing_id": listing.id,
                "connection_id": job.params.get("connection_id"),
                "job_id": job.id,
                "marketplace": marketplace,
                "mode": "dry_run" if job.params.get("dry_run") else "publish",
                "issues": [],
                "request_summary": {},
                "price": {},
                "created_at": utcnow(),
            }
            blocking = [i for i in listing.issues if i.get("severity") == "error"]
            if blocking:
                reason = "blocked by validation: " + " ".join(i["message"] for i in blocking[:3])
                attempts.append({**base, "status": "blocked", "issues": blocking, "error": reason})
                outcomes.append(ItemOutcome(item, False, error=reason))
                continue
            try:
                quote = pricing_service.quote(marketplace, product.price, product.currency)
            except PricingError as exc:
                attempts.append({**base, "status": "held", "error": str(exc)})
                outcomes.append(ItemOutcome(item, False, error=str(exc)))
                continue
            if quote.held_back:
                attempts.append(
                    {**base, "status": "held", "price": quote.as_dict(), "error": quote.held_back}
                )
                outcomes.append(ItemOutcome(item, False, error=f"held back: {quote.held_back}"))
                continue
            offer = offer_for(product, listing, quote)
            ready.append(_Ready(item, product, listing, offer, quote.as_dict()))
        return ready, outcomes, attempts

    async def publish_items(
        self,
        session: AsyncSession,
        job: Job,
        items: Sequence[JobItem],
        client: MarketplaceClient,
    ) -> list[ItemOutcome]:
        """Publish these claimed items of one job (flushes; the task commits).

        Raises the client's RetryableError / PermanentError / ConnectionBrokenError for the
        whole batch; publishing is idempotent by SKU, so the batch can simply be sent again."""
        ready, outcomes, attempts = await self._prepare(session, job, items)
        dry_run = bool(job.params.get("dry_run"))
        # A bulk API gets groups of its call size; a one-at-a-time API gets the whole set at
        # once and runs the calls concurrently under its rate limit.
        size = client.batch_size if client.batch_size > 1 else max(1, len(ready))
        for start in range(0, len(ready), size):
            group = ready[start : start + size]
            if dry_run:
                results = [await client.publish(r.offer, dry_run=True) for r in group]
            elif len(group) == 1:
                results = [await client.publish(group[0].offer)]
            else:
                results = await client.publish_many([r.offer for r in group])
            for entry, result in zip(group, results, strict=True):
                outcome, attempt = self._record(job, entry, result, dry_run=dry_run)
                outcomes.append(outcome)
                attempts.append(attempt)
        await publication_repository.add_attempts(session, attempts)
        await session.flush()
        return outcomes

    def _record(
        self, job: Job, entry: _Ready, result: PublishResult, *, dry_run: bool
    ) -> tuple[ItemOutcome, dict[str, Any]]:
        listing, product = entry.listing, entry.product
        issues = _issues(result)
        errors = [i.message for i in result.blocking]
        attempt = {
            "workspace_id": job.workspace_id,
            "product_id": product.id,
            "listing_id": listing.id,
            "connection_id": job.params.get("connection_id"),
            "job_id": job.id,
            "marketplace": listing.marketplace,
            "mode": "dry_run" if dry_run else "publish",
            "status": result.status.value,
            "sku": entry.offer.sku,
            "remote_id": result.remote_id,
            "http_status": result.http_status,
            "issues": issues,
            "request_summary": result.request_summary,
            "price": entry.price,
            "error": "; ".join(errors)[:2000] if errors else None,
            "created_at": utcnow(),
        }
        summary = {
            "listing_id": listing.id,
            "sku": entry.offer.sku,
            "status": result.status.value,
            "remote_id": result.remote_id,
            "price": entry.price.get("price"),
            "currency": entry.price.get("currency"),
            "issues": issues,
        }
        if dry_run:
            if result.ok:
                return ItemOutcome(entry.item, True, summary), attempt
            reason = "; ".join(errors) or f"{listing.marketplace} says {result.status.value}"
            return ItemOutcome(entry.item, False, summary, error=reason), attempt
        if result.status in LIVE:
            listing.remote_id = result.remote_id or listing.remote_id
            listing.publication_status = result.status.value
            listing.published_at = utcnow()
            listing.publication_error = None
            listing.status = ListingStatus.PUBLISHED.value
            product.status = ProductStatus.PUBLISHED.value
            return ItemOutcome(entry.item, True, summary), attempt
        reason = "; ".join(errors) or f"{listing.marketplace} says {result.status.value}"
        listing.publication_status = result.status.value
        listing.publication_error = reason[:2000]
        if product.status != ProductStatus.PUBLISHED.value:
            product.status = ProductStatus.FAILED.value
        return ItemOutcome(entry.item, False, summary, error=reason), attempt

    async def follow_up(
        self, session: AsyncSession, job: Job, client: MarketplaceClient, *, listing_id: int
    ) -> PublishResult | None:
        """Ask the marketplace what became of an ACCEPTED listing; record the answer."""
        listing = await listing_service.get(session, job.workspace_id, listing_id)
        product = await product_service.get(session, job.workspace_id, listing.product_id)
        if listing.publication_status != PublishStatus.ACCEPTED.value:
            return None
        sku = sku_for(product)
        result = await client.remote_status(sku)
        listing.publication_status = result.status.value
        listing.remote_id = result.remote_id or listing.remote_id
        if result.status is PublishStatus.REJECTED:
            listing.publication_error = "; ".join(i.message for i in result.blocking)[:2000]
        await publication_repository.add_attempts(
            session,
            [
                {
                    "workspace_id": job.workspace_id,
                    "product_id": product.id,
                    "listing_id": listing.id,
                    "connection_id": job.params.get("connection_id"),
                    "job_id": job.id,
                    "marketplace": listing.marketplace,
                    "mode": "status",
                    "status": result.status.value,
                    "sku": sku,
                    "remote_id": result.remote_id,
                    "http_status": result.http_status,
                    "issues": _issues(result),
                    "request_summary": result.request_summary,
                    "price": {},
                    "error": listing.publication_error
                    if result.status is PublishStatus.REJECTED
                    else None,
                    "created_at": utcnow(),
                }
            ],
        )
        await session.flush()
        return result


publication_service = PublicationService()
