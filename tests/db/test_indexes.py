"""Indexes at catalog scale: 200,000 products on PostgreSQL, and EXPLAIN (FORMAT JSON) of the
statements the product repository really sends (captured as they are executed) for the newest-
first list and its keyset cursor, the status and source filters, the title / source id search,
their counts and the stats: none reads the products table with a sequential scan. The data
load takes most of the time (the trigram indexes are maintained row by row)."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from tests.db import pgtools

from listingflow import db as dbmod
from listingflow.config import Settings
from listingflow.kit.models import utcnow
from listingflow.product.repository import ProductFilter, product_repository

pytestmark = pytest.mark.postgres

ROWS = 200_000
NOUNS = [
    "kettle", "toaster", "headphones", "blender", "lamp", "backpack", "drill", "mixer",
    "speaker", "keyboard", "mouse", "monitor", "charger", "jacket", "sneakers", "watch",
    "camera", "tripod", "router", "printer",
]  # fmt: skip
BRANDS = ["Sony", "Bosch", "Philips", "Xiaomi", "Tefal", "Samsung", "Logitech", "Adidas"]


def _load(url: str) -> tuple[int, int]:
    """200,000 products in four workspaces (the first holds 60%), statuses and platforms skewed
    as in a real catalog, loaded server-side in one statement; returns (the big workspace's id,
    a small one's id)."""
    with psycopg.connect(url, autocommit=True) as conn:
        ids = [
            conn.execute(
                "INSERT INTO workspaces (slug, name, created_at) VALUES (%s, %s, now()) "
                "RETURNING id",
                (f"ws{n}", f"Workspace {n}"),
            ).fetchone()[0]  # type: ignore[index]
            for n in range(4)
        ]
        conn.execute(
            """
            INSERT INTO products (workspace_id, source_platform, source_id, source_url, title,
                description, category, brand, price, currency, images, attributes, status,
                optimization_score, content_hash, created_at, updated_at)
            SELECT (%(w)s::bigint[])[CASE WHEN h.w < 6 THEN 1 ELSE 2 + h.w %% 3 END],
                CASE WHEN h.p < 50 THEN 'allegro' WHEN h.p < 75 THEN 'amazon'
                     WHEN h.p < 90 THEN 'ebay' WHEN h.p < 97 THEN 'shopify' ELSE 'csv' END,
                'SKU-' || lpad(g::text, 7, '0'),
                'https://shop.example.com/p/' || g,
                (%(b)s::text[])[1 + g %% 8] || ' ' || (%(n)s::text[])[1 + h.n]
                    || ' model ' || (g %% 997) || ' ' || (ARRAY['black','white','red'])[1 + g %% 3],
                'A sturdy, well made product for everyday use. Item ' || g,
                'Home > Things', (%(b)s::text[])[1 + g %% 8], (g %% 500) + 9.99, 'PLN',
                '[]'::jsonb, '{}'::jsonb,
                CASE WHEN h.s < 70 THEN 'imported' WHEN h.s < 90 THEN 'optimized'
                     WHEN h.s < 97 THEN 'published' ELSE 'failed' END,
                CASE WHEN h.s BETWEEN 70 AND 96 THEN 40 + g %% 60 END,
                md5(g::text),
                now() - make_interval(secs => g), now() - make_interval(secs => g)
            FROM generate_series(1, %(rows)s) AS g,
                LATERAL (SELECT abs(hashtext('w' || g)) %% 10 AS w,
                                abs(hashtext('p' || g)) %% 100 AS p,
                                abs(hashtext('s' || g)) %% 100 AS s,
                                abs(hashtext('n' || g)) %% 20 AS n) AS h
            """,
            {"w": ids, "b": BRANDS, "n": NOUNS, "rows": ROWS},
        )
        conn.execute("VACUUM ANALYZE products")
    return ids[0], ids[2]


@pytest.fixture(scope="module")
def catalog() -> Iterator[tuple[str, int, int]]:
    try:
        with psycopg.connect(pgtools.PG_ADMIN_URL, connect_timeout=3):
            pass
    except psycopg.Error:
        pgtools.missing(f"PostgreSQL is not reachable at {pgtools.PG_ADMIN_URL}")
    name = f"listingflow_idx_{secrets.token_hex(4)}"
    with psycopg.connect(pgtools.PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    url = pgtools.PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        dbmod.upgrade(url)
        big, small = _load(url)
        yield url, big, small
    finally:
        with psycopg.connect(pgtools.PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


class Captured:
    """The statements an engine sends, with their parameters, as the driver receives them."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.statements: list[tuple[str, Any]] = []
        event.listen(engine.sync_engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        self.statements.append((statement, params))


@pytest.fixture
async def engine(catalog: tuple[str, int, int]) -> AsyncIterator[AsyncEngine]:
    url = catalog[0]
    engine = dbmod.make_async_engine(url, Settings(_env_file=None, database_url=url))  # type: ignore[call-arg]
    yield engine
    await engine.dispose()


async def _plans(engine: AsyncEngine, call: Any) -> list[dict[str, Any]]:
    """Run one repository call, then EXPLAIN each statement it sent with the same parameters."""
    captured = Captured(engine)
    async with AsyncSession(engine) as session:
        await call(session)
    event.remove(engine.sync_engine, "before_cursor_execute", captured._record)
    assert captured.statements, "the call sent no SQL"
    plans = []
    async with engine.connect() as conn:
        for statement, params in captured.statements:
            result = await conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", params)
            raw = result.scalar_one()
            plans.append((raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"])
    return plans


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _product_scans(plans: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [
        (node["Node Type"], node.get("Index Name"))
        for plan in plans
        for node in _nodes(plan)
        if node.get("Relation Name") == "products" or "products" in str(node.get("Index Name"))
    ]


def _assert_indexed(plans: list[dict[str, Any]]) -> None:
    scans = _product_scans(plans)
    assert scans, plans
    assert all(kind != "Seq Scan" for kind, _ in scans), scans
    assert any(index for _, index in scans), scans


FILTERS = {
    "newest first": ProductFilter(),
    "status (common)": ProductFilter(status="imported"),
    "status (rare)": ProductFilter(status="failed"),
    "source platform (common)": ProductFilter(source_platform="allegro"),
    "source platform (rare)": ProductFilter(source_platform="csv"),
    "search title": ProductFilter(q="kettle"),
    "search source id": ProductFilter(q="sku-00123"),
}


@pytest.mark.parametrize("workspace", ["big", "small"])
@pytest.mark.parametrize("name", list(FILTERS))
async def test_list_pages_and_counts_use_indexes(
    engine: AsyncEngine, catalog: tuple[str, int, int], name: str, workspace: str
) -> None:
    workspace_id = catalog[1] if workspace == "big" else catalog[2]
    flt = FILTERS[name]
    cursor = (utcnow() - timedelta(hours=20), 10**9)  # a keyset position deep in the list

    async def calls(session: AsyncSession) -> None:
        rows = await product_repository.page(session, workspace_id, flt, limit=21)
        assert rows, f"the {name} filter matches nothing: the data does not exercise it"
        await product_repository.page(session, workspace_id, flt, limit=21, after=cursor)
        await product_repository.count(session, workspace_id, flt)

    _assert_indexed(await _plans(engine, calls))


async def test_stats_use_an_index(engine: AsyncEngine, catalog: tuple[str, int, int]) -> None:
    """The stats read every row of a workspace: an index-only scan of the status index. (For a
    workspace holding most of the table, reading the table straight through costs the planner
    about the same, and it may rightly pick that: so the small workspace here.)"""
    workspace_id = catalog[2]

    async def calls(session: AsyncSession) -> None:
        rows = await product_repository.stats_by_status(
            session, workspace_id, utcnow() - timedelta(hours=24)
        )
        assert sum(row[1] for row in rows) > 0

    _assert_indexed(await _plans(engine, calls))
