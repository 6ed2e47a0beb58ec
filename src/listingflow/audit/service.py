"""Recording and reading the audit log. `record` only adds a row to the caller's transaction:
the event is committed with the change it describes, or not at all."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow.audit.repository import audit_repository
from listingflow.kit.actor import current_actor
from listingflow.models import AuditEvent

MAX_VALUE = 300  # characters kept of a changed text value


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_VALUE:
        return value[:MAX_VALUE] + "…"
    if isinstance(value, list):
        return [_short(v) for v in value[:20]]
    return value


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """{field: {"from": old, "to": new}} for the fields that changed."""
    return {
        name: {"from": _short(before.get(name)), "to": _short(value)}
        for name, value in after.items()
        if before.get(name) != value
    }


class AuditService:
    async def record(
        self,
        session: AsyncSession,
        workspace_id: int,
        action: str,
        object_type: str,
        object_id: object | None = None,
        changes: dict[str, Any] | None = None,
    ) -> None:
        actor = current_actor()
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        await audit_repository.add(
            session,
            AuditEvent(
                workspace_id=workspace_id,
                actor_kind=actor.kind,
                actor_id=actor.id,
                actor_label=actor.label[:300],
                ip=actor.ip,
                action=action,
                object_type=object_type,
                object_id=None if object_id is None else str(object_id),
                changes={k: _short(v) for k, v in (changes or {}).items()},
                request_id=str(request_id)[:64] if request_id else None,
            ),
        )

    async def events(
        self,
        session: AsyncSession,
        workspace_id: int,
        *,
        action: str | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[AuditEvent]:
        return await audit_repository.events(
            session,
            workspace_id,
            action=action,
            object_type=object_type,
            object_id=object_id,
            actor=actor,
            since=since,
            before_id=before_id,
            limit=limit,
        )


audit_service = AuditService()
