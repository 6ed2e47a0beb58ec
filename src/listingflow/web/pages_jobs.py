"""Optimize and jobs pages: start an optimize job (as POST /api/ai/batch-optimize does), follow
its progress live over Server-Sent Events, cancel it, retry its failed items."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Form, Query, Request
from sse_starlette.sse import EventSourceResponse
from starlette.responses import RedirectResponse, Response

from listingflow import config
from listingflow.deps import CacheDep, ReadSession, WriteSession, get_database
from listingflow.exceptions import ListingflowError, PayloadTooLarge, ValidationFailed
from listingflow.job.schemas import JobItemOut, JobOut
from listingflow.job.service import job_items_service, job_queue, job_service
from listingflow.models import JobKind, ProductStatus
from listingflow.optimization.engines import llm_configured
from listingflow.optimization.service import LLM, OFFLINE, check_engine, check_marketplace
from listingflow.product.service import product_service
from listingflow.rules.marketplaces import MARKETPLACES
from listingflow.web.common import page_router, unit_of_work
from listingflow.web.pages_products import product_filter
from listingflow.web.security import Viewer
from listingflow.web.templating import render
from listingflow.worker.enqueue import send_job_items

router = page_router()
_OPEN = ("pending", "running")


def _optimize_page(
    request: Request,
    viewer: Viewer,
    *,
    product_ids: list[int],
    form: dict[str, object] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "optimize.html",
        {
            "product_ids": product_ids,
            "form": form
            or {"marketplaces": ["allegro"], "scope": "selection" if product_ids else "filter"},
            "error": error,
            "marketplaces": _optimizable(),
            "statuses": [s.value for s in ProductStatus],
            "engines": [(OFFLINE, True), (LLM, llm_configured())],
            "default_engine": check_engine(None),
            "limit": config.settings.max_batch_items,
        },
        viewer=viewer,
        status_code=status_code,
    )


def _optimizable() -> list[str]:
    """The marketplaces the optimizer writes for (as check_marketplace accepts them)."""
    names = []
    for name in MARKETPLACES:
        try:
            names.append(check_marketplace(name))
        except ListingflowError:
            continue
    return names


@router.get("/optimize")
async def optimize_page(request: Request, viewer: Viewer) -> Response:
    return _optimize_page(request, viewer, product_ids=[])


@router.post("/optimize/selection")
async def optimize_selection(
    request: Request,
    viewer: Viewer,
    product_ids: Annotated[list[int], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
) -> Response:
    """The optimize form for products picked on the products page (nothing starts yet)."""
    return _optimize_page(request, viewer, product_ids=list(dict.fromkeys(product_ids)))


@router.post("/optimize")
async def start_optimize(
    request: Request, viewer: Viewer, session: WriteSession, cache: CacheDep
) -> Response:
    submitted = await request.form()
    product_ids = [int(str(v)) for v in submitted.getlist("product_ids") if str(v).isdigit()]
    marketplaces = [str(v) for v in submitted.getlist("marketplaces")]
    scope = str(submitted.get("scope") or ("selection" if product_ids else "filter"))
    form: dict[str, object] = {
        key: str(submitted.get(key) or "")
        for key in ("q", "status", "source", "score_min", "score_max", "engine")
    }
    form.update(marketplaces=marketplaces, scope=scope)
    limit = config.settings.max_batch_items
    try:
        if not marketplaces:
            raise ValidationFailed("choose at least one marketplace", field="marketplaces")
        marketplaces = [check_marketplace(m, "marketplaces") for m in dict.fromkeys(marketplaces)]
        engine = check_engine(str(form["engine"]) or None)
        if scope == "filter":
            flt = product_filter(
                str(form["q"]) or None,
                str(form["status"]) or None,
                str(form["source"]) or None,
                None,
                _int(form["score_min"]),
                _int(form["score_max"]),
            )
            product_ids = await product_service.ids(
                session, viewer.workspace_id, flt=flt, limit=limit + 1
            )
        if not product_ids:
            raise ValidationFailed("no products match: nothing to optimize", field="products")
        if len(product_ids) * len(marketplaces) > limit:
            raise PayloadTooLarge(
                f"{len(product_ids) * len(marketplaces)} optimizations in one job; the limit is "
                f"{limit}: narrow the filter",
                field="products",
            )
    except ListingflowError as exc:
        return _optimize_page(
            request,
            viewer,
            product_ids=product_ids if scope == "selection" else [],
            form=form,
            error=exc.message,
            status_code=exc.status_code,
        )
    uow = unit_of_work(session, cache, viewer)
    job, item_ids = await job_items_service.create(
        uow.session,
        uow.workspace_id,
        kind=JobKind.OPTIMIZE,
        source=f"web-optimize:{','.join(marketplaces)}"[:200],
        items=[(pid, m) for pid in product_ids for m in marketplaces],
        params={"engine": engine, "marketplaces": marketplaces},
        # As batch-optimize: LLM work has its own queue so its rate limit never holds up bulk.
        queue="llm" if engine == LLM else None,
    )
    job_id, queue = job.id, job_queue(job)
    uow.after_commit(lambda: send_job_items(JobKind.OPTIMIZE.value, item_ids, queue=queue))
    await uow.commit()
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


def _int(value: object) -> int | None:
    text = str(value or "").strip()
    return max(0, min(100, int(text))) if text.isdigit() else None


@router.get("/jobs")
async def jobs_page(
    request: Request,
    viewer: Viewer,
    session: ReadSession,
    kind: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    jobs = await job_service.recent(session, viewer.workspace_id, kind=kind or None, limit=100)
    return render(
        request,
        "jobs.html",
        {"jobs": [JobOut.of(job) for job in jobs], "kind": kind or "", "kinds": list(JobKind)},
        viewer=viewer,
    )


@router.get("/jobs/{job_id}")
async def job_page(
    request: Request,
    job_id: int,
    viewer: Viewer,
    session: ReadSession,
    message: str | None = None,
) -> Response:
    job = await job_service.get(session, viewer.workspace_id, job_id)
    failed = await job_items_service.items(session, job, status="failed", offset=0, limit=200)
    published = (
        await job_items_service.items(session, job, status="succeeded", offset=0, limit=200)
        if job.kind == JobKind.PUBLISH.value
        else []
    )
    out = JobOut.of(job)
    return render(
        request,
        "job.html",
        {
            "job": out,
            "running": out.status in _OPEN,
            "failed_items": [JobItemOut.of(item) for item in failed],
            "published_items": [JobItemOut.of(item) for item in published],
            "dry_run": bool((job.params or {}).get("dry_run")),
            "import_errors": (job.result or {}).get("errors", []),
            "message": {"cancelled": "Cancelled.", "retried": "Failed items sent again."}.get(
                message or ""
            ),
        },
        viewer=viewer,
    )


@router.get("/jobs/{job_id}/events")
async def job_events(
    request: Request,
    job_id: int,
    viewer: Viewer,
    interval: Annotated[float, Query(ge=0.2, le=10)] = 0.5,
) -> EventSourceResponse:
    """The web twin of GET /api/jobs/{id}/events, signed in by the session cookie (an
    EventSource cannot send an API key): `progress` while the job runs, then one `done`."""
    database = get_database(request)
    workspace_id = viewer.workspace_id
    async with database.read_sessionmaker() as session:
        await job_service.get(session, workspace_id, job_id)  # 404 before the stream starts

    async def events() -> AsyncIterator[dict[str, str]]:
        last = None
        while True:
            async with database.read_sessionmaker() as session:
                job = JobOut.of(await job_service.get(session, workspace_id, job_id))
            data = job.model_dump_json(include=_EVENT_FIELDS)
            finished = job.status not in _OPEN
            if data != last or finished:
                yield {"event": "done" if finished else "progress", "data": data}
                last = data
            if finished or await request.is_disconnected():
                return
            await asyncio.sleep(interval)

    return EventSourceResponse(events(), ping=15)


_EVENT_FIELDS = {"id", "status", "total", "processed", "succeeded", "failed", "progress"}


@router.post("/jobs/{job_id}/cancel")
async def cancel_job(
    job_id: int, viewer: Viewer, session: WriteSession, cache: CacheDep
) -> Response:
    uow = unit_of_work(session, cache, viewer)
    await job_items_service.cancel(uow.session, uow.workspace_id, job_id)
    await uow.commit()
    return RedirectResponse(f"/jobs/{job_id}?message=cancelled", status_code=303)


@router.post("/jobs/{job_id}/retry-failed")
async def retry_failed(
    job_id: int, viewer: Viewer, session: WriteSession, cache: CacheDep
) -> Response:
    uow = unit_of_work(session, cache, viewer)
    job, item_ids = await job_items_service.retry_failed(uow.session, uow.workspace_id, job_id)
    kind, queue = job.kind, job_queue(job)
    uow.after_commit(lambda: send_job_items(kind, item_ids, queue=queue))
    await uow.commit()
    return RedirectResponse(f"/jobs/{job_id}?message=retried", status_code=303)
