"""Listing shapes for the API: the listing, hand edits, validation results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from listingflow.models import Listing


class IssueOut(BaseModel):
    code: str
    field: str
    severity: str = Field(description="error blocks publishing; warning and info do not")
    message: str


class ListingOut(BaseModel):
    id: int
    product_id: int
    marketplace: str
    title: str
    description: str
    bullets: list[str]
    keywords: list[str]
    attributes: dict[str, Any]
    images: list[str]
    language: str | None
    score: int = Field(description="0-100 quality score of this listing")
    score_before: int | None = Field(description="the same score for the unoptimized product")
    breakdown: dict[str, Any]
    issues: list[IssueOut]
    notes: list[str]
    engine: str
    model: str | None
    prompt_version: str | None
    status: str
    edited: bool
    stale: bool = Field(description="the product changed since this listing was made")
    created_at: datetime
    updated_at: datetime
    approved_at: datetime | None

    @classmethod
    def of(cls, listing: Listing, *, product_hash: str | None = None) -> ListingOut:
        return cls(
            id=listing.id,
            product_id=listing.product_id,
            marketplace=listing.marketplace,
            title=listing.title,
            description=listing.description,
            bullets=listing.bullets,
            keywords=listing.keywords,
            attributes=listing.attributes,
            images=listing.images,
            language=listing.language,
            score=listing.score,
            score_before=listing.score_before,
            breakdown=listing.breakdown,
            issues=[IssueOut.model_validate(i) for i in listing.issues],
            notes=listing.notes,
            engine=listing.engine,
            model=listing.model,
            prompt_version=listing.prompt_version,
            status=listing.status,
            edited=listing.edited,
            stale=product_hash is not None and product_hash != listing.source_hash,
            created_at=listing.created_at,
            updated_at=listing.updated_at,
            approved_at=listing.approved_at,
        )


class ListingEdit(BaseModel):
    """A seller's hand edit; fields left out stay as they are."""

    title: str | None = Field(default=None, min_length=1, max_length=1000)
    description: str | None = Field(default=None, max_length=100_000)
    bullets: list[str] | None = Field(default=None, max_length=20)
    keywords: list[str] | None = Field(default=None, max_length=300)


class ValidationOut(BaseModel):
    listing_id: int
    marketplace: str
    valid: bool = Field(description="no error-level issues")
    issues: list[IssueOut]
    score: int
