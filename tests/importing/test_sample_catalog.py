"""The sample catalog `make run` imports must import cleanly: every row valid, no duplicates."""

from __future__ import annotations

import csv
from pathlib import Path

import httpx

CATALOG = Path(__file__).parents[2] / "examples" / "catalog.csv"


async def test_sample_catalog_imports_without_errors(client: httpx.AsyncClient) -> None:
    with CATALOG.open(encoding="utf-8") as handle:
        rows = sum(1 for _ in csv.DictReader(handle))
    assert rows >= 200
    response = await client.post(
        "/api/import/file", files={"file": ("catalog.csv", CATALOG.read_bytes(), "text/csv")}
    )
    body = response.json()
    assert body["errors"] == []
    assert body["created"] == rows
    stats = (await client.get("/api/products/stats/summary")).json()
    assert stats["total_products"] == rows
    currencies = {
        p["currency"] for p in (await client.get("/api/products?page_size=100")).json()["items"]
    }
    assert len(currencies) >= 2
