"""The dashboard: stats cards, counts by status and marketplace, recent jobs, activity chart."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from listingflow.dashboard.service import dashboard_service
from listingflow.deps import CacheDep, ReadSession
from listingflow.job.schemas import JobOut
from listingflow.job.service import job_service
from listingflow.publication.connections import connection_service
from listingflow.web.charts import activity_chart
from listingflow.web.common import page_router
from listingflow.web.pages_connections import broken
from listingflow.web.security import Viewer
from listingflow.web.templating import render

router = page_router()


@router.get("/")
async def dashboard(
    request: Request, viewer: Viewer, session: ReadSession, cache: CacheDep
) -> Response:
    overview = await dashboard_service.overview(session, viewer.workspace_id, cache=cache)
    jobs = await job_service.recent(session, viewer.workspace_id, kind=None, limit=8)
    connections = await connection_service.list(session, viewer.workspace_id)
    return render(
        request,
        "dashboard.html",
        {
            "overview": overview,
            "stats": overview.stats,
            "chart": activity_chart(overview.days),
            "jobs": [JobOut.of(job) for job in jobs],
            "broken": broken(connections),
        },
        viewer=viewer,
    )
