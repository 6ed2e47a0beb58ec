"""Product shapes the API returns (the v1 contract plus additive fields)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field, field_serializer

from listingflow.kit.models import normalize_money
from listingflow.models import Listing, Product


class ProductOut(BaseModel):
    id: int
    source_platform: str
    source_id: str
    source_url: str | None
    title_original: str
    title_optimized: str | None = None
    description_original: str | None
    description_optimized: str | None = None
    category: str | None
    brand: str | None
    price: Decimal
    currency: str
    images: list[str]
    attributes: dict[str, Any]
    status: str
    optimization_score: int | None
    marketplace_data: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime

    @field_serializer("price")
    def _price(self, value: Decimal) -> float:
        # v1 clients read a JSON number; the stored value stays exact.
        return float(normalize_money(value))

    @classmethod
    def of(cls, product: Product, listings: Sequence[Listing] = ()) -> ProductOut:
        """v1 view: the optimized fields show the product's most recently updated listing."""
        latest = max(listings, key=lambda item: item.updated_at, default=None)
        return cls(
            id=product.id,
            source_platform=product.source_platform,
            source_id=product.source_id,
            source_url=product.source_url,
            title_original=product.title,
            title_optimized=latest.title if latest else None,
            description_original=product.description,
            description_optimized=latest.description if latest else None,
            category=product.category,
            brand=product.brand,
            price=product.price,
            currency=product.currency,
            images=product.images,
            attributes=product.attributes,
            status=product.status,
            optimization_score=product.optimization_score,
            marketplace_data={
                item.marketplace: {
                    "listing_id": item.id,
                    "status": item.status,
                    "score": item.score,
                    "remote_id": item.remote_id,
                    "publication_status": item.publication_status,
                    "published_at": item.published_at,
                    "url": None,
                    "last_error": item.publication_error,
                }
                for item in listings
            },
            created_at=product.created_at,
            updated_at=product.updated_at,
        )


class ProductPage(BaseModel):
    items: list[ProductOut]
    total: int = Field(
        description="Products matching the filters: an exact count, cached per workspace until "
        "the next write to that workspace (never a stale number after your own change)."
    )
    page: int
    page_size: int
    total_pages: int
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page (fast at any depth)."
    )


@dataclass(frozen=True)
class ProductRows:
    """One page of products as the service reads them; the front door adds their listings."""

    rows: list[Product]
    total: int
    page: int
    page_size: int
    next_cursor: str | None

    def to_page(self, listings: Mapping[int, Sequence[Listing]]) -> ProductPage:
        return ProductPage(
            items=[ProductOut.of(p, listings.get(p.id, ())) for p in self.rows],
            total=self.total,
            page=self.page,
            page_size=self.page_size,
            total_pages=math.ceil(self.total / self.page_size) if self.total else 0,
            next_cursor=self.next_cursor,
        )


class ProductStats(BaseModel):
    total_products: int
    pending_optimization: int
    optimized_products: int
    published_products: int
    failed_products: int
    average_optimization_score: float | None
    recent_imports: int = Field(description="Products created in the last 24 hours.")
    recent_publishes: int = Field(description="Products published in the last 24 hours.")
    by_status: dict[str, int]
