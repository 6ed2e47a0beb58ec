"""Listings: one row per product and target marketplace, the optimized text and its verdicts."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from listingflow.kit.models import Base, BigId, JSONValue, utcnow


class ListingStatus(enum.StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    PUBLISHED = "published"


class Listing(Base):
    __tablename__ = "listings"
    __table_args__ = (
        UniqueConstraint("product_id", "marketplace"),
        Index("ix_listings_workspace_marketplace_status", "workspace_id", "marketplace", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    marketplace: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(String(1000))
    description: Mapped[str] = mapped_column(Text)
    bullets: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)
    images: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    score: Mapped[int] = mapped_column(default=0)
    score_before: Mapped[int | None] = mapped_column(default=None)
    breakdown: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)
    issues: Mapped[list[dict[str, Any]]] = mapped_column(JSONValue, default=list)
    notes: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    engine: Mapped[str] = mapped_column(String(20))
    model: Mapped[str | None] = mapped_column(String(100), default=None)
    prompt_version: Mapped[str | None] = mapped_column(String(40), default=None)
    source_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default=ListingStatus.DRAFT.value)
    edited: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(default=None)
    # the marketplace's side, once published: its id for the listing, what it says, and when
    remote_id: Mapped[str | None] = mapped_column(String(200), default=None)
    publication_status: Mapped[str | None] = mapped_column(String(20), default=None)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    publication_error: Mapped[str | None] = mapped_column(String(2000), default=None)
