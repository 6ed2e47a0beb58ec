"""Product routes (v1 contract): list newest first, stats, detail, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from listingflow import config
from listingflow.deps import CacheDep, ReadSession, Uow, WorkspaceId, read_session
from listingflow.exceptions import ValidationFailed
from listingflow.kit import jsonutil
from listingflow.kit.cache import cache_key, workspace_generation
from listingflow.listing.service import listing_service
from listingflow.models import ProductStatus
from listingflow.product.repository import ProductFilter
from listingflow.product.schemas import ProductOut, ProductPage, ProductStats
from listingflow.product.service import product_service

router = APIRouter(prefix="/api/products", tags=["products"])


@router.get("", response_model=ProductPage, summary="List products, newest first")
async def list_products(
    request: Request,
    cache: CacheDep,
    workspace_id: WorkspaceId,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    status: Annotated[str | None, Query(description="imported, optimized, ...")] = None,
    source: Annotated[str | None, Query(description="source platform, e.g. allegro")] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="search title and source id")
    ] = None,
    cursor: Annotated[
        str | None, Query(description="next_cursor of the previous page: fast at any depth")
    ] = None,
) -> Response:
    """`page` works as in v1 (it skips rows, so deep pages get slower); pass `cursor` from
    `next_cursor` to walk any depth at constant cost. A page is cached under the workspace's
    generation (TTL `LISTINGFLOW_CACHE_TTL_LIST`, 300 s), so any write shows at once."""
    if status and status not in {s.value for s in ProductStatus}:
        allowed = ", ".join(s.value for s in ProductStatus)
        raise ValidationFailed(f"status must be one of {allowed}", field="status")
    page_size = min(page_size, config.settings.max_page_size)
    flt = ProductFilter(
        status=status or None,
        source_platform=source.lower() if source else None,
        q=q.strip() if q and q.strip() else None,
    )
    generation = await workspace_generation(cache, workspace_id)
    key = cache_key("page", workspace_id, generation, flt.scope(), page, page_size, cursor or "")
    cached = await cache.get(key)
    if cached is not None:
        return Response(jsonutil.dumps(cached), media_type="application/json")
    async with read_session(request, cache, workspace_id) as session:  # only on a miss
        result = await product_service.list_products(
            session,
            workspace_id,
            cache=cache,
            flt=flt,
            page=page,
            page_size=page_size,
            cursor=cursor,
        )
        ids = [p.id for p in result.rows]
        listings = await listing_service.by_product(session, workspace_id, ids)
    body = result.to_page(listings).model_dump(mode="json")
    await cache.set(key, body, config.settings.cache_ttl_list)
    return Response(jsonutil.dumps(body), media_type="application/json")


@router.get("/stats/summary", response_model=ProductStats, summary="Dashboard counts")
async def stats_summary(request: Request, cache: CacheDep, workspace_id: WorkspaceId) -> Response:
    # The hot path: a cached answer needs neither a database session nor a model round trip.
    body = await product_service.cached_stats(cache, workspace_id)
    if body is None:
        async with read_session(request, cache, workspace_id) as session:
            stats = await product_service.stats(session, workspace_id, cache=cache)
        body = stats.model_dump(mode="json")
    return Response(jsonutil.dumps(body), media_type="application/json")


@router.get("/{product_id}", response_model=ProductOut, summary="One product")
async def get_product(
    product_id: int, session: ReadSession, workspace_id: WorkspaceId
) -> ProductOut:
    product, listings = await listing_service.for_product(session, workspace_id, product_id)
    return ProductOut.of(product, listings)


@router.delete("/{product_id}", summary="Delete a product")
async def delete_product(product_id: int, uow: Uow) -> dict[str, str]:
    await product_service.delete(uow.session, uow.workspace_id, product_id)
    await uow.commit()
    return {"status": "success", "message": "Product deleted"}
