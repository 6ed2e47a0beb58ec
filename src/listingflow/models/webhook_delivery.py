"""Signatures already accepted, kept for the signature window so a replay is refused."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from listingflow.kit.models import Base, utcnow


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"

    signature_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
