"""Job shapes for the API: progress, rate, ETA and the items' errors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from listingflow.kit.models import utcnow
from listingflow.models import Job, JobItem


class JobOut(BaseModel):
    id: int
    kind: str
    source: str | None
    status: str
    total: int
    processed: int
    succeeded: int
    failed: int
    progress: float = Field(description="0..1")
    rate_per_second: float | None = Field(description="items finished per second so far")
    eta_seconds: float | None = Field(description="at the current rate")
    params: dict[str, Any]
    error_summary: str | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None

    @classmethod
    def of(cls, job: Job) -> JobOut:
        elapsed = (
            ((job.completed_at or utcnow()) - job.started_at).total_seconds()
            if (job.started_at)
            else None
        )
        rate = job.processed / elapsed if elapsed and job.processed else None
        remaining = max(job.total - job.processed, 0)
        return cls(
            id=job.id,
            kind=job.kind,
            source=job.source,
            status=job.status,
            total=job.total,
            processed=job.processed,
            succeeded=job.succeeded,
            failed=job.failed,
            progress=round(job.processed / job.total, 4) if job.total else 1.0,
            rate_per_second=round(rate, 2) if rate else None,
            eta_seconds=round(remaining / rate, 1) if rate and remaining else None,
            params=job.params,
            error_summary=job.error_summary,
            created_at=job.created_at,
            started_at=job.started_at,
            completed_at=job.completed_at,
        )


class JobItemOut(BaseModel):
    id: int
    product_id: int | None
    marketplace: str | None
    status: str
    attempts: int
    last_error: str | None
    result: dict[str, Any]

    @classmethod
    def of(cls, item: JobItem) -> JobItemOut:
        return cls(
            id=item.id,
            product_id=item.product_id,
            marketplace=item.marketplace,
            status=item.status,
            attempts=item.attempts,
            last_error=item.last_error,
            result=item.result,
        )


class JobDetail(JobOut):
    items: list[JobItemOut] = Field(description="the page of items asked for")
    items_offset: int
    items_limit: int
