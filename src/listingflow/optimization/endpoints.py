"""The v1 optimization routes (/api/ai/...)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from listingflow import config
from listingflow.deps import ReadSession, Uow, WorkspaceId
from listingflow.exceptions import ListingflowError, NotFound, PayloadTooLarge, StillRunning
from listingflow.job.service import job_items_service, job_queue, job_service
from listingflow.kit.uow import UnitOfWork
from listingflow.listing.service import listing_service
from listingflow.models import JobKind, Listing, Product
from listingflow.optimization.service import (
    LLM,
    check_engine,
    check_marketplace,
    optimization_service,
)
from listingflow.product.schemas import ProductOut
from listingflow.worker.enqueue import send_job_items

router = APIRouter(tags=["optimization"])

Marketplace = Annotated[str, Query(description="amazon, ebay, allegro, kaufland, ...")]
Engine = Annotated[str | None, Query(description="offline (default) or llm")]


class TitleResult(BaseModel):
    product_id: int
    original_title: str
    optimized_title: str
    marketplace: str
    score: int


class DescriptionResult(BaseModel):
    product_id: int
    original_description: str | None
    optimized_description: str
    marketplace: str
    score: int


class BatchOptimizeRequest(BaseModel):
    product_ids: list[int] = Field(min_length=1)
    target_marketplace: str = "amazon"
    engine: str | None = None


class BatchItem(BaseModel):
    product_id: int
    status: str = Field(description="success, failed, or queued (still running)")
    listing_id: int | None = None
    score: int | None = None
    error: str | None = None


class BatchOptimizeResponse(BaseModel):
    status: str
    marketplace: str
    success_count: int
    failed_count: int
    results: list[BatchItem]
    job_id: int | None = Field(default=None, description="follow it at GET /api/jobs/{id}")


async def _optimize_now(
    uow: UnitOfWork, product_id: int, marketplace: str, engine: str | None
) -> tuple[Product, Listing]:
    """One product for a person who is waiting: a one-item job on the `interactive` queue
    (never behind a bulk backlog), awaited for up to LISTINGFLOW_JOB_WAIT_SECONDS."""
    marketplace = check_marketplace(marketplace)
    engine = check_engine(engine)
    await listing_service.for_product(uow.session, uow.workspace_id, product_id)  # 404 first
    job, item_ids = await job_items_service.create(
        uow.session,
        uow.workspace_id,
        kind=JobKind.OPTIMIZE,
        source=f"optimize:{marketplace}",
        items=[(product_id, marketplace)],
        params={"engine": engine, "marketplace": marketplace},
        queue="interactive",
    )
    job_id, queue = job.id, job_queue(job)
    uow.after_commit(lambda: send_job_items(JobKind.OPTIMIZE.value, item_ids, queue=queue))
    await uow.commit()
    job = await job_service.wait(
        uow.session, uow.workspace_id, job_id, seconds=config.settings.job_wait_seconds
    )
    [item] = await job_items_service.items(uow.session, job, status=None, offset=0, limit=1)
    if item.status == "failed":
        error = ListingflowError(item.last_error or "optimization failed")
        error.status_code = int(item.result.get("status_code", 422))
        error.code = "optimization_failed"
        raise error
    if item.status != "succeeded":
        raise StillRunning(
            f"the optimization is still running as job {job_id}; follow GET /api/jobs/{job_id}"
        )
    product, listings = await listing_service.for_product(uow.session, uow.workspace_id, product_id)
    listing = next((item for item in listings if item.marketplace == marketplace), None)
    if listing is None:  # deleted between the job and this read
        raise NotFound(f"product {product_id} has no {marketplace} listing")
    return product, listing


@router.post(
    "/api/ai/optimize/{product_id}",
    response_model=ProductOut,
    summary="Optimize title, description, bullets and keywords for one marketplace",
)
async def optimize(
    product_id: int, uow: Uow, target_marketplace: Marketplace = "amazon", engine: Engine = None
) -> ProductOut:
    await _optimize_now(uow, product_id, target_marketplace, engine)
    product, listings = await listing_service.for_product(uow.session, uow.workspace_id, product_id)
    return ProductOut.of(product, listings)


@router.post(
    "/api/ai/optimize-title/{product_id}", response_model=TitleResult, summary="Optimize the title"
)
async def optimize_title(
    product_id: int, uow: Uow, target_marketplace: Marketplace = "amazon", engine: Engine = None
) -> TitleResult:
    product, listing = await _optimize_now(uow, product_id, target_marketplace, engine)
    return TitleResult(
        product_id=product.id,
        original_title=product.title,
        optimized_title=listing.title,
        marketplace=listing.marketplace,
        score=listing.score,
    )


@router.post(
    "/api/ai/optimize-description/{product_id}",
    response_model=DescriptionResult,
    summary="Optimize the description",
)
async def optimize_description(
    product_id: int, uow: Uow, target_marketplace: Marketplace = "amazon", engine: Engine = None
) -> DescriptionResult:
    product, listing = await _optimize_now(uow, product_id, target_marketplace, engine)
    return DescriptionResult(
        product_id=product.id,
        original_description=product.description,
        optimized_description=listing.description,
        marketplace=listing.marketplace,
        score=listing.score,
    )


@router.post(
    "/api/ai/batch-optimize",
    response_model=BatchOptimizeResponse,
    summary="Optimize many products as a background job; waits briefly for the results",
)
async def batch_optimize(body: BatchOptimizeRequest, uow: Uow) -> BatchOptimizeResponse:
    """Creates a job (one item per product), then waits up to LISTINGFLOW_JOB_WAIT_SECONDS so
    that v1 callers still get per-product results; items not finished by then are `queued` and
    the job id tells where to follow them (GET /api/jobs/{id})."""
    marketplace = check_marketplace(body.target_marketplace)
    engine = check_engine(body.engine)
    product_ids = list(dict.fromkeys(body.product_ids))
    limit = config.settings.max_batch_items
    if len(product_ids) > limit:
        raise PayloadTooLarge(
            f"{len(product_ids)} products in one request; the limit is {limit}",
            field="product_ids",
        )
    job, item_ids = await job_items_service.create(
        uow.session,
        uow.workspace_id,
        kind=JobKind.OPTIMIZE,
        source=f"batch-optimize:{marketplace}",
        items=[(product_id, marketplace) for product_id in product_ids],
        params={"engine": engine, "marketplace": marketplace},
        # LLM work has its own queue so that its rate limit never holds up offline bulk work.
        queue="llm" if engine == LLM else None,
    )
    job_id, queue = job.id, job_queue(job)
    uow.after_commit(lambda: send_job_items(JobKind.OPTIMIZE.value, item_ids, queue=queue))
    await uow.commit()
    job = await job_service.wait(
        uow.session, uow.workspace_id, job_id, seconds=config.settings.job_wait_seconds
    )
    items = await job_items_service.items(
        uow.session, job, status=None, offset=0, limit=len(product_ids)
    )
    results = [
        BatchItem(
            product_id=item.product_id or 0,
            status=_V1_ITEM_STATUS.get(item.status, "queued"),
            listing_id=item.result.get("listing_id"),
            score=item.result.get("score"),
            error=item.last_error if item.status == "failed" else None,
        )
        for item in items
    ]
    failed = sum(r.status == "failed" for r in results)
    queued = sum(r.status == "queued" for r in results)
    status = (
        "running"
        if queued
        else "success"
        if not failed
        else "partial"
        if failed < len(results)
        else "failed"
    )
    return BatchOptimizeResponse(
        status=status,
        marketplace=marketplace,
        success_count=sum(r.status == "success" for r in results),
        failed_count=failed,
        results=results,
        job_id=job.id,
    )


_V1_ITEM_STATUS = {"succeeded": "success", "failed": "failed", "cancelled": "cancelled"}


@router.get("/api/ai/usage", summary="Today's LLM calls and tokens against the quota")
async def llm_usage(session: ReadSession, workspace_id: WorkspaceId) -> dict[str, Any]:
    return await optimization_service.usage(session, workspace_id)
