"""GET /api/audit: the workspace's audit log, newest first, paged by `before_id`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from listingflow.audit.service import audit_service
from listingflow.deps import ReadSession, WorkspaceId

router = APIRouter(tags=["audit"])


class AuditEventOut(BaseModel):
    id: int
    at: datetime
    actor_kind: str
    actor_id: str | None
    actor_label: str
    ip: str | None
    action: str
    object_type: str
    object_id: str | None
    changes: dict[str, Any]
    request_id: str | None


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    next_before_id: int | None


@router.get("/api/audit", response_model=AuditPage, summary="Who did what, newest first")
async def audit_log(
    session: ReadSession,
    workspace_id: WorkspaceId,
    action: Annotated[str | None, Query(description="prefix: product, listing.edit")] = None,
    object_type: Annotated[str | None, Query(max_length=40)] = None,
    object_id: Annotated[str | None, Query(max_length=100)] = None,
    actor: Annotated[str | None, Query(max_length=100, description="part of the label")] = None,
    since: datetime | None = None,
    before_id: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AuditPage:
    rows = await audit_service.events(
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
    items = [AuditEventOut.model_validate(row, from_attributes=True) for row in rows]
    return AuditPage(items=items, next_before_id=items[-1].id if len(items) == limit else None)
