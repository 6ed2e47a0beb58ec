"""The operations page: health of the database, cache, broker and workers; queue depths; p95
latency and error rate; LLM calls today against the quota; the scaling advisor's advice (the
same `ops_service.status` that GET /api/ops/status reports).

The figures are the installation's, not one workspace's: every signed-in user sees them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from starlette.responses import Response

from listingflow import config
from listingflow.deps import CacheDep, ReadSession, get_database
from listingflow.job.service import job_service
from listingflow.kit.cache import cache_key
from listingflow.ops import metrics as ops_metrics
from listingflow.ops.service import ops_service
from listingflow.web.common import page_router
from listingflow.web.security import Viewer
from listingflow.web.templating import render
from listingflow.worker.broker import QUEUES

router = page_router()
PROBE_TIMEOUT = 5.0


async def _probe(check: Callable[[], Awaitable[str]]) -> dict[str, Any]:
    """Run one check with a time limit: up (with what it said) or down (with why)."""
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(check(), PROBE_TIMEOUT)
    except Exception as exc:  # any failure to reach it is "down" on this page, not a 500
        reason = str(exc) or type(exc).__name__
        return {"ok": False, "detail": f"{type(exc).__name__}: {reason}"[:300], "ms": None}
    return {"ok": True, "detail": detail, "ms": round((time.perf_counter() - started) * 1000, 1)}


@router.get("/ops")
async def operations(
    request: Request, viewer: Viewer, session: ReadSession, cache: CacheDep
) -> Response:
    settings = config.settings
    database = get_database(request)
    broker = getattr(request.app.state, "broker", None)

    async def database_check() -> str:
        await job_service.recent(session, viewer.workspace_id, kind=None, limit=1)
        return f"{database.dialect}, answered a read"

    async def cache_check() -> str:
        key = cache_key("ops-probe", viewer.workspace_id)
        await cache.set(key, "ok", 30)
        if await cache.get(key) != "ok":
            raise RuntimeError("a value written was not read back")
        return "Redis (shared by every replica)" if settings.redis_url else "in-process memory"

    async def broker_check() -> str:
        depths = await asyncio.to_thread(ops_metrics.queue_depths, settings.broker_url, broker)
        if depths is None:
            raise RuntimeError("the broker's queues cannot be read")
        kind = settings.broker_url.split(":", 1)[0] if settings.broker_url else "in-process"
        return f"{kind}, {sum(depths.values())} messages waiting"

    health = {
        "Database": await _probe(database_check),
        "Cache": await _probe(cache_check),
        "Broker": await _probe(broker_check),
    }
    status = None
    status_error = None
    try:
        status = await ops_service.status(database, settings, broker)
    except Exception as exc:  # the page still shows the probes that say what is down
        status_error = f"{type(exc).__name__}: {exc}"[:300]
    jobs = status.jobs if status else {}
    embedded = settings.broker_url is None
    counts = f"jobs running {jobs.get('running', 0)}, pending {jobs.get('pending', 0)}"
    # Embedded mode runs the jobs in this process; separate workers send no heartbeat that
    # this page could read, so their health is what their jobs and queues show.
    health["Workers"] = (
        {
            "ok": health["Broker"]["ok"],
            "detail": f"in this process ({settings.worker_threads} threads); {counts}",
            "ms": None,
        }
        if embedded
        else {
            "ok": None,
            "detail": f"separate listingflow worker processes (not visible from here); {counts}",
            "ms": None,
        }
    )
    return render(
        request,
        "ops.html",
        {
            "health": health,
            "status": status,
            "status_error": status_error,
            "queues": (status.queues if status and status.queues is not None else None),
            "queue_names": QUEUES,
            "window": settings.ops_window,
        },
        viewer=viewer,
    )
