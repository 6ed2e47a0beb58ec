"""The one import service every path goes through: validate, upsert by chunk, count, report.

Each chunk is one transaction (the boundary's `checkpoint` commits it), so an import interrupted
half-way keeps every whole chunk before the failure and nothing of the chunk that failed.
Re-importing a known (source_platform, source_id) updates it in place; unchanged content is not
rewritten.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow import config
from listingflow.audit.service import audit_service
from listingflow.exceptions import database_failure
from listingflow.importing import fastpath
from listingflow.importing.repository import UpsertStatus, import_repository
from listingflow.importing.schemas import ImportSummary, ItemError, ItemResult, ProductIn
from listingflow.integrations.sources.base import PRODUCT_FIELDS, SourceRow
from listingflow.job.service import job_service
from listingflow.kit.jsonutil import content_hash
from listingflow.kit.models import utcnow
from listingflow.models import Job, JobKind, ProductStatus

log = structlog.get_logger()

Checkpoint = Callable[[], Awaitable[None]]
MAX_REPORTED_ERRORS = 1000
# After a chunk's database error: how many times (a second apart) to try recording the job's
# outcome, so a database restart of up to this long still leaves a job that says how far it got.
RECORD_ATTEMPTS = 30
# What a product is made of, apart from its key: hashed to tell a real change from a re-send.
_HASHED_FIELDS = tuple(f for f in PRODUCT_FIELDS if f not in ("source_platform", "source_id"))


def errors_from_validation(exc: ValidationError, index: int) -> list[ItemError]:
    """Pydantic errors as seller-readable ItemErrors with a dotted field path."""
    out = []
    for err in exc.errors():
        field = ".".join(str(part) for part in err["loc"]) or None
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "missing":
            message = "is required"
        out.append(ItemError(index=index, field=field, message=message))
    return out


def validate_row(
    row: SourceRow, *, platform: str | None, override_platform: bool
) -> tuple[dict[str, Any] | None, list[ItemError]]:
    """A valid product's fields (ProductIn's model_dump), or the errors that explain why not."""
    if row.error is not None:
        return None, [ItemError(index=row.index, field=row.error.field, message=row.error.message)]
    data = row.data
    if platform and (override_platform or not data.get("source_platform")):
        data = {**data, "source_platform": platform}
    fast = fastpath.normalize(data)
    if fast is not None:
        return fast, []
    try:
        return ProductIn.model_validate(data).model_dump(), []
    except ValidationError as exc:
        return None, errors_from_validation(exc, row.index)


def _db_row(values: dict[str, Any], workspace_id: int, now: datetime) -> dict[str, Any]:
    """Adds the stored columns to a validated product's fields (in place)."""
    values["content_hash"] = content_hash([values[name] for name in _HASHED_FIELDS])
    values["workspace_id"] = workspace_id
    values["status"] = ProductStatus.IMPORTED.value
    values["created_at"] = now
    values["updated_at"] = now
    return values


@dataclass(slots=True)
class PreparedChunk:
    """A chunk read and validated off the event loop, ready for one upsert statement."""

    now: datetime
    products: list[tuple[int, tuple[str, str]]]  # (index, (source_platform, source_id))
    failures: list[ItemError]
    db_rows: list[dict[str, Any]]  # one per (source_platform, source_id): the last occurrence

    @property
    def first_index(self) -> int:
        indexes = [i for i, _ in self.products[:1]] + [e.index for e in self.failures[:1]]
        return min(indexes) if indexes else 0


def prepare_chunk(
    iterator: Iterator[SourceRow],
    size: int,
    workspace_id: int,
    platform: str | None,
    override: bool,
) -> PreparedChunk | None:
    batch = list(itertools.islice(iterator, size))
    if not batch:
        return None
    now = utcnow()
    products: list[tuple[int, tuple[str, str]]] = []
    failures: list[ItemError] = []
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in batch:
        product, errors = validate_row(row, platform=platform, override_platform=override)
        if product is None:
            failures.extend(errors)
            continue
        key = (product["source_platform"], product["source_id"])
        products.append((row.index, key))
        # One statement cannot touch a row twice: within a chunk the last occurrence wins.
        latest[key] = _db_row(product, workspace_id, now)
    return PreparedChunk(now, products, failures, list(latest.values()))


