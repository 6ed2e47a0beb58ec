"""Ops routes: health (v1 GET /health), Prometheus metrics and the scaling advisor's status.

/metrics and /api/ops/status are for operators: with LISTINGFLOW_METRICS_TOKEN set they need
`Authorization: Bearer <token>`; without it only loopback clients are answered, and never in
production.
"""

from __future__ import annotations

import hmac
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from listingflow import __version__, config
from listingflow.deps import get_database
from listingflow.exceptions import Forbidden, Unauthorized
from listingflow.ops import metrics as ops_metrics
from listingflow.ops.service import ops_service

router = APIRouter(tags=["ops"])

_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def require_operator(request: Request) -> None:
    """The metrics token when one is set; otherwise a loopback client outside production."""
    settings = config.settings
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    if token:
        presented = request.headers.get("authorization", "")
        scheme, _, value = presented.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip(), token):
            raise Unauthorized(
                "send Authorization: Bearer <LISTINGFLOW_METRICS_TOKEN>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return
    host = request.client.host if request.client else ""
    if settings.environment == "production" or host not in _LOOPBACK:
        raise Forbidden(
            "set LISTINGFLOW_METRICS_TOKEN to read metrics from another host "
            "(without it only loopback clients outside production are answered)"
        )


@router.get("/health", summary="Liveness and database check")
async def health(request: Request) -> JSONResponse:
    db = get_database(request)
    body = {"status": "healthy", "database": "connected", "version": __version__}
    try:
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        body["database_dialect"] = db.dialect
        return JSONResponse(body)
    except Exception as exc:  # any failure to reach the database is "unhealthy", not a 500
        body.update(status="unhealthy", database="disconnected", error=type(exc).__name__)
        return JSONResponse(body, status_code=503)


@router.get(
    "/metrics",
    summary="Prometheus metrics (operators: bearer LISTINGFLOW_METRICS_TOKEN)",
    response_class=Response,
)
async def metrics(request: Request) -> Response:
    require_operator(request)
    # A fresh sample refreshes queue depth, jobs by status, CPU and memory for this scrape.
    await ops_service.take_sample(
        get_database(request), config.settings, getattr(request.app.state, "broker", None)
    )
    return Response(ops_metrics.render(), media_type=ops_metrics.CONTENT_TYPE)


@router.get("/api/ops/status", summary="What to scale, and why (the scaling guide's thresholds)")
async def ops_status(request: Request) -> dict[str, Any]:
    require_operator(request)
    status = await ops_service.status(
        get_database(request), config.settings, getattr(request.app.state, "broker", None)
    )
    readings = status.readings
    return {
        "status": status.advice.status.value,
        "summary": status.advice.summary(),
        "window_seconds": round(readings.window_seconds, 1),
        "samples": status.samples,
        "findings": [{**asdict(f), "status": f.status.value} for f in status.advice.findings],
        "readings": {
            **asdict(readings),
            "error_rate_percent": readings.error_rate_percent,
            "db_connections_percent": readings.db_connections_percent,
            "llm_quota_percent": readings.llm_quota_percent,
        },
        "queues": status.queues,
        "jobs": status.jobs,
    }
