"""API keys: required on /api, accepted as X-API-Key or Bearer; workspaces never see each other."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from tests.conftest import make_api_key
from tests.factories import product_payload

from listingflow.models import ApiKey


async def test_api_routes_refuse_requests_without_a_key(anon_client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/api/products"),
        ("GET", "/api/products/stats/summary"),
        ("POST", "/api/import/product"),
        ("POST", "/api/import/batch"),
        ("GET", "/api/import/job/1"),
        ("DELETE", "/api/products/1"),
    ]:
        response = await anon_client.request(method, path, json=product_payload())
        assert response.status_code == 401, path
        assert response.json()["code"] == "unauthorized"


async def test_a_wrong_key_is_401(anon_client: httpx.AsyncClient) -> None:
    response = await anon_client.get("/api/products", headers={"X-API-Key": "lf_nope"})
    assert response.status_code == 401
    assert "invalid" in response.json()["detail"]


async def test_bearer_and_x_api_key_both_work(anon_client: httpx.AsyncClient, api_key: str) -> None:
    bearer = await anon_client.get("/api/products", headers={"Authorization": f"Bearer {api_key}"})
    header = await anon_client.get("/api/products", headers={"X-API-Key": api_key})
    assert bearer.status_code == header.status_code == 200


async def test_health_is_open(anon_client: httpx.AsyncClient) -> None:
    response = await anon_client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["database"] == "connected"


async def test_only_the_key_hash_is_stored(app: FastAPI, api_key: str) -> None:
    async with app.state.db.session() as session:
        rows = (await session.execute(select(ApiKey))).scalars().all()
    assert rows
    for row in rows:
        assert api_key not in (row.key_hash, row.prefix, row.name)
        assert len(row.key_hash) == 64


async def test_workspaces_never_see_each_others_products(
    app: FastAPI, anon_client: httpx.AsyncClient
) -> None:
    key_a = await make_api_key(app, "shop-a")
    key_b = await make_api_key(app, "shop-b")
    a = {"X-API-Key": key_a}
    b = {"X-API-Key": key_b}
    created = await anon_client.post(
        "/api/import/product", json=product_payload(source_id="SAME"), headers=a
    )
    product_id = created.json()["product_id"]
    # The same source id in another workspace is another product.
    other = await anon_client.post(
        "/api/import/product", json=product_payload(source_id="SAME"), headers=b
    )
    assert other.json()["result"] == "created"
    assert other.json()["product_id"] != product_id
    assert (await anon_client.get(f"/api/products/{product_id}", headers=b)).status_code == 404
    assert (await anon_client.delete(f"/api/products/{product_id}", headers=b)).status_code == 404
    listing_b = (await anon_client.get("/api/products", headers=b)).json()
    assert [p["id"] for p in listing_b["items"]] == [other.json()["product_id"]]
    stats_b = (await anon_client.get("/api/products/stats/summary", headers=b)).json()
    assert stats_b["total_products"] == 1
    job_a = (
        await anon_client.post("/api/import/batch", json=[product_payload()], headers=a)
    ).json()["job_id"]
    assert (await anon_client.get(f"/api/import/job/{job_a}", headers=b)).status_code == 404
    assert (await anon_client.get(f"/api/products/{product_id}", headers=a)).status_code == 200
