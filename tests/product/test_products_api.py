"""v1 product routes: list (page, cursor, filters, search), detail, delete, stats."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import update
from tests.factories import product_payload

from listingflow.models import Product


async def _import(client: httpx.AsyncClient, items: list[dict]) -> list[int]:
    body = (await client.post("/api/import/batch", json=items)).json()
    assert body["failed_count"] == 0, body
    return [r["product_id"] for r in body["results"]]


async def test_list_is_newest_first_with_v1_paging(client: httpx.AsyncClient) -> None:
    for i in range(3):  # three requests: three distinct created_at values
        await _import(client, [product_payload(source_id=f"P-{i}-{j}") for j in range(5)])
    page1 = (await client.get("/api/products?page=1&page_size=4")).json()
    assert page1["total"] == 15
    assert page1["total_pages"] == 4
    assert page1["page"] == 1
    assert page1["page_size"] == 4
    assert [p["source_id"][:3] for p in page1["items"]] == ["P-2"] * 4
    created = [p["created_at"] for p in page1["items"]]
    assert created == sorted(created, reverse=True)
    page4 = (await client.get("/api/products?page=4&page_size=4")).json()
    assert len(page4["items"]) == 3
    assert page4["next_cursor"] is None


async def test_cursor_walks_every_product_exactly_once(client: httpx.AsyncClient) -> None:
    ids = await _import(client, [product_payload() for _ in range(23)])
    seen: list[int] = []
    cursor = None
    while True:
        params = {"page_size": 5, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/products", params=params)).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(set(seen))


async def test_cursor_pages_agree_with_offset_pages(client: httpx.AsyncClient) -> None:
    await _import(client, [product_payload() for _ in range(12)])
    first = (await client.get("/api/products?page_size=5")).json()
    by_cursor = (
        await client.get(f"/api/products?page_size=5&cursor={first['next_cursor']}")
    ).json()
    by_page = (await client.get("/api/products?page_size=5&page=2")).json()
    assert [p["id"] for p in by_cursor["items"]] == [p["id"] for p in by_page["items"]]


async def test_a_forged_cursor_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/products?cursor=WyIyMDI2LTAxLTAxIiwgMSwgIiJdAAAAAAAAAAAAAAAA")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "cursor"


async def test_a_cursor_from_another_filter_is_400(client: httpx.AsyncClient) -> None:
    await _import(client, [product_payload() for _ in range(3)])
    cursor = (await client.get("/api/products?page_size=1")).json()["next_cursor"]
    response = await client.get(f"/api/products?page_size=1&status=imported&cursor={cursor}")
    assert response.status_code == 400


async def test_filters_by_status_source_and_search(client: httpx.AsyncClient, app: FastAPI) -> None:
    ids = await _import(
        client,
        [
            product_payload(source_id="ABC-1", title="Czajnik elektryczny 1,7 l"),
            product_payload(source_id="ABC-2", title="Kubek 100% ceramika", source_platform="ebay"),
            product_payload(source_id="XYZ-3", title="Toster"),
        ],
    )
    async with app.state.db.session() as session:
        await session.execute(
            update(Product).where(Product.id == ids[2]).values(status="optimized")
        )
        await session.commit()
    assert (await client.get("/api/products?status=optimized")).json()["total"] == 1
    assert (await client.get("/api/products?source=ebay")).json()["total"] == 1
    assert (await client.get("/api/products?q=czajnik")).json()["total"] == 1
    assert (await client.get("/api/products?q=abc-")).json()["total"] == 2
    # % and _ are searched literally, not as wildcards
    assert (await client.get("/api/products?q=100%25")).json()["total"] == 1
    assert (await client.get("/api/products?q=%25")).json()["total"] == 1


async def test_bad_list_parameters_are_422_naming_the_field(client: httpx.AsyncClient) -> None:
    for query, field in [
        ("page_size=0", "page_size"),
        ("page_size=101", "page_size"),
        ("page=0", "page"),
        ("page=abc", "page"),
        ("status=done", "status"),
    ]:
        response = await client.get(f"/api/products?{query}")
        assert response.status_code == 422, query
        assert response.json()["errors"][0]["field"] == field


async def test_total_follows_writes_immediately(client: httpx.AsyncClient) -> None:
    ids = await _import(client, [product_payload() for _ in range(3)])
    assert (await client.get("/api/products")).json()["total"] == 3
    await client.delete(f"/api/products/{ids[0]}")
    assert (await client.get("/api/products")).json()["total"] == 2
    await _import(client, [product_payload()])
    assert (await client.get("/api/products")).json()["total"] == 3


async def test_detail_and_delete(client: httpx.AsyncClient) -> None:
    [product_id] = await _import(client, [product_payload(source_id="DEL-1")])
    detail = await client.get(f"/api/products/{product_id}")
    assert detail.status_code == 200
    assert set(detail.json()) >= {
        "id",
        "source_platform",
        "source_id",
        "source_url",
        "title_original",
        "title_optimized",
        "description_original",
        "description_optimized",
        "category",
        "brand",
        "price",
        "currency",
        "images",
        "attributes",
        "status",
        "optimization_score",
        "marketplace_data",
        "created_at",
        "updated_at",
    }
    deleted = await client.delete(f"/api/products/{product_id}")
    assert deleted.json() == {"status": "success", "message": "Product deleted"}
    assert (await client.get(f"/api/products/{product_id}")).status_code == 404
    assert (await client.delete(f"/api/products/{product_id}")).status_code == 404


async def test_non_numeric_product_id_is_422(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/products/abc")).status_code == 422


async def test_stats_come_from_the_data(client: httpx.AsyncClient, app: FastAPI) -> None:
    empty = (await client.get("/api/products/stats/summary")).json()
    assert empty["total_products"] == 0
    assert empty["average_optimization_score"] is None
    ids = await _import(client, [product_payload() for _ in range(5)])
    async with app.state.db.session() as session:
        await session.execute(
            update(Product)
            .where(Product.id == ids[0])
            .values(status="optimized", optimization_score=80)
        )
        await session.execute(
            update(Product)
            .where(Product.id == ids[1])
            .values(status="published", optimization_score=91)
        )
        await session.execute(update(Product).where(Product.id == ids[2]).values(status="failed"))
        await session.commit()
    # A direct SQL write does not bump the cache generation; an API write does.
    await client.delete(f"/api/products/{ids[4]}")
    stats = (await client.get("/api/products/stats/summary")).json()
    assert stats["total_products"] == 4
    assert stats["pending_optimization"] == 1
    assert stats["optimized_products"] == 1
    assert stats["published_products"] == 1
    assert stats["failed_products"] == 1
    assert stats["average_optimization_score"] == 85.5
    assert stats["recent_imports"] == 4
    assert stats["recent_publishes"] == 1
    assert stats["by_status"]["imported"] == 1
    assert sum(stats["by_status"].values()) == 4


async def test_openapi_documents_the_error_shape(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert "ErrorOut" in schema["components"]["schemas"]
    responses = schema["paths"]["/api/products"]["get"]["responses"]
    assert responses["422"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorOut")
    assert "/api/import/webhook" in schema["paths"]
