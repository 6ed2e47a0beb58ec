"""v1 import routes: single, batch, job status; validation, limits, re-import."""

from __future__ import annotations

import httpx
from tests.factories import product_payload


async def test_single_product_import_returns_v1_shape(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/import/product", json=product_payload(source_id="X-1"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert body["result"] == "created"
    product = (await client.get(f"/api/products/{body['product_id']}")).json()
    assert product["source_id"] == "X-1"
    assert product["title_original"].startswith("Słuchawki")
    assert product["price"] == 1299.99
    assert product["status"] == "imported"
    assert product["title_optimized"] is None


async def test_reimport_updates_in_place_and_never_duplicates(client: httpx.AsyncClient) -> None:
    payload = product_payload(source_id="R-1")
    first = await client.post("/api/import/product", json=payload)
    same = await client.post("/api/import/product", json=payload)
    changed = await client.post("/api/import/product", json={**payload, "price": "999.00"})
    assert first.json()["result"] == "created"
    assert same.json()["result"] == "unchanged"
    assert changed.json()["result"] == "updated"
    assert first.json()["product_id"] == same.json()["product_id"] == changed.json()["product_id"]
    listing = (await client.get("/api/products")).json()
    assert listing["total"] == 1
    assert listing["items"][0]["price"] == 999.0


async def test_single_product_bad_price_is_422_naming_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/import/product", json=product_payload(price=-5))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["errors"][0]["field"] == "price"
    assert "greater than 0" in body["errors"][0]["message"]


async def test_single_product_missing_title_is_422(client: httpx.AsyncClient) -> None:
    payload = product_payload()
    del payload["title"]
    response = await client.post("/api/import/product", json=payload)
    assert response.status_code == 422
    assert {"field": "title", "message": "is required"} in response.json()["errors"]


async def test_batch_imports_good_items_and_reports_bad_ones(client: httpx.AsyncClient) -> None:
    items = [product_payload() for _ in range(120)]
    items[3]["price"] = "abc"
    items[70] = "not an object"
    del items[99]["source_id"]
    response = await client.post("/api/import/batch?source=allegro", json=items)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "partial"
    assert body["success_count"] == 117
    assert body["failed_count"] == 3
    failed = {r["index"]: r for r in body["results"] if r["status"] == "failed"}
    assert set(failed) == {4, 71, 100}
    assert failed[4]["errors"][0]["field"] == "price"
    assert failed[100]["errors"][0]["field"] == "source_id"
    job = (await client.get(f"/api/import/job/{body['job_id']}")).json()
    assert job["status"] == "completed"
    assert job["total_products"] == 120
    assert job["processed_products"] == 120
    assert job["failed_products"] == 3
    assert job["completed_at"] is not None
    assert (await client.get("/api/products")).json()["total"] == 117


async def test_batch_duplicate_source_ids_in_one_request_keep_the_last(
    client: httpx.AsyncClient,
) -> None:
    items = [
        product_payload(source_id="D-1", title="first"),
        product_payload(source_id="D-1", title="second"),
    ]
    body = (await client.post("/api/import/batch", json=items)).json()
    assert body["success_count"] == 2
    listing = (await client.get("/api/products")).json()
    assert listing["total"] == 1
    assert listing["items"][0]["title_original"] == "second"


async def test_batch_source_param_is_the_default_platform(client: httpx.AsyncClient) -> None:
    item = product_payload()
    del item["source_platform"]
    await client.post("/api/import/batch?source=amazon", json=[item])
    listing = (await client.get("/api/products?source=amazon")).json()
    assert listing["total"] == 1


async def test_batch_over_item_cap_is_413_suggesting_file_route(
    client: httpx.AsyncClient, settings
) -> None:
    settings.max_batch_items = 5
    response = await client.post("/api/import/batch", json=[product_payload() for _ in range(6)])
    assert response.status_code == 413
    assert "/api/import/file" in response.json()["detail"]


async def test_body_over_size_cap_is_413(client: httpx.AsyncClient, app) -> None:
    huge = [product_payload(description="x" * 50_000) for _ in range(500)]  # ~25 MB
    response = await client.post("/api/import/batch", json=huge)
    assert response.status_code == 413
    assert "20 MB" in response.json()["detail"]


async def test_batch_body_not_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/import/batch", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "body"


async def test_batch_body_not_a_list_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/import/batch", json={"products": []})
    assert response.status_code == 422


async def test_unknown_job_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/import/job/999999")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_price_is_stored_exactly(client: httpx.AsyncClient) -> None:
    body = (await client.post("/api/import/product", json=product_payload(price="0.1"))).json()
    product = (await client.get(f"/api/products/{body['product_id']}")).json()
    assert product["price"] == 0.1
    body = (
        await client.post("/api/import/product", json=product_payload(price="12345678.9999"))
    ).json()
    product = (await client.get(f"/api/products/{body['product_id']}")).json()
    assert str(product["price"]) == "12345678.9999"
