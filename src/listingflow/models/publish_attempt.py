"""Publish attempts: every call that tried to put a listing on a marketplace, and its answer.

The publication history of a product: what was sent (a secret-free summary and the price with
the rule that made it), what came back (status, remote id, HTTP status, issues), by which job.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from listingflow.kit.models import Base, BigId, JSONValue, utcnow


class PublishAttempt(Base):
    __tablename__ = "publish_attempts"
    __table_args__ = (
        Index("ix_publish_attempts_product", "workspace_id", "product_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    listing_id: Mapped[int | None] = mapped_column(
        ForeignKey("listings.id", ondelete="SET NULL"), default=None
    )
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("marketplace_connections.id", ondelete="SET NULL"), default=None
    )
    job_id: Mapped[int | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL"), default=None
    )
    marketplace: Mapped[str] = mapped_column(String(30))
    mode: Mapped[str] = mapped_column(String(20))  # publish, dry_run, status
    status: Mapped[str] = mapped_column(String(20))  # PublishStatus, or blocked / held / failed
    sku: Mapped[str | None] = mapped_column(String(100), default=None)
    remote_id: Mapped[str | None] = mapped_column(String(200), default=None)
    http_status: Mapped[int | None] = mapped_column(default=None)
    issues: Mapped[list[dict[str, Any]]] = mapped_column(JSONValue, default=list)
    request_summary: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)
    price: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)
    error: Mapped[str | None] = mapped_column(String(2000), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
