"""All SQL of ops: read-only, whole-installation aggregates (every workspace) for metrics, the
scaling advisor and the growth-stage report. Ops reports on the installation as a whole, so it
reads the other domains' tables directly, with grouped counts only and never a write."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow.models import ApiKey, Job, Listing, LlmUsage, Product, User


class OpsRepository:
    async def jobs_by_status(self, session: AsyncSession) -> dict[str, int]:
        result = await session.execute(select(Job.status, func.count()).group_by(Job.status))
        return {str(status): int(count) for status, count in result.all()}

    async def llm_calls_on(self, session: AsyncSession, day: date) -> int:
        """LLM calls recorded for `day`, over every workspace (they share one provider quota)."""
        result = await session.execute(
            select(func.coalesce(func.sum(LlmUsage.calls), 0)).where(LlmUsage.day == day)
        )
        return int(result.scalar_one())

    async def products_created_since(self, session: AsyncSession, since: datetime) -> int:
        result = await session.execute(
            select(func.count()).select_from(Product).where(Product.created_at >= since)
        )
        return int(result.scalar_one())

    async def listings_updated_since(self, session: AsyncSession, since: datetime) -> int:
        """Optimizations: every optimize run writes (creates or rewrites) one listing row."""
        result = await session.execute(
            select(func.count()).select_from(Listing).where(Listing.updated_at >= since)
        )
        return int(result.scalar_one())

    async def active_workspaces_per_day(self, session: AsyncSession, since: datetime) -> int:
        """Distinct (workspace, day) pairs with activity since `since`: a product created or
        changed, a job started, a listing written, or an API key used."""
        activity = union(
            select(Product.workspace_id, func.date(Product.updated_at).label("day")).where(
                Product.updated_at >= since
            ),
            select(Job.workspace_id, func.date(Job.created_at).label("day")).where(
                Job.created_at >= since
            ),
            select(Listing.workspace_id, func.date(Listing.updated_at).label("day")).where(
                Listing.updated_at >= since
            ),
            select(ApiKey.workspace_id, func.date(ApiKey.last_used_at).label("day")).where(
                ApiKey.last_used_at >= since
            ),
        ).subquery()
        result = await session.execute(select(func.count()).select_from(activity))
        return int(result.scalar_one())

    async def users_signed_in_since(self, session: AsyncSession, since: datetime) -> int:
        """Web users whose last sign-in is after `since` (only the latest is kept)."""
        result = await session.execute(
            select(func.count()).select_from(User).where(User.last_login_at >= since)
        )
        return int(result.scalar_one())

    async def sample_products(self, session: AsyncSession, limit: int) -> list[Product]:
        result = await session.execute(
            select(Product).order_by(Product.created_at.desc(), Product.id.desc()).limit(limit)
        )
        return list(result.scalars())


ops_repository = OpsRepository()
