"""All SQL of importing: the set-based upsert of a chunk of products (one statement per chunk).

PostgreSQL gets the whole chunk as one JSON document (serialized by orjson in C) that the server
unpacks with json_to_recordset: one short statement, one parameter, parsed once, instead of a
VALUES list with tens of thousands of placeholders for the driver to rewrite and the server to
parse on every chunk. SQLite takes the portable multi-row INSERT that SQLAlchemy batches
("insertmanyvalues").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, cast

import orjson
from sqlalchemy import Table, TextClause, select, text, tuple_
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from listingflow.models import Product

UpsertStatus = Literal["created", "updated", "unchanged"]
_TABLE = cast(Table, Product.__table__)
# Columns an upsert rewrites: all but the key, what the catalog itself owns, and created_at.
_NOT_REWRITTEN = {
    "id",
    "workspace_id",
    "source_platform",
    "source_id",
    "status",
    "optimization_score",
    "created_at",
}
_CONTENT_COLUMNS = tuple(c.name for c in _TABLE.columns if c.name not in _NOT_REWRITTEN)
# column -> its PostgreSQL type in the JSON record
_PG_COLUMNS = {
    "workspace_id": "bigint",
    "source_platform": "text",
    "source_id": "text",
    "source_url": "text",
    "title": "text",
    "description": "text",
    "category": "text",
    "brand": "text",
    "price": "numeric",
    "currency": "text",
    "images": "jsonb",
    "attributes": "jsonb",
    "status": "text",
    "content_hash": "text",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}
_PG_JSON_UPSERT: TextClause = text(
    f"""
    INSERT INTO products ({", ".join(_PG_COLUMNS)})
    SELECT {", ".join(_PG_COLUMNS)}
    FROM json_to_recordset(CAST(:rows AS json))
        AS r({", ".join(f"{c} {t}" for c, t in _PG_COLUMNS.items())})
    ON CONFLICT (workspace_id, source_platform, source_id) DO UPDATE SET
        {", ".join(f"{c} = excluded.{c}" for c in _CONTENT_COLUMNS)}
    WHERE products.content_hash <> excluded.content_hash
    RETURNING id, source_platform, source_id, created_at
    """
)


def _exact(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")  # a JSON string: numeric keeps every digit
    raise TypeError(f"cannot serialize {type(value).__name__}")


def _sqlite_upsert() -> ReturningInsert[Any]:
    ins = sqlite.insert(_TABLE)
    return ins.on_conflict_do_update(
        index_elements=["workspace_id", "source_platform", "source_id"],
        set_={name: ins.excluded[name] for name in _CONTENT_COLUMNS},
        where=_TABLE.c.content_hash != ins.excluded.content_hash,
    ).returning(_TABLE.c.id, _TABLE.c.source_platform, _TABLE.c.source_id, _TABLE.c.created_at)


class ImportRepository:
    async def upsert_products(
        self, session: AsyncSession, rows: Sequence[dict[str, Any]], now: datetime
    ) -> dict[tuple[str, str], tuple[int, UpsertStatus]]:
        """INSERT ... ON CONFLICT DO UPDATE for one chunk; rows must have unique keys.

        Returns (source_platform, source_id) -> (product id, "created" | "updated" | "unchanged").
        An existing product whose content_hash is the same is not touched at all.
        """
        if not rows:
            return {}
        if session.get_bind().dialect.name == "postgresql":
            payload = orjson.dumps(list(rows), default=_exact).decode()
            result = await session.execute(_PG_JSON_UPSERT, {"rows": payload})
        else:
            result = await session.execute(_sqlite_upsert(), list(rows))
        outcome: dict[tuple[str, str], tuple[int, UpsertStatus]] = {}
        for row_id, platform, source_id, created_at in result.all():
            # created_at is set to this chunk's `now` only by the INSERT branch.
            status: UpsertStatus = "created" if created_at == now else "updated"
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
