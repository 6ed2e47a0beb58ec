"""Job routes: list, detail with progress and paginated items, cancel, retry failed items."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sse_starlette.sse import EventSourceResponse

from listingflow.deps import ReadSession, Uow, WorkspaceId, get_cache, get_database
from listingflow.job.schemas import JobDetail, JobItemOut, JobOut
from listingflow.job.service import job_items_service, job_queue, job_service
from listingflow.worker.enqueue import send_job_items

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


@router.get("", response_model=list[JobOut], summary="Recent jobs, newest first")
async def list_jobs(
    session: ReadSession,
    workspace_id: WorkspaceId,
    kind: Annotated[str | None, Query(description="import, optimize, ...")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[JobOut]:
    jobs = await job_service.recent(session, workspace_id, kind=kind, limit=limit)
    return [JobOut.of(job) for job in jobs]


@router.get("/{job_id}", response_model=JobDetail, summary="A job's progress and its items")
async def get_job(
    job_id: int,
    session: ReadSession,
    workspace_id: WorkspaceId,
    items_status: Annotated[
        str | None, Query(description="only items with this status, e.g. failed")
    ] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> JobDetail:
    job = await job_service.get(session, workspace_id, job_id)
    items = await job_items_service.items(
        session, job, status=items_status, offset=offset, limit=limit
    )
    return JobDetail(
        **JobOut.of(job).model_dump(),
        items=[JobItemOut.of(item) for item in items],
        items_offset=offset,
        items_limit=limit,
    )


@router.get(
    "/{job_id}/events",
    summary="Server-Sent Events: `progress` while the job runs, then one `done`",
    response_class=EventSourceResponse,
)
async def job_events(
    job_id: int,
    request: Request,
    workspace_id: WorkspaceId,
    interval: Annotated[float, Query(ge=0.1, le=10)] = 1.0,
) -> EventSourceResponse:
    # Chosen once, as for any read: the primary if this workspace just wrote (its new job).
    sessionmaker = await get_database(request).reader(get_cache(request), workspace_id)
    async with sessionmaker() as session:
        await job_service.get(session, workspace_id, job_id)  # 404 before the stream starts

    async def events() -> AsyncIterator[dict[str, str]]:
        last = None
        while True:
            async with sessionmaker() as session:
                job = JobOut.of(await job_service.get(session, workspace_id, job_id))
            data = job.model_dump_json()
            finished = job.status not in ("pending", "running")
            if data != last or finished:
                yield {"event": "done" if finished else "progress", "data": data}
                last = data
            if finished or await request.is_disconnected():
                return
            await asyncio.sleep(interval)

    return EventSourceResponse(events(), ping=15)


@router.post("/{job_id}/cancel", response_model=JobOut, summary="Cancel the items not started")
async def cancel_job(job_id: int, uow: Uow) -> JobOut:
    job = await job_items_service.cancel(uow.session, uow.workspace_id, job_id)
    await uow.commit()
    return JobOut.of(job)


@router.post("/{job_id}/retry-failed", response_model=JobOut, summary="Run failed items again")
async def retry_failed(job_id: int, uow: Uow) -> JobOut:
    job, item_ids = await job_items_service.retry_failed(uow.session, uow.workspace_id, job_id)
    kind, queue = job.kind, job_queue(job)
    uow.after_commit(lambda: send_job_items(kind, item_ids, queue=queue))
    await uow.commit()
    return JobOut.of(job)
