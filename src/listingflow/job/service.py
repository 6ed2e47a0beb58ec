"""Job records: create, count progress, finish; job items: fan-out, claim, retry, sweep.

A job remembers the queue its items were sent to and the request id that started it, so the
sweeper and retry-failed resend on the same queue and the worker's logs carry that id."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow.audit.service import audit_service
from listingflow.exceptions import Conflict, NotFound
from listingflow.job.repository import job_repository
from listingflow.kit.models import utcnow
from listingflow.models import (
    FINISHED_ITEM_STATUSES,
    Job,
    JobItem,
    JobItemStatus,
    JobKind,
    JobStatus,
)


def _origin(params: dict[str, Any] | None, queue: str | None = None) -> dict[str, Any]:
    """The params plus where the job came from: the request id (log correlation) and queue."""
    merged = dict(params or {})
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if request_id:
        merged.setdefault("request_id", request_id)
    if queue:
        merged["queue"] = queue
    return merged


AUDITED_PARAMS = ("marketplace", "engine", "dry_run", "connection_id", "queue")


def job_queue(job: Job) -> str | None:
    """The queue the job's items go to (None: the actor's own)."""
    queue = (job.params or {}).get("queue")
    return str(queue) if queue else None


class JobService:
    async def start(
        self,
        session: AsyncSession,
        workspace_id: int,
        *,
        kind: JobKind,
        source: str | None,
        total: int = 0,
        params: dict[str, Any] | None = None,
    ) -> Job:
        job = Job(
            workspace_id=workspace_id,
            kind=kind.value,
            source=source,
            status=JobStatus.RUNNING.value,
            total=total,
            params=_origin(params),
            result={},
            started_at=utcnow(),
        )
        return await job_repository.add(session, job)

    def count(self, job: Job, *, succeeded: int, failed: int) -> None:
        job.succeeded += succeeded
        job.failed += failed
        job.processed += succeeded + failed
        job.total = max(job.total, job.processed)

    def finish(
        self, job: Job, *, error: str | None = None, result: dict[str, Any] | None = None
    ) -> None:
        job.status = (JobStatus.FAILED if error else JobStatus.COMPLETED).value
        job.error_summary = error[:2000] if error else None
        if result is not None:
            job.result = result
        job.completed_at = utcnow()

    async def recent(
        self, session: AsyncSession, workspace_id: int, *, kind: str | None, limit: int
    ) -> list[Job]:
        return await job_repository.recent(session, workspace_id, kind=kind, limit=limit)

    async def wait(
        self, session: AsyncSession, workspace_id: int, job_id: int, *, seconds: float
    ) -> Job:
        """The job once it has finished, or as it is when the timeout runs out."""
        deadline = time.monotonic() + seconds
        while True:
            await session.rollback()  # a fresh snapshot each time (SQLite keeps the first one)
            job = await self.get(session, workspace_id, job_id)
            await session.refresh(job)
            if job.status not in (JobStatus.PENDING.value, JobStatus.RUNNING.value):
                return job
            if time.monotonic() >= deadline:
                return job
            await asyncio.sleep(0.05)

    async def get(self, session: AsyncSession, workspace_id: int, job_id: int) -> Job:
        job = await job_repository.get(session, workspace_id, job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        return job


job_service = JobService()


class JobItemsService:
    """Jobs made of items: fan-out, claiming, finishing, cancel, retry and the sweeper."""

    async def create(
        self,
        session: AsyncSession,
        workspace_id: int,
        *,
        kind: JobKind,
        source: str | None,
        items: Sequence[tuple[int | None, str | None]],
        params: dict[str, Any],
        queue: str | None = None,
    ) -> tuple[Job, list[int]]:
        """The job and its items as rows (flushed, not committed); returns the item ids to
        enqueue (on `queue`, or the actor's own) once the boundary has committed."""
        job = Job(
            workspace_id=workspace_id,
            kind=kind.value,
            source=source,
            status=JobStatus.PENDING.value,
            total=len(items),
            params=_origin(params, queue),
            result={},
        )
        await job_repository.add(session, job)
        now = utcnow()
        await job_repository.add_items(
            session,
            [
                {
                    "job_id": job.id,
                    "workspace_id": workspace_id,
                    "product_id": product_id,
                    "marketplace": marketplace,
                    "status": JobItemStatus.PENDING.value,
                    "attempts": 0,
                    "result": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for product_id, marketplace in items
            ],
        )
        if not items:
            job_service.finish(job)
        await audit_service.record(
            session,
            workspace_id,
            f"{kind.value}.start",
            "job",
            job.id,
            {
                "source": source,
                "items": len(items),
                **{k: v for k, v in params.items() if k in AUDITED_PARAMS},
            },
        )
        return job, await job_repository.item_ids(session, job.id)

    async def claim(self, session: AsyncSession, item_id: int) -> tuple[JobItem, Job] | None:
        """The item, now running, and its job; None when there is nothing to do (a redelivery
        of a finished item, or a cancelled job)."""
        item = await job_repository.claim_item(session, item_id)
        if item is None:
            return None
        job = await job_repository.get_any(session, item.job_id)
        if job is None or job.status == JobStatus.CANCELLED.value:
            await job_repository.finish_item(session, item, status=JobItemStatus.CANCELLED)
            return None
        return item, job

    async def succeeded(self, session: AsyncSession, item: JobItem, result: dict[str, Any]) -> None:
        await job_repository.finish_item(
            session, item, status=JobItemStatus.SUCCEEDED, result=result
        )

    async def failed(
        self, session: AsyncSession, item_id: int, error: str, *, status_code: int = 422
    ) -> None:
        item = await session.get(JobItem, item_id, populate_existing=True)
        if item is not None and item.status not in FINISHED_ITEM_STATUSES:
            await job_repository.finish_item(
                session,
                item,
                status=JobItemStatus.FAILED,
                error=error,
                result={"status_code": status_code},
            )

    async def fail_pending(self, session: AsyncSession, job_id: int, error: str) -> int:
        """Stop a job early: its waiting items fail with `error` (e.g. "reconnect ebay")."""
        return await job_repository.fail_pending(session, job_id, error)

    async def release(self, session: AsyncSession, item_id: int, error: str) -> None:
        await job_repository.release_item(session, item_id, error)

    async def cancel(self, session: AsyncSession, workspace_id: int, job_id: int) -> Job:
        job = await job_service.get(session, workspace_id, job_id)
        if job.status in (JobStatus.COMPLETED.value, JobStatus.FAILED.value):
            raise Conflict(f"job {job_id} has already finished ({job.status})")
        if job.status != JobStatus.CANCELLED.value:
            await job_repository.cancel(session, job)
            await audit_service.record(session, workspace_id, "job.cancel", "job", job_id)
        return job

    async def retry_failed(
        self, session: AsyncSession, workspace_id: int, job_id: int
    ) -> tuple[Job, list[int]]:
        job = await job_service.get(session, workspace_id, job_id)
        if job.kind == JobKind.IMPORT.value:
            raise Conflict("an import job is retried by importing its file again")
        item_ids = await job_repository.reset_failed(session, job)
        await audit_service.record(
            session, workspace_id, "job.retry_failed", "job", job_id, {"items": len(item_ids)}
        )
        return job, item_ids

    async def items(
        self, session: AsyncSession, job: Job, *, status: str | None, offset: int, limit: int
    ) -> list[JobItem]:
        return await job_repository.items(
            session, job.id, status=status, offset=offset, limit=limit
        )

    async def sweep(
        self, session: AsyncSession, *, running_timeout: float, pending_timeout: float
    ) -> dict[tuple[str, str | None], list[int]]:
        """Items to send again, by (job kind, queue): stuck running past the timeout (their
        worker died) or pending long after creation (their message was lost before the
        broker)."""
        now = utcnow()
        stale = await job_repository.stale_items(
            session,
            running_before=now - timedelta(seconds=running_timeout),
            pending_before=now - timedelta(seconds=pending_timeout),
        )
        by_route: dict[tuple[str, str | None], list[int]] = {}
        for item_id, kind, queue in stale:
            by_route.setdefault((kind, queue), []).append(item_id)
        if stale:
            await job_repository.requeue(session, [item_id for item_id, _, _ in stale])
        return by_route


job_items_service = JobItemsService()
