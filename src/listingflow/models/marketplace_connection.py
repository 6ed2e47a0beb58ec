"""Marketplace connections: one seller account on one marketplace, credentials encrypted at rest.

`settings` holds what may be shown (seller id, marketplace id, storefront, host overrides);
`secrets` and `tokens` are Fernet ciphertext of JSON (client secrets, refresh tokens; tokens a
marketplace rotates, such as Allegro's refresh token). Neither is ever logged or returned.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from listingflow.kit.models import Base, BigId, JSONValue, utcnow


class ConnectionStatus(enum.StrEnum):
    UNTESTED = "untested"  # saved, never tried
    CONNECTED = "connected"  # the last token exchange or call worked
    BROKEN = "broken"  # the refresh token was revoked or expired: reconnect


class MarketplaceConnection(Base):
    __tablename__ = "marketplace_connections"
    __table_args__ = (
        UniqueConstraint("workspace_id", "marketplace", "name", name="uq_connection_name"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    marketplace: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(100), default="default")
    status: Mapped[str] = mapped_column(String(20), default=ConnectionStatus.UNTESTED.value)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)
    secrets: Mapped[str] = mapped_column(Text)
    tokens: Mapped[str | None] = mapped_column(Text, default=None)
    last_error: Mapped[str | None] = mapped_column(String(2000), default=None)
    checked_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
