"""All SQL for job records and their items; counters move with single UPDATE statements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow.kit.models import utcnow
from listingflow.models import Job, JobItem, JobItemStatus, JobStatus

_OPEN_JOB = (JobStatus.PENDING.value, JobStatus.RUNNING.value)


class JobRepository:
    async def add(self, session: AsyncSession, job: Job) -> Job:
        session.add(job)
        await session.flush()
        return job

    async def get(self, session: AsyncSession, workspace_id: int, job_id: int) -> Job | None:
        result = await session.execute(
            select(Job).where(Job.id == job_id, Job.workspace_id == workspace_id)
        )
        return result.scalar_one_or_none()

    async def get_any(self, session: AsyncSession, job_id: int) -> Job | None:
        return await session.get(Job, job_id, populate_existing=True)

    async def recent(
        self, session: AsyncSession, workspace_id: int, *, kind: str | None, limit: int
    ) -> list[Job]:
        query = select(Job).where(Job.workspace_id == workspace_id)
        if kind:
            query = query.where(Job.kind == kind)
        query = query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
        return list((await session.execute(query)).scalars())

    async def add_items(self, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await session.execute(insert(JobItem), list(rows))

    async def item_ids(
        self, session: AsyncSession, job_id: int, status: str | None = None
    ) -> list[int]:
        query = select(JobItem.id).where(JobItem.job_id == job_id)
        if status:
            query = query.where(JobItem.status == status)
        return list((await session.execute(query.order_by(JobItem.id))).scalars())

    async def items(
        self, session: AsyncSession, job_id: int, *, status: str | None, offset: int, limit: int
    ) -> list[JobItem]:
        query = select(JobItem).where(JobItem.job_id == job_id)
        if status:
            query = query.where(JobItem.status == status)
        query = query.order_by(JobItem.id).offset(offset).limit(limit)
        return list((await session.execute(query)).scalars())

    async def claim_item(self, session: AsyncSession, item_id: int) -> JobItem | None:
        """pending -> running, once: a redelivered message finds nothing to claim."""
        now = utcnow()
        result = await session.execute(
            update(JobItem)
            .where(JobItem.id == item_id, JobItem.status == JobItemStatus.PENDING.value)
            .values(
                status=JobItemStatus.RUNNING.value, attempts=JobItem.attempts + 1, updated_at=now
            )
            .returning(JobItem.id)
        )
        if result.scalar_one_or_none() is None:
            return None
        await session.execute(
            update(Job)
            .where(
                Job.id == select(JobItem.job_id).where(JobItem.id == item_id).scalar_subquery(),
                Job.status == JobStatus.PENDING.value,
            )
            .values(status=JobStatus.RUNNING.value, started_at=now)
        )
        return await session.get(JobItem, item_id, populate_existing=True)

    async def finish_item(
        self,
        session: AsyncSession,
        item: JobItem,
        *,
        status: JobItemStatus,
        error: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        item.status = status.value
        item.last_error = error[:2000] if error else None
        if result is not None:
            item.result = result
        succeeded = int(status == JobItemStatus.SUCCEEDED)
        failed = int(status == JobItemStatus.FAILED)
        await session.execute(
            update(Job)
            .where(Job.id == item.job_id)
            .values(
                succeeded=Job.succeeded + succeeded,
                failed=Job.failed + failed,
                processed=Job.processed + 1,
            )
        )
        await self.complete_if_done(session, item.job_id)

    async def complete_if_done(self, session: AsyncSession, job_id: int) -> None:
        await session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status.in_(_OPEN_JOB), Job.processed >= Job.total)
            .values(status=JobStatus.COMPLETED.value, completed_at=utcnow())
        )

    async def fail_pending(self, session: AsyncSession, job_id: int, error: str) -> int:
        """Every item still waiting fails with `error` (a job stopped early); how many."""
        result = await session.execute(
            update(JobItem)
            .where(JobItem.job_id == job_id, JobItem.status == JobItemStatus.PENDING.value)
            .values(status=JobItemStatus.FAILED.value, last_error=error[:2000], updated_at=utcnow())
        )
        failed = int(result.rowcount or 0)  # type: ignore[attr-defined]
        await session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(
                failed=Job.failed + failed,
                processed=Job.processed + failed,
                error_summary=error[:2000],
            )
        )
        await self.complete_if_done(session, job_id)
        return failed

    async def release_item(self, session: AsyncSession, item_id: int, error: str) -> None:
        """running -> pending, for a retry of a transient failure."""
        await session.execute(
            update(JobItem)
            .where(JobItem.id == item_id, JobItem.status == JobItemStatus.RUNNING.value)
            .values(
                status=JobItemStatus.PENDING.value, last_error=error[:2000], updated_at=utcnow()
            )
        )

    async def cancel(self, session: AsyncSession, job: Job) -> int:
        result = await session.execute(
            update(JobItem)
            .where(JobItem.job_id == job.id, JobItem.status == JobItemStatus.PENDING.value)
            .values(status=JobItemStatus.CANCELLED.value, updated_at=utcnow())
        )
        cancelled = int(result.rowcount or 0)  # type: ignore[attr-defined]
        job.status = JobStatus.CANCELLED.value
        job.processed += cancelled
        job.completed_at = utcnow()
        return cancelled

    async def reset_failed(self, session: AsyncSession, job: Job) -> list[int]:
        ids = await self.item_ids(session, job.id, JobItemStatus.FAILED.value)
        if ids:
            await session.execute(
                update(JobItem)
                .where(JobItem.id.in_(ids))
                .values(status=JobItemStatus.PENDING.value, updated_at=utcnow())
            )
            job.failed -= len(ids)
            job.processed -= len(ids)
            job.status = JobStatus.RUNNING.value
            job.completed_at = None
        return ids

    async def stale_items(
        self, session: AsyncSession, *, running_before: datetime, pending_before: datetime
    ) -> list[tuple[int, str, str | None]]:
        """(item id, job kind, job queue) of items stuck running (a worker died) or pending
        with no message (lost on enqueue), at most 10,000. Each job's kind and params are read
        once, not on every item's row."""
        query = (
            select(JobItem.id, JobItem.job_id)
            .join(Job, Job.id == JobItem.job_id)
            .where(
                Job.status.in_(_OPEN_JOB),
                (
                    (JobItem.status == JobItemStatus.RUNNING.value)
                    & (JobItem.updated_at < running_before)
                )
                | (
                    (JobItem.status == JobItemStatus.PENDING.value)
                    & (JobItem.updated_at < pending_before)
                ),
            )
            .order_by(JobItem.id)
            .limit(10_000)
        )
        rows = (await session.execute(query)).all()
        if not rows:
            return []
        job_ids = {int(job_id) for _, job_id in rows}
        jobs = {
            int(job_id): (str(kind), (params or {}).get("queue"))
            for job_id, kind, params in (
                await session.execute(
                    select(Job.id, Job.kind, Job.params).where(Job.id.in_(job_ids))
                )
            ).all()
        }
        return [(int(item_id), *jobs[int(job_id)]) for item_id, job_id in rows]

    async def requeue(self, session: AsyncSession, item_ids: Sequence[int]) -> None:
        await session.execute(
            update(JobItem)
            .where(JobItem.id.in_(item_ids))
            .values(status=JobItemStatus.PENDING.value, updated_at=utcnow())
        )

    async def count_items(self, session: AsyncSession, job_id: int) -> dict[str, int]:
        result = await session.execute(
            select(JobItem.status, func.count())
            .where(JobItem.job_id == job_id)
            .group_by(JobItem.status)
        )
        return {str(status): int(count) for status, count in result.all()}


job_repository = JobRepository()
