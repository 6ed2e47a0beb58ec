"""All SQL for reading and deleting catalog products: keyset and offset pages, counts, stats."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, delete, exists, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow.models import Listing, Product, ProductStatus


@dataclass(frozen=True)
class ProductFilter:
    status: str | None = None
    source_platform: str | None = None
    q: str | None = None
    marketplace: str | None = None  # has a listing for this marketplace
    score_min: int | None = None
    score_max: int | None = None

    def scope(self) -> str:
        base = f"{self.status or ''}|{self.source_platform or ''}|{self.q or ''}"
        if self.marketplace or self.score_min is not None or self.score_max is not None:
            # Only then: cursors and cached counts of the older filters keep their scope.
            base += f"|{self.marketplace or ''}|{self.score_min}|{self.score_max}"
        return base


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class ProductRepository:
    def _filtered(self, query: Select[Any], workspace_id: int, flt: ProductFilter) -> Select[Any]:
        query = query.where(Product.workspace_id == workspace_id)
        if flt.status:
            query = query.where(Product.status == flt.status)
        if flt.source_platform:
            query = query.where(Product.source_platform == flt.source_platform)
        if flt.q:
            pattern = f"%{_escape_like(flt.q.lower())}%"
            query = query.where(
                or_(
                    func.lower(Product.title).like(pattern, escape="\\"),
                    func.lower(Product.source_id).like(pattern, escape="\\"),
                )
            )
        if flt.marketplace:
            query = query.where(
                exists().where(
                    Listing.product_id == Product.id, Listing.marketplace == flt.marketplace
                )
            )
        if flt.score_min is not None:
            query = query.where(Product.optimization_score >= flt.score_min)
        if flt.score_max is not None:
            query = query.where(Product.optimization_score <= flt.score_max)
        return query

    async def page(
        self,
        session: AsyncSession,
        workspace_id: int,
        flt: ProductFilter,
        *,
        limit: int,
        after: tuple[datetime, int] | None = None,
        offset: int = 0,
    ) -> list[Product]:
        """Newest first. `after` seeks past a keyset position; `offset` is the v1 page fallback."""
        query = self._filtered(select(Product), workspace_id, flt)
        if after is not None:
            query = query.where(tuple_(Product.created_at, Product.id) < tuple_(*after))
        query = query.order_by(Product.created_at.desc(), Product.id.desc()).limit(limit)
        if offset:
            query = query.offset(offset)
        return list((await session.execute(query)).scalars())

    async def ids(
        self, session: AsyncSession, workspace_id: int, flt: ProductFilter, *, limit: int
    ) -> list[int]:
        """Ids of the newest products matching the filter (for bulk work), at most `limit`."""
        query = self._filtered(select(Product.id), workspace_id, flt)
        query = query.order_by(Product.created_at.desc(), Product.id.desc()).limit(limit)
        return [int(i) for i in (await session.execute(query)).scalars()]

    async def count(self, session: AsyncSession, workspace_id: int, flt: ProductFilter) -> int:
        query = self._filtered(select(func.count()).select_from(Product), workspace_id, flt)
        return int((await session.execute(query)).scalar_one())

    async def get(
        self, session: AsyncSession, workspace_id: int, product_id: int
    ) -> Product | None:
        result = await session.execute(
            select(Product).where(Product.id == product_id, Product.workspace_id == workspace_id)
        )
        return result.scalar_one_or_none()

    async def get_many(
        self, session: AsyncSession, workspace_id: int, product_ids: Sequence[int]
    ) -> list[Product]:
        if not product_ids:
            return []
        result = await session.execute(
            select(Product).where(
                Product.workspace_id == workspace_id, Product.id.in_(list(product_ids))
            )
        )
        return list(result.scalars())

    async def delete(self, session: AsyncSession, workspace_id: int, product_id: int) -> bool:
        result = await session.execute(
            delete(Product).where(Product.id == product_id, Product.workspace_id == workspace_id)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def stats_by_status(
        self, session: AsyncSession, workspace_id: int, since: datetime
    ) -> list[tuple[str, int, int, int, int, int]]:
        """One grouped query: per status the count, score sum and count, and last-24h counts."""
        recent = case((Product.created_at >= since, 1), else_=0)
        published_recently = case(
            (
                (Product.status == ProductStatus.PUBLISHED.value) & (Product.updated_at >= since),
                1,
            ),
            else_=0,
        )
        query = (
            select(
                Product.status,
                func.count(),
                func.coalesce(func.sum(Product.optimization_score), 0),
                func.count(Product.optimization_score),
                func.coalesce(func.sum(recent), 0),
                func.coalesce(func.sum(published_recently), 0),
            )
            .where(Product.workspace_id == workspace_id)
            .group_by(Product.status)
        )
        rows = (await session.execute(query)).all()
        return [(str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5])) for r in rows]


product_repository = ProductRepository()
