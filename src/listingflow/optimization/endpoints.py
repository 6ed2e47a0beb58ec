"""The v1 optimization routes (/api/ai/...) and the marketplace list (/api/export/marketplaces)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from listingflow.deps import ReadSession, Uow, WorkspaceId
from listingflow.exceptions import NotFound, PayloadTooLarge
from listingflow.listing.service import listing_service
from listingflow.optimization.service import (
    check_engine,
    check_marketplace,
    optimization_service,
)
from listingflow.product.schemas import ProductOut
from listingflow.rules.marketplaces import MARKETPLACES

router = APIRouter(tags=["optimization"])

MAX_SYNC_BATCH = 50  # until optimization runs as a background job
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
    status: str = Field(description="success or failed")
    listing_id: int | None = None
    score: int | None = None
    error: str | None = None


class BatchOptimizeResponse(BaseModel):
    status: str
    marketplace: str
    success_count: int
    failed_count: int
    results: list[BatchItem]
    job_id: int | None = Field(default=None, description="set once optimization runs as a job")


@router.post(
    "/api/ai/optimize/{product_id}",
    response_model=ProductOut,
    summary="Optimize title, description, bullets and keywords for one marketplace",
)
async def optimize(
    product_id: int, uow: Uow, target_marketplace: Marketplace = "amazon", engine: Engine = None
) -> ProductOut:
    await listing_service.optimize(
        uow.session,
        uow.workspace_id,
        product_id,
        target_marketplace,
        engine=engine,
        cache=uow.cache,
    )
    await uow.commit()
    product, listings = await listing_service.for_product(uow.session, uow.workspace_id, product_id)
    return ProductOut.of(product, listings)


@router.post(
    "/api/ai/optimize-title/{product_id}", response_model=TitleResult, summary="Optimize the title"
)
async def optimize_title(
    product_id: int, uow: Uow, target_marketplace: Marketplace = "amazon", engine: Engine = None
) -> TitleResult:
    product, listing = await listing_service.optimize(
        uow.session,
        uow.workspace_id,
        product_id,
        target_marketplace,
        engine=engine,
        cache=uow.cache,
    )
    await uow.commit()
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
    product, listing = await listing_service.optimize(
        uow.session,
        uow.workspace_id,
        product_id,
        target_marketplace,
        engine=engine,
        cache=uow.cache,
    )
    await uow.commit()
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
    summary=f"Optimize up to {MAX_SYNC_BATCH} products (more once jobs run it in the background)",
)
async def batch_optimize(body: BatchOptimizeRequest, uow: Uow) -> BatchOptimizeResponse:
    if len(body.product_ids) > MAX_SYNC_BATCH:
        raise PayloadTooLarge(
            f"{len(body.product_ids)} products in one request; up to {MAX_SYNC_BATCH} are "
            "optimized at once",
            field="product_ids",
        )
    results: list[BatchItem] = []
    marketplace = check_marketplace(body.target_marketplace)
    engine = check_engine(body.engine)
    for product_id in dict.fromkeys(body.product_ids):
        try:
            _, listing = await listing_service.optimize(
                uow.session,
                uow.workspace_id,
                product_id,
                marketplace,
                engine=engine,
                cache=uow.cache,
            )
        except NotFound as exc:
            results.append(BatchItem(product_id=product_id, status="failed", error=exc.message))
            continue
        results.append(
            BatchItem(
                product_id=product_id,
                status="success",
                listing_id=listing.id,
                score=listing.score,
            )
        )
    await uow.commit()
    failed = sum(r.status == "failed" for r in results)
    return BatchOptimizeResponse(
        status="success" if not failed else "partial" if failed < len(results) else "failed",
        marketplace=marketplace,
        success_count=len(results) - failed,
        failed_count=failed,
        results=results,
    )


@router.get("/api/ai/usage", summary="Today's LLM calls and tokens against the quota")
async def llm_usage(session: ReadSession, workspace_id: WorkspaceId) -> dict[str, Any]:
    return await optimization_service.usage(session, workspace_id)


@router.get("/api/export/marketplaces", summary="Supported marketplaces")
async def marketplaces() -> list[dict[str, Any]]:
    return [
        {
            "id": key,
            "name": info.name,
            "regions": [region.code for region in info.regions],
            "sites": [region.site for region in info.regions],
            "status": "available",
            "optimizer": info.has_offline_optimizer,
        }
        for key, info in MARKETPLACES.items()
    ]
