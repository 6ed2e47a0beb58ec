"""Settings > Audit log: who did what, when and from where (the same service as GET /api/audit)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from starlette.responses import Response

from listingflow.audit.service import audit_service
from listingflow.deps import ReadSession
from listingflow.web.common import page_router
from listingflow.web.security import Viewer
from listingflow.web.templating import render

router = page_router()
PAGE_SIZE = 50


@router.get("/settings/audit")
async def audit_page(
    request: Request,
    viewer: Viewer,
    session: ReadSession,
    action: Annotated[str | None, Query(max_length=60)] = None,
    object_type: Annotated[str | None, Query(max_length=40)] = None,
    object_id: Annotated[str | None, Query(max_length=100)] = None,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    before_id: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    filters = {
        "action": (action or "").strip() or None,
        "object_type": (object_type or "").strip() or None,
        "object_id": (object_id or "").strip() or None,
        "actor": (actor or "").strip() or None,
    }
    events = await audit_service.events(
        session,
        viewer.workspace_id,
        action=filters["action"],
        object_type=filters["object_type"],
        object_id=filters["object_id"],
        actor=filters["actor"],
        before_id=before_id,
        limit=PAGE_SIZE,
    )
    return render(
        request,
        "audit.html",
        {
            "events": events,
            "filters": {k: v or "" for k, v in filters.items()},
            "next_before_id": events[-1].id if len(events) == PAGE_SIZE else None,
        },
        viewer=viewer,
    )
