"""The catalog: one row per (workspace, source platform, source id)."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from listingflow.kit.models import Base, BigId, JSONValue, Money, utcnow


class ProductStatus(enum.StrEnum):
    IMPORTED = "imported"
    OPTIMIZING = "optimizing"
    OPTIMIZED = "optimized"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("workspace_id", "source_platform", "source_id"),
        # The scaling guide's three indexes, then the keyset-page index.
        Index("ix_products_status", "status"),
        Index("ix_products_created_at", text("created_at DESC")),
        Index("ix_products_source_platform", "source_platform"),
        Index(
            "ix_products_workspace_created_id",
            "workspace_id",
            text("created_at DESC"),
            text("id DESC"),
        ),
        # Status-filtered keyset pages, and (index-only) their counts and the stats query.
        Index(
            "ix_products_workspace_status_created_id",
            "workspace_id",
            "status",
            text("created_at DESC"),
            text("id DESC"),
            postgresql_include=["optimization_score", "updated_at"],
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    source_platform: Mapped[str] = mapped_column(String(50))
    source_id: Mapped[str] = mapped_column(String(255))
    source_url: Mapped[str | None] = mapped_column(String(2048))
    title: Mapped[str] = mapped_column(String(1000))
    description: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(500))
    brand: Mapped[str | None] = mapped_column(String(255))
    price: Mapped[Decimal] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3))
    images: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)
    status: Mapped[str] = mapped_column(String(20), default=ProductStatus.IMPORTED.value)
    optimization_score: Mapped[int | None] = mapped_column(default=None)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# Search (`q`: a substring of the title or the source id, any case) on PostgreSQL: trigram GIN
# indexes on the lowered text serve `lower(x) LIKE '%...%'`. SQLite has no trigram index (it
# scans); `info["dialects"]` tells `db check` so.
for _column in (Product.title, Product.source_id):
    Index(
        f"ix_products_{_column.key}_trgm",
        func.lower(_column).label(f"{_column.key}_lower"),
        postgresql_using="gin",
        postgresql_ops={f"{_column.key}_lower": "gin_trgm_ops"},
        info={"dialects": ("postgresql",)},
    ).ddl_if(dialect="postgresql")
