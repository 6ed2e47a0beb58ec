"""Catalog use cases: list (keyset or v1 page), detail, delete, stats; counts cached."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from listingflow import config
from listingflow.audit.service import audit_service
from listingflow.exceptions import BadRequest, NotFound
from listingflow.kit.cache import Cache, cache_key, workspace_generation
from listingflow.kit.models import utcnow
from listingflow.kit.pagination import CursorError, decode_cursor, encode_cursor
from listingflow.models import Product, ProductStatus
from listingflow.product.repository import ProductFilter, product_repository
from listingflow.product.schemas import ProductRows, ProductStats


def _cursor_secret() -> bytes:
    return ("cursor:" + config.settings.secret_key.get_secret_value()).encode()


class ProductService:
    async def list_products(
        self,
        session: AsyncSession,
        workspace_id: int,
        *,
        cache: Cache,
        flt: ProductFilter,
        page: int = 1,
        page_size: int = 20,
        cursor: str | None = None,
    ) -> ProductRows:
        after = None
        if cursor:
            try:
                after = decode_cursor(_cursor_secret(), cursor, flt.scope())
            except CursorError as exc:
                raise BadRequest(str(exc), field="cursor") from exc
        offset = 0 if cursor else (page - 1) * page_size
        rows = await product_repository.page(
            session, workspace_id, flt, limit=page_size + 1, after=after, offset=offset
        )
        has_more = len(rows) > page_size
        rows = rows[:page_size]
        next_cursor = (
            encode_cursor(_cursor_secret(), rows[-1].created_at, rows[-1].id, flt.scope())
            if has_more and rows
            else None
        )
        total = await self._count(session, workspace_id, cache=cache, flt=flt)
        return ProductRows(rows, total, page, page_size, next_cursor)

    async def _count(
        self, session: AsyncSession, workspace_id: int, *, cache: Cache, flt: ProductFilter
    ) -> int:
        generation = await workspace_generation(cache, workspace_id)
        key = cache_key("count", workspace_id, generation, flt.scope())
        cached = await cache.get(key)
        if cached is not None:
            return int(cached)
        total = await product_repository.count(session, workspace_id, flt)
        await cache.set(key, total, config.settings.cache_ttl_list)
        return total

    async def ids(
        self, session: AsyncSession, workspace_id: int, *, flt: ProductFilter, limit: int
    ) -> list[int]:
        """Ids of the newest products matching a filter, for bulk work (at most `limit`)."""
        return await product_repository.ids(session, workspace_id, flt, limit=limit)

    async def get(self, session: AsyncSession, workspace_id: int, product_id: int) -> Product:
        product = await product_repository.get(session, workspace_id, product_id)
        if product is None:
            raise NotFound(f"product {product_id} not found")
        return product

    async def get_many(
        self, session: AsyncSession, workspace_id: int, product_ids: Sequence[int]
    ) -> dict[int, Product]:
        """The workspace's products among these ids, in one query (absent ids are left out)."""
        rows = await product_repository.get_many(session, workspace_id, product_ids)
        return {product.id: product for product in rows}

    async def mark_optimized(self, session: AsyncSession, product: Product, *, score: int) -> None:
        """The product's v1 status and score follow its latest listing."""
        if product.status in (ProductStatus.IMPORTED.value, ProductStatus.FAILED.value):
            product.status = ProductStatus.OPTIMIZED.value
        product.optimization_score = score
        await session.flush()

    async def delete(self, session: AsyncSession, workspace_id: int, product_id: int) -> None:
        product = await self.get(session, workspace_id, product_id)
        gone = {
            "source_platform": product.source_platform,
            "source_id": product.source_id,
            "title": product.title,
        }
        if not await product_repository.delete(session, workspace_id, product_id):
            raise NotFound(f"product {product_id} not found")
        await audit_service.record(
            session, workspace_id, "product.delete", "product", product_id, gone
        )

    async def cached_stats(self, cache: Cache, workspace_id: int) -> dict[str, Any] | None:
        """The cached stats as JSON, without touching the database (None: not cached)."""
        generation = await workspace_generation(cache, workspace_id)
        cached = await cache.get(cache_key("stats", workspace_id, generation))
        return dict(cached) if cached is not None else None

    async def stats(
        self, session: AsyncSession, workspace_id: int, *, cache: Cache
    ) -> ProductStats:
        generation = await workspace_generation(cache, workspace_id)
        key = cache_key("stats", workspace_id, generation)
        cached = await cache.get(key)
        if cached is not None:
            return ProductStats.model_validate(cached)
        rows = await product_repository.stats_by_status(
            session, workspace_id, utcnow() - timedelta(hours=24)
        )
        by_status = {status.value: 0 for status in ProductStatus}
        score_sum = score_count = recent_imports = recent_publishes = 0
        for status, count, s_sum, s_count, recent, published in rows:
            by_status[status] = by_status.get(status, 0) + count
            score_sum += s_sum
            score_count += s_count
            recent_imports += recent
            recent_publishes += published
        stats = ProductStats(
            total_products=sum(by_status.values()),
            pending_optimization=by_status[ProductStatus.IMPORTED.value],
            optimized_products=by_status[ProductStatus.OPTIMIZED.value],
            published_products=by_status[ProductStatus.PUBLISHED.value],
            failed_products=by_status[ProductStatus.FAILED.value],
            average_optimization_score=(round(score_sum / score_count, 1) if score_count else None),
            recent_imports=recent_imports,
            recent_publishes=recent_publishes,
            by_status=by_status,
        )
        await cache.set(key, stats.model_dump(), config.settings.cache_ttl_stats)
        return stats


product_service = ProductService()