class ImportService:
    async def import_rows(
        self,
        session: AsyncSession,
        workspace_id: int,
        rows: Iterable[SourceRow],
        *,
        checkpoint: Checkpoint,
        source: str,
        platform: str | None = None,
        override_platform: bool = False,
        collect_results: bool = False,
        on_progress: Callable[[int], None] | None = None,
        chunk_size: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> ImportSummary:
        """Import rows as a job, one transaction per chunk.

        Reading and validating run in a worker thread, one chunk ahead of the database: while
        chunk k is being written, chunk k+1 is read and validated, and a large file never
        blocks the event loop.
        """
        size = chunk_size or config.settings.import_chunk_size
        job = await job_service.start(
            session, workspace_id, kind=JobKind.IMPORT, source=source, params=params
        )
        await checkpoint()
        summary = ImportSummary(job_id=job.id)
        job_id = job.id  # read now: a rollback below expires the row
        landed = 0  # items in committed chunks
        iterator = iter(rows)

        # Rows already in memory (API bodies) are validated inline: a thread would only add GIL
        # hand-offs. Streams (files) are read in a thread so the event loop never waits on I/O.
        in_memory = isinstance(rows, list | tuple)

        async def prepare() -> PreparedChunk | None:
            args = (iterator, size, workspace_id, platform, override_platform)
            if in_memory:
                return prepare_chunk(*args)
            return await asyncio.to_thread(prepare_chunk, *args)

        def next_chunk() -> asyncio.Task[PreparedChunk | None]:
            return asyncio.ensure_future(prepare())

        error: str | None = None
        failure: DBAPIError | None = None
        pending = next_chunk()
        try:
            while (chunk := await pending) is not None:
                pending = next_chunk()
                try:
                    await self._write_chunk(session, chunk, summary, job, collect_results)
                    await checkpoint()
                    landed = summary.total
                except DBAPIError as exc:
                    failure = exc
                    await session.rollback()
                    error = (
                        f"database error at the chunk starting with item {chunk.first_index} "
                        f"({type(exc.orig).__name__}); the {landed} items before it "
                        "were imported"
                    )
                    log.error(
                        "import.chunk_failed", job_id=job_id, first=chunk.first_index, exc_info=exc
                    )
                    break
                if on_progress is not None:
                    on_progress(summary.total)
        finally:
            if not pending.done():
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pending
        for attempt in itertools.count(1):
            try:
                job = await job_service.get(session, workspace_id, job_id)  # fresh after rollback
                job_service.finish(job, error=error, result=self._job_result(summary))
                await audit_service.record(
                    session,
                    workspace_id,
                    "import",
                    "job",
                    job.id,
                    {
                        "source": source,
                        "created": summary.created,
                        "updated": summary.updated,
                        "unchanged": summary.unchanged,
                        "failed": summary.failed,
                    },
                )
                await checkpoint()
                break
            except DBAPIError as exc:
                # After a chunk failed, the database may be restarting: wait a little for it so
                # the job records how far the import got.
                mapped = database_failure(exc, error or "the import's outcome was not recorded")
                if failure is None or attempt >= RECORD_ATTEMPTS or mapped.status_code == 507:
                    raise mapped from exc
                await session.rollback()
                await asyncio.sleep(1.0)
        if failure is not None and error is not None:
            # The whole chunks before the failure are committed; the caller is told so, not
            # answered as a success. Running the same import again completes it (upserts).
            raise database_failure(
                failure, f"{error} (job {job_id}); run the same import again to finish it"
            ) from failure
        log.info(
            "import.finished",
            job_id=job.id,
            workspace_id=workspace_id,
            source=source,
            created=summary.created,
            updated=summary.updated,
            unchanged=summary.unchanged,
            failed=summary.failed,
        )
        return summary

    async def _write_chunk(
        self,
        session: AsyncSession,
        chunk: PreparedChunk,
        summary: ImportSummary,
        job: Job,
        collect_results: bool,
    ) -> None:
        outcome = await import_repository.upsert_products(session, chunk.db_rows, chunk.now)
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        for _, status in outcome.values():
            counts[status] += 1
        products, failures = chunk.products, chunk.failures
        summary.created += counts["created"]
        summary.updated += counts["updated"]
        summary.unchanged += counts["unchanged"] + (len(products) - len(chunk.db_rows))
        failed_indexes = sorted({e.index for e in failures})
        summary.failed += len(failed_indexes)
        summary.total += len(products) + len(failed_indexes)
        if len(summary.errors) < MAX_REPORTED_ERRORS:
            summary.errors.extend(failures[: MAX_REPORTED_ERRORS - len(summary.errors)])
        job_service.count(job, succeeded=len(products), failed=len(failed_indexes))
        await session.flush()
        if not collect_results:
            return
        results = summary.results
        for index, key in products:
            product_id, status = outcome[key]
            # Built from validated data: model_construct skips re-validating 10,000 results.
            results.append(
                ItemResult.model_construct(
                    index=index,
                    source_id=key[1],
                    status=status,
                    product_id=product_id,
                    errors=[],
                )
            )
        by_index: dict[int, list[ItemError]] = {}
        for err in failures:
            by_index.setdefault(err.index, []).append(err)
        for index, errs in by_index.items():
            results.append(
                ItemResult.model_construct(
                    index=index, source_id=None, status="failed", product_id=None, errors=errs
                )
            )
        results.sort(key=lambda r: r.index)

    @staticmethod
    def _job_result(summary: ImportSummary) -> dict[str, Any]:
        return {
            "created": summary.created,
            "updated": summary.updated,
            "unchanged": summary.unchanged,
            "failed": summary.failed,
            "errors": [e.model_dump() for e in summary.errors[:100]],
        }

    async def import_one(
        self, session: AsyncSession, workspace_id: int, product: ProductIn
    ) -> tuple[int, UpsertStatus]:
        """A single product (v1 POST /api/import/product): no job, one upsert."""
        now = utcnow()
        row = _db_row(product.model_dump(), workspace_id, now)
        outcome = await import_repository.upsert_products(session, [row], now)
        product_id, status = outcome[(product.source_platform, product.source_id)]
        if status != "unchanged":
            await audit_service.record(
                session,
                workspace_id,
                "import",
                "product",
                product_id,
                {"source_id": product.source_id, "status": status},
            )
        return product_id, status


import_service = ImportService()
