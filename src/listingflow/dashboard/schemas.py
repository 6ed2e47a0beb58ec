"""Dashboard shapes: one overview, cached per workspace generation."""

from __future__ import annotations

from pydantic import BaseModel

from listingflow.product.schemas import ProductStats


class DayActivity(BaseModel):
    day: str
    imports: int
    optimizations: int
    publications: int


class MarketplaceCounts(BaseModel):
    marketplace: str
    total: int
    by_status: dict[str, int]


class DashboardOverview(BaseModel):
    stats: ProductStats
    marketplaces: list[MarketplaceCounts]
    days: list[DayActivity]
