"""All SQL of export mode: products with their listing for one marketplace, a chunk at a time."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow.models import Listing, Product


class ExportRepository:
    async def chunk(
        self,
        session: AsyncSession,
        workspace_id: int,
        marketplace: str,
        *,
        after_id: int = 0,
        limit: int = 500,
        product_ids: Sequence[int] | None = None,
    ) -> list[tuple[Product, Listing | None]]:
        """Up to `limit` products with id > `after_id` (only `product_ids` when given), in id
        order, each with its listing for `marketplace` or None: one statement per chunk."""
        query = (
            select(Product, Listing)
            .outerjoin(
                Listing,
                and_(
                    Listing.product_id == Product.id,
                    Listing.workspace_id == workspace_id,
                    Listing.marketplace == marketplace,
                ),
            )
            .where(Product.workspace_id == workspace_id, Product.id > after_id)
        )
        if product_ids is not None:
            query = query.where(Product.id.in_(list(product_ids)))
        query = query.order_by(Product.id).limit(limit)
        return [(row[0], row[1]) for row in (await session.execute(query)).all()]


export_repository = ExportRepository()
