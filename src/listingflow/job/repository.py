"""All SQL for job records."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow.models import Job


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


job_repository = JobRepository()
