"""Health: liveness plus a database check (v1 GET /health)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from listingflow import __version__
from listingflow.deps import get_database

router = APIRouter(tags=["ops"])


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
