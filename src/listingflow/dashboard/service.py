"""Dashboard use case: product stats, listings by marketplace and the last days' activity."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from listingflow import config
from listingflow.dashboard.repository import dashboard_repository
from listingflow.dashboard.schemas import DashboardOverview, DayActivity, MarketplaceCounts
from listingflow.kit.cache import Cache, cache_key, workspace_generation
from listingflow.kit.models import utcnow
from listingflow.product.service import product_service

DAYS = 14


class DashboardService:
    async def overview(
        self, session: AsyncSession, workspace_id: int, *, cache: Cache, days: int = DAYS
    ) -> DashboardOverview:
        """Cached under the workspace's generation: recomputed once per write, not per view."""
        generation = await workspace_generation(cache, workspace_id)
        today = utcnow().date()
        key = cache_key("dashboard", workspace_id, generation, today.isoformat(), days)
        cached = await cache.get(key)
        if cached is not None:
            return DashboardOverview.model_validate(cached)
        start = today - timedelta(days=days - 1)
        since = datetime.combine(start, datetime.min.time(), tzinfo=utcnow().tzinfo)
        imports = await dashboard_repository.products_created_per_day(session, workspace_id, since)
        optimized = await dashboard_repository.optimizations_per_day(session, workspace_id, since)
        published = await dashboard_repository.publications_per_day(session, workspace_id, since)
        series = []
        for offset in range(days):
            day = (start + timedelta(days=offset)).isoformat()
            series.append(
                DayActivity(
                    day=day,
                    imports=imports.get(day, 0),
                    optimizations=optimized.get(day, 0),
                    publications=published.get(day, 0),
                )
            )
        by_marketplace: dict[str, dict[str, int]] = {}
        for marketplace, status, count in await dashboard_repository.listings_by_marketplace(
            session, workspace_id
        ):
            by_marketplace.setdefault(marketplace, {})[status] = count
        overview = DashboardOverview(
            stats=await product_service.stats(session, workspace_id, cache=cache),
            marketplaces=[
                MarketplaceCounts(marketplace=m, total=sum(s.values()), by_status=s)
                for m, s in by_marketplace.items()
            ],
            days=series,
        )
        await cache.set(key, overview.model_dump(), config.settings.cache_ttl_stats)
        return overview


dashboard_service = DashboardService()
