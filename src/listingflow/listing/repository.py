"""All SQL for listings."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow.models import Listing


class ListingRepository:
    async def get(
        self, session: AsyncSession, workspace_id: int, listing_id: int
    ) -> Listing | None:
        result = await session.execute(
            select(Listing).where(Listing.id == listing_id, Listing.workspace_id == workspace_id)
        )
        return result.scalar_one_or_none()

    async def for_product(
        self, session: AsyncSession, workspace_id: int, product_id: int, marketplace: str | None
    ) -> list[Listing]:
        query = select(Listing).where(
            Listing.workspace_id == workspace_id, Listing.product_id == product_id
        )
        if marketplace is not None:
            query = query.where(Listing.marketplace == marketplace)
        return list((await session.execute(query.order_by(Listing.marketplace))).scalars())

    async def for_products(
        self, session: AsyncSession, workspace_id: int, product_ids: Sequence[int]
    ) -> list[Listing]:
        """Every listing of these products, in one query (a page's worth of products)."""
        if not product_ids:
            return []
        result = await session.execute(
            select(Listing).where(
                Listing.workspace_id == workspace_id, Listing.product_id.in_(product_ids)
            )
        )
        return list(result.scalars())

    async def add(self, session: AsyncSession, listing: Listing) -> Listing:
        session.add(listing)
        await session.flush()
        return listing


listing_repository = ListingRepository()
