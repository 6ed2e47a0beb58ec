"""Job records: create, count progress, finish. (Queues and workers come with the jobs issue.)"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from listingflow.exceptions import NotFound
from listingflow.job.repository import job_repository
from listingflow.kit.models import utcnow
from listingflow.models import Job, JobKind, JobStatus


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
            params=params or {},
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

    async def get(self, session: AsyncSession, workspace_id: int, job_id: int) -> Job:
        job = await job_repository.get(session, workspace_id, job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        return job


job_service = JobService()
