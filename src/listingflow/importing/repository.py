"""All SQL of importing: the set-based upsert of a chunk of products (one statement per chunk)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow.models import Product

_TABLE = cast(Table, Product.__table__)
_CONTENT_COLUMNS = (
    "source_url",
    "title",
    "description",
    "category",
    "brand",
    "price",
    "currency",
    "images",
    "attributes",
    "content_hash",
    "updated_at",
)


class ImportRepository:
    async def upsert_products(
        self, session: AsyncSession, rows: Sequence[dict[str, Any]], now: datetime
    ) -> dict[tuple[str, str], tuple[int, str]]:
        """INSERT ... ON CONFLICT DO UPDATE for one chunk; rows must have unique keys.

        Returns (source_platform, source_id) -> (product id, "created" | "updated" | "unchanged").
        An existing product whose content_hash is the same is not touched at all.
        """
        if not rows:
            return {}
        dialect = session.bind.dialect.name if session.bind else "sqlite"
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        ins = insert(_TABLE)
        stmt = ins.on_conflict_do_update(
            index_elements=["workspace_id", "source_platform", "source_id"],
            set_={name: ins.excluded[name] for name in _CONTENT_COLUMNS},
            where=_TABLE.c.content_hash != ins.excluded.content_hash,
        ).returning(_TABLE.c.id, _TABLE.c.source_platform, _TABLE.c.source_id, _TABLE.c.created_at)
        result = await session.execute(stmt, list(rows))
        outcome: dict[tuple[str, str], tuple[int, str]] = {}
        for row_id, platform, source_id, created_at in result.all():
            # created_at is set to this chunk's `now` only by the INSERT branch.
            status = "created" if created_at == now else "updated"
            outcome[(platform, source_id)] = (row_id, status)
        missing = [
            (r["source_platform"], r["source_id"])
            for r in rows
            if (r["source_platform"], r["source_id"]) not in outcome
        ]
        if missing:
            workspace_id = rows[0]["workspace_id"]
            found = await session.execute(
                select(Product.id, Product.source_platform, Product.source_id).where(
                    Product.workspace_id == workspace_id,
                    tuple_(Product.source_platform, Product.source_id).in_(missing),
                )
            )
            for row_id, platform, source_id in found.all():
                outcome[(platform, source_id)] = (row_id, "unchanged")
        return outcome


import_repository = ImportRepository()
