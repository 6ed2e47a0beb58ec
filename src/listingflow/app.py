"""create_app(): the lifespan builds the database and cache; routers and error handlers mounted."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

from listingflow import __version__, config
from listingflow import db as dbmod
from listingflow.api import router
from listingflow.auth.limits import AbuseLimits
from listingflow.auth.service import auth_service
from listingflow.config import Settings
from listingflow.exceptions import ListingflowError, database_failure
from listingflow.kit.cache import MemoryCache, RedisCache, make_cache
from listingflow.kit.runtime import tune_gc
from listingflow.logging import CorrelationIdMiddleware, configure_logging
from listingflow.middleware import BodySizeLimitMiddleware, HttpCacheMiddleware, MetricsMiddleware
from listingflow.ops import metrics as ops_metrics
from listingflow.ops.service import ops_service
from listingflow.response_cache import ResponseCacheMiddleware
from listingflow.security import (
    ERROR_SECURITY_HEADERS,
    DocsAccessMiddleware,
    RateLimitMiddleware,
    SecurityHeadersMiddleware,
)
from listingflow.web.routes import install_web
from listingflow.worker.broker import setup_broker, start_embedded_worker
from listingflow.worker.context import share_cache
from listingflow.worker.sweeper import run_sweeper

log = structlog.get_logger()


class ErrorItem(BaseModel):
    field: str | None
    message: str


class ErrorOut(BaseModel):
    """Every error: a message for people, a code for programs, per-field details."""

    detail: str
    code: str
    errors: list[ErrorItem] = []


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in {
        400: "Bad request",
        401: "Missing or invalid API key",
        404: "Not found",
        409: "Conflict",
        413: "Too large",
        429: "Too many requests; Retry-After says when to try again",
        422: "Invalid input; `errors` names each field",
    }.items()
}


def _error(
    status: int,
    code: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"detail": detail, "code": code, "errors": errors or []},
        status_code=status,
        headers=headers,
    )


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header") and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ListingflowError)
    async def _listingflow_error(_: Request, exc: ListingflowError) -> JSONResponse:
        return _error(exc.status_code, exc.code, exc.message, exc.errors, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            if err.get("type") == "missing":
                message = "is required"
            errors.append({"field": _field_path(tuple(err.get("loc", ()))), "message": message})
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]) or "invalid input"
        return _error(422, "validation_error", summary, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
        return _error(
            exc.status_code,
            codes.get(exc.status_code, "http_error"),
            str(exc.detail),
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _value_out_of_range(_: Request, exc: Exception) -> JSONResponse:
        # A value that passed validation but that the database cannot hold: an id past 64 bits
        # (SQLite cannot bind it) or past a 32-bit column (PostgreSQL: integer out of range).
        # Found by fuzzing; it is the caller's input, not a server fault, so 422 and not 500.
        log.warning("request.value_out_of_range", error=str(getattr(exc, "orig", exc)))
        return _error(
            422,
            "validation_error",
            "a value in the request is out of range for the database (ids and counts are at "
            "most 2147483647)",
        )

    @app.exception_handler(DBAPIError)
    async def _database_error(_: Request, exc: DBAPIError) -> JSONResponse:
        # A full disk (507) or a database that went away (503) is an outage, not a bug.
        error = database_failure(exc, "nothing was changed; try again later")
        if error.status_code == 500:
            log.error("request.unhandled", exc_info=exc)
            return _error(500, "internal_error", "internal server error; it has been logged")
        log.error("request.database_unavailable", error=str(exc.orig), status=error.status_code)
        return _error(error.status_code, error.code, error.message)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("request.unhandled", exc_info=exc)
        # Answered outside every middleware (Starlette's ServerErrorMiddleware): headers here.
        return _error(
            500,
            "internal_error",
            "internal server error; it has been logged",
            headers=ERROR_SECURITY_HEADERS,
        )


# Answers that must never be cached: liveness, metrics, ops reports, jobs in progress.
NO_STORE_PATHS = ("/health", "/metrics", "/api/ops", "/api/jobs", "/api/import/job")
# Reads cached under the workspace's generation whose whole answer a process may keep and replay.
CACHED_READS = frozenset({"/api/products", "/api/products/stats/summary"})
# Files are sent as they are (length and ranges intact), never gzipped on the fly.
DOWNLOAD_CONTENT_TYPES = (
    "application/octet-stream",
    "text/csv",
    "text/tab-separated-values",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-excel",
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.migrate_on_start:
        await asyncio.to_thread(dbmod.upgrade, settings.effective_database_url)
    database = dbmod.Database(settings)
    app.state.db = database
    ops_metrics.instrument_database(database)
    app.state.cache = make_cache(settings.redis_url)
    async with database.session() as session:
        await auth_service.ensure_settings_webhook_secret(session)
        await session.commit()
    app.state.broker = setup_broker(settings)
    worker = None
    if settings.broker_url is None:  # embedded mode: the jobs run in this process
        if isinstance(app.state.cache, MemoryCache):  # a Redis client belongs to its loop
            share_cache(app.state.cache)
        worker = start_embedded_worker(app.state.broker, settings.worker_threads)
    sweeper = asyncio.create_task(
        run_sweeper(
            database,
            interval=settings.job_sweep_interval,
            running_timeout=settings.job_running_timeout,
            pending_timeout=settings.job_pending_timeout,
        )
    )
    sampler = asyncio.create_task(ops_service.run_sampler(database, settings, app.state.broker))
    tune_gc()
    log.info("app.started", database=database.dialect, version=__version__)
    try:
        yield
    finally:
        sweeper.cancel()
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        ops_metrics.release_database(database)
        ops_metrics.mark_process_dead()
        if worker is not None:
            await asyncio.to_thread(worker.stop)
            share_cache(None)
        await database.dispose()
        if isinstance(app.state.cache, RedisCache):
            await app.state.cache.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    if settings is not None:
        config.settings = settings
    settings = config.settings
    configure_logging(settings.log_level, settings.log_json)
    app = FastAPI(
        title="ListingFlow",
        version=__version__,
        description=(
            "Import products, optimize listings per marketplace, validate and publish them. "
            "Keeps the v1 routes and payloads. Authenticate with `X-API-Key: <key>` or "
            "`Authorization: Bearer <key>` (create one with `listingflow apikey create`)."
        ),
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        docs_url=None if settings.api_docs == "off" else "/docs",
        redoc_url=None if settings.api_docs == "off" else "/redoc",
        openapi_url=None if settings.api_docs == "off" else "/openapi.json",
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(router)
    install_web(app)  # the pages under / (the JSON API keeps /api and /health)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    # ETag on the uncompressed body, then gzip over 1 KB (SSE streams and downloads excluded).
    app.add_middleware(
        HttpCacheMiddleware, max_age=settings.http_cache_max_age, no_store=NO_STORE_PATHS
    )
    # Limits count before any body is read; every answer (429s too) gets the security headers.
    app.state.abuse_limits = AbuseLimits(settings)
    app.add_middleware(RateLimitMiddleware, limits=app.state.abuse_limits)
    app.add_middleware(DocsAccessMiddleware, guarded=settings.api_docs == "signed_in")
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(
        GZipMiddleware,
        minimum_size=1024,
        compresslevel=6,
        exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, *DOWNLOAD_CONTENT_TYPES),
    )
    app.add_middleware(MetricsMiddleware)  # outside gzip: times the whole answer's start
    app.add_middleware(CorrelationIdMiddleware)
    app.add_middleware(
        ResponseCacheMiddleware,
        paths=CACHED_READS,
        limits=app.state.abuse_limits,
        seconds=settings.response_cache_seconds,
    )
    return app
