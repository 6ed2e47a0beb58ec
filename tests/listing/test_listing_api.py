"""Optimization (v1 /api/ai routes) and listings: edit, validate, approve; per workspace."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from tests.conftest import make_api_key
from tests.factories import product_payload

from listingflow.config import Settings


async def _product(client: httpx.AsyncClient, **overrides: object) -> int:
    payload = product_payload(
        title="SUPER PROMOCJA!!! Słuchawki bezprzewodowe Sony WH-1000XM5 czarne NAJLEPSZE",
        attributes={"color": "czarny", "ean": "4548736132610", "connectivity": "Bluetooth 5.3"},
        **overrides,
    )
    body = (await client.post("/api/import/product", json=payload)).json()
    return int(body["product_id"])


async def test_optimize_returns_the_product_with_its_listing(client: httpx.AsyncClient) -> None:
    product_id = await _product(client)
    response = await client.post(f"/api/ai/optimize/{product_id}?target_marketplace=ebay")
    assert response.status_code == 200, response.text
    product = response.json()
    assert product["status"] == "optimized"
    assert product["title_optimized"]
    assert len(product["title_optimized"]) <= 80
    assert "PROMOCJA" not in product["title_optimized"].upper()
    assert 0 <= product["optimization_score"] <= 100
    assert product["marketplace_data"]["ebay"]["status"] == "draft"
    detail = (await client.get(f"/api/products/{product_id}")).json()
    assert detail["title_optimized"] == product["title_optimized"]


async def test_optimize_title_and_description_answer_in_v1_shape(
    client: httpx.AsyncClient,
) -> None:
    product_id = await _product(client)
    title = await client.post(f"/api/ai/optimize-title/{product_id}?target_marketplace=amazon")
    assert title.status_code == 200
    assert set(title.json()) >= {"product_id", "original_title", "optimized_title", "marketplace"}
    assert title.json()["original_title"].startswith("SUPER PROMOCJA")
    description = await client.post(
        f"/api/ai/optimize-description/{product_id}?target_marketplace=amazon"
    )
    assert description.status_code == 200
    assert description.json()["marketplace"] == "amazon"
    assert "<" not in description.json()["optimized_description"]  # Amazon: plain text


async def test_reoptimizing_keeps_one_listing_per_marketplace(client: httpx.AsyncClient) -> None:
    product_id = await _product(client)
    for marketplace in ("amazon", "ebay", "amazon"):
        await client.post(f"/api/ai/optimize/{product_id}?target_marketplace={marketplace}")
    listings = (await client.get(f"/api/products/{product_id}/listings")).json()
    assert sorted(item["marketplace"] for item in listings) == ["amazon", "ebay"]
    assert all(item["score_before"] is not None for item in listings)
    assert all(item["stale"] is False for item in listings)


async def test_a_changed_product_makes_its_listing_stale(client: httpx.AsyncClient) -> None:
    payload = product_payload(source_id="STALE-1")
    product_id = (await client.post("/api/import/product", json=payload)).json()["product_id"]
    await client.post(f"/api/ai/optimize/{product_id}?target_marketplace=allegro")
    await client.post("/api/import/product", json={**payload, "price": 1.5})
    [listing] = (await client.get(f"/api/products/{product_id}/listings")).json()
    assert listing["stale"] is True


async def test_bad_marketplace_and_missing_product(client: httpx.AsyncClient) -> None:
    product_id = await _product(client)
    bad = await client.post(f"/api/ai/optimize/{product_id}?target_marketplace=amazonas")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "target_marketplace"
    missing = await client.post("/api/ai/optimize/999999?target_marketplace=amazon")
    assert missing.status_code == 404
    engine = await client.post(f"/api/ai/optimize/{product_id}?engine=magic")
    assert engine.status_code == 422


async def test_hand_edit_validate_and_approve(client: httpx.AsyncClient) -> None:
    product_id = await _product(client)
    await client.post(f"/api/ai/optimize/{product_id}?target_marketplace=ebay")
    [listing] = (await client.get(f"/api/products/{product_id}/listings")).json()
    too_long = "Sony " + "x" * 90
    edited = await client.patch(f"/api/listings/{listing['id']}", json={"title": too_long})
    assert edited.status_code == 200
    body = edited.json()
    assert body["edited"] is True
    assert any(i["severity"] == "error" and i["field"] == "title" for i in body["issues"])
    check = (await client.post(f"/api/listings/{listing['id']}/validate")).json()
    assert check["valid"] is False
    refused = await client.post(f"/api/listings/{listing['id']}/approve")
    assert refused.status_code == 409
    assert "errors" in refused.json()["detail"]
    fixed = await client.patch(f"/api/listings/{listing['id']}", json={"title": listing["title"]})
    assert not any(i["severity"] == "error" for i in fixed.json()["issues"])
    approved = await client.post(f"/api/listings/{listing['id']}/approve")
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    assert approved.json()["approved_at"]


async def test_edit_with_bad_input_is_422(client: httpx.AsyncClient) -> None:
    product_id = await _product(client)
    await client.post(f"/api/ai/optimize/{product_id}?target_marketplace=ebay")
    [listing] = (await client.get(f"/api/products/{product_id}/listings")).json()
    response = await client.patch(f"/api/listings/{listing['id']}", json={"title": ""})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "title"
    assert (await client.patch("/api/listings/999999", json={"title": "x"})).status_code == 404


async def test_batch_optimize_runs_as_a_job_and_answers_v1(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    ids = [await _product(client) for _ in range(3)]
    response = await client.post(
        "/api/ai/batch-optimize",
        json={"product_ids": [*ids, 999999], "target_marketplace": "allegro"},
    )
    body = response.json()
    assert body["job_id"]
    assert body["status"] == "partial"
    assert body["success_count"] == 3
    assert body["failed_count"] == 1
    assert {r["product_id"] for r in body["results"] if r["status"] == "success"} == set(ids)
    [failed] = [r for r in body["results"] if r["status"] == "failed"]
    assert "not found" in failed["error"]
    job = (await client.get(f"/api/jobs/{body['job_id']}")).json()
    assert job["status"] == "completed"
    assert job["total"] == job["processed"] == 4
    assert job["succeeded"] == 3 and job["failed"] == 1
    stats = (await client.get("/api/products/stats/summary")).json()
    assert stats["optimized_products"] == 3
    assert stats["average_optimization_score"] is not None
    settings.max_batch_items = 2
    too_many = await client.post(
        "/api/ai/batch-optimize", json={"product_ids": ids, "target_marketplace": "ebay"}
    )
    assert too_many.status_code == 413


async def test_marketplaces_are_listed(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/export/marketplaces")).json()
    ids = {m["id"] for m in body}
    assert {"amazon", "ebay", "allegro", "kaufland"} <= ids
    amazon = next(m for m in body if m["id"] == "amazon")
    assert "de" in amazon["regions"]


async def test_listings_belong_to_their_workspace(
    app: FastAPI, client: httpx.AsyncClient, anon_client: httpx.AsyncClient
) -> None:
    product_id = await _product(client)
    await client.post(f"/api/ai/optimize/{product_id}?target_marketplace=ebay")
    [listing] = (await client.get(f"/api/products/{product_id}/listings")).json()
    other = {"X-API-Key": await make_api_key(app, "other-shop")}
    assert (
        await anon_client.patch(
            f"/api/listings/{listing['id']}", json={"title": "x"}, headers=other
        )
    ).status_code == 404
    assert (
        await anon_client.get(f"/api/products/{product_id}/listings", headers=other)
    ).status_code == 404
    assert (
        await anon_client.post(f"/api/ai/optimize/{product_id}", headers=other)
    ).status_code == 404
