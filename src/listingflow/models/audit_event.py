"""The audit log: who did what to which object, when, from where. Rows are only ever added."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, event
from sqlalchemy.orm import Mapped, mapped_column

from listingflow.kit.models import Base, BigId, JSONValue, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_workspace_at", "workspace_id", "at"),
        Index("ix_audit_events_object", "workspace_id", "object_type", "object_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(100), default=None)
    actor_label: Mapped[str] = mapped_column(String(300))
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    action: Mapped[str] = mapped_column(String(60))  # "product.delete", "listing.edit"
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(100), default=None)
    changes: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)


class AuditLogIsAppendOnly(RuntimeError):
    pass


@event.listens_for(AuditEvent, "before_update")
def _refuse_update(*_: object) -> None:
    raise AuditLogIsAppendOnly("audit events are never changed")


@event.listens_for(AuditEvent, "before_delete")
def _refuse_delete(*_: object) -> None:
    raise AuditLogIsAppendOnly("audit events are never deleted")
