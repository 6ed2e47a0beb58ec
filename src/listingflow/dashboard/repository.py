"""All SQL for the dashboard: activity per day and listings by marketplace (grouped queries)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow.models import Job, JobItem, JobItemStatus, JobKind, Listing, Product, ProductStatus


def _day(value: Any) -> str:
    return value.isoformat() if isinstance(value, date | datetime) else str(value)[:10]


class DashboardRepository:
    async def products_created_per_day(
        self, session: AsyncSession, workspace_id: int, since: datetime
    ) -> dict[str, int]:
        day = func.date(Product.created_at)
        query = (
            select(day, func.count())
            .where(Product.workspace_id == workspace_id, Product.created_at >= since)
            .group_by(day)
        )
        return {_day(d): int(n) for d, n in (await session.execute(query)).all()}

    async def optimizations_per_day(
        self, session: AsyncSession, workspace_id: int, since: datetime
    ) -> dict[str, int]:
        """Optimize job items that succeeded, by the day they finished."""
        day = func.date(JobItem.updated_at)
        query = (
            select(day, func.count())
            .join(Job, Job.id == JobItem.job_id)
            .where(
                JobItem.workspace_id == workspace_id,
                JobItem.status == JobItemStatus.SUCCEEDED.value,
                JobItem.updated_at >= since,
                Job.kind == JobKind.OPTIMIZE.value,
            )
            .group_by(day)
        )
        return {_day(d): int(n) for d, n in (await session.execute(query)).all()}

    async def publications_per_day(
        self, session: AsyncSession, workspace_id: int, since: datetime
    ) -> dict[str, int]:
        """Products whose status became published, by the day of that change."""
        day = func.date(Product.updated_at)
        query = (
            select(day, func.count())
            .where(
                Product.workspace_id == workspace_id,
                Product.status == ProductStatus.PUBLISHED.value,
                Product.updated_at >= since,
            )
            .group_by(day)
        )
        return {_day(d): int(n) for d, n in (await session.execute(query)).all()}

    async def listings_by_marketplace(
        self, session: AsyncSession, workspace_id: int
    ) -> list[tuple[str, str, int]]:
        query = (
            select(Listing.marketplace, Listing.status, func.count())
            .where(Listing.workspace_id == workspace_id)
            .group_by(Listing.marketplace, Listing.status)
            .order_by(Listing.marketplace)
        )
        return [(str(m), str(s), int(n)) for m, s, n in (await session.execute(query)).all()]


dashboard_repository = DashboardRepository()
