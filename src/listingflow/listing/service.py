"""Listing use cases: optimize a product for a marketplace, edit, validate, approve."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from listingflow.audit.service import audit_service, diff
from listingflow.exceptions import Conflict, NotFound
from listingflow.integrations.llm.prompts import PROMPT_VERSION
from listingflow.kit.cache import Cache
from listingflow.kit.models import utcnow
from listingflow.listing.repository import listing_repository
from listingflow.listing.schemas import ListingEdit
from listingflow.models import Listing, ListingStatus, Product
from listingflow.optimization.service import (
    LLM,
    check_engine,
    check_marketplace,
    issues_json,
    optimization_service,
    source_of,
)
from listingflow.product.service import product_service
from listingflow.rules.scoring import Score
from listingflow.rules.types import Issue
from listingflow.rules.types import Listing as Draft


def _breakdown(score: Any) -> dict[str, Any]:
    return {
        name: {"points": part.points, "max": part.max, "reason": part.reason}
        for name, part in score.breakdown.items()
    }


def _reusable(listing: Listing, product: Product, engine: str) -> bool:
    return (
        engine == LLM
        and listing.engine == LLM
        and not listing.edited
        and listing.source_hash == product.content_hash
        and listing.prompt_version == PROMPT_VERSION
    )


class ListingService:
    async def optimize(
        self,
        session: AsyncSession,
        workspace_id: int,
        product_id: int,
        marketplace: str,
        *,
        engine: str | None = None,
        cache: Cache | None = None,
    ) -> tuple[Product, Listing]:
        """(Re)write the product's listing for one marketplace; hand edits are replaced."""
        marketplace = check_marketplace(marketplace)
        engine = check_engine(engine)
        product = await product_service.get(session, workspace_id, product_id)
        existing = await listing_repository.for_product(
            session, workspace_id, product_id, marketplace
        )
        if existing and _reusable(existing[0], product, engine):
            # The same input, engine and prompt: an LLM answer is never paid for twice.
            return product, existing[0]
        result = await optimization_service.optimize(
            source_of(product), marketplace, engine=engine, cache=cache
        )
        draft = result.draft
        await optimization_service.record_usage(session, workspace_id, result)
        listing = (
            existing[0]
            if existing
            else Listing(workspace_id=workspace_id, product_id=product_id, marketplace=marketplace)
        )
        listing.title = draft.title
        listing.description = draft.description
        listing.bullets = list(draft.bullets)
        listing.keywords = list(draft.keywords)
        listing.attributes = dict(draft.attributes)
        listing.images = list(draft.images)
        listing.language = draft.language
        listing.score = result.score.total
        listing.score_before = result.score_before.total
        listing.breakdown = _breakdown(result.score)
        listing.issues = issues_json(result.issues)
        listing.notes = result.notes
        listing.engine = result.engine
        listing.model = result.model
        listing.prompt_version = result.prompt_version
        listing.source_hash = product.content_hash
        listing.status = ListingStatus.DRAFT.value
        listing.edited = False
        listing.approved_at = None
        if not existing:
            await listing_repository.add(session, listing)
        await product_service.mark_optimized(session, product, score=listing.score)
        await session.flush()
        return product, listing

    async def get(self, session: AsyncSession, workspace_id: int, listing_id: int) -> Listing:
        listing = await listing_repository.get(session, workspace_id, listing_id)
        if listing is None:
            raise NotFound(f"listing {listing_id} not found")
        return listing

    async def for_product(
        self, session: AsyncSession, workspace_id: int, product_id: int
    ) -> tuple[Product, list[Listing]]:
        product = await product_service.get(session, workspace_id, product_id)
        return product, await listing_repository.for_product(
            session, workspace_id, product_id, None
        )

    async def by_product(
        self, session: AsyncSession, workspace_id: int, product_ids: list[int]
    ) -> dict[int, list[Listing]]:
        """Listings of a page of products, in one query."""
        grouped: dict[int, list[Listing]] = defaultdict(list)
        for listing in await listing_repository.for_products(session, workspace_id, product_ids):
            grouped[listing.product_id].append(listing)
        return grouped

    def assess(self, listing: Listing, product: Product) -> tuple[list[Issue], Score]:
        """A stored listing checked against its marketplace's rules now: (issues, score)."""
        draft = Draft(
            marketplace=listing.marketplace,
            title=listing.title,
            description=listing.description,
            bullets=list(listing.bullets),
            keywords=list(listing.keywords),
            attributes=dict(listing.attributes),
            images=list(listing.images),
            language=listing.language,
        )
        return optimization_service.assess(draft, listing.marketplace, source_of(product))

    def reassess(self, listing: Listing, product: Product) -> None:
        """Validate and score a loaded listing again, in memory (the caller flushes)."""
        issues, score = self.assess(listing, product)
        listing.issues = issues_json(issues)
        listing.score = score.total
        listing.breakdown = _breakdown(score)

    async def validate(self, session: AsyncSession, workspace_id: int, listing_id: int) -> Listing:
        listing = await self.get(session, workspace_id, listing_id)
        product = await product_service.get(session, workspace_id, listing.product_id)
        self.reassess(listing, product)
        await session.flush()
        return listing

    async def edit(
        self, session: AsyncSession, workspace_id: int, listing_id: int, changes: ListingEdit
    ) -> Listing:
        listing = await self.get(session, workspace_id, listing_id)
        product = await product_service.get(session, workspace_id, listing.product_id)
        values = changes.model_dump(exclude_unset=True, exclude_none=True)
        before = {name: getattr(listing, name) for name in values}
        for name, value in values.items():
            setattr(listing, name, value)
        await audit_service.record(
            session, workspace_id, "listing.edit", "listing", listing.id, diff(before, values)
        )
        if values:
            listing.edited = True
            listing.status = ListingStatus.DRAFT.value
            listing.approved_at = None
        self.reassess(listing, product)
        await product_service.mark_optimized(session, product, score=listing.score)
        await session.flush()
        return listing

    async def approve(self, session: AsyncSession, workspace_id: int, listing_id: int) -> Listing:
        listing = await self.validate(session, workspace_id, listing_id)
        errors = [i["message"] for i in listing.issues if i["severity"] == "error"]
        if errors:
            raise Conflict(
                "listing cannot be approved while it has errors: " + " ".join(errors[:3])
            )
        listing.status = ListingStatus.APPROVED.value
        listing.approved_at = utcnow()
        await audit_service.record(
            session,
            workspace_id,
            "listing.approve",
            "listing",
            listing.id,
            {"marketplace": listing.marketplace, "score": listing.score},
        )
        await session.flush()
        return listing


listing_service = ListingService()
