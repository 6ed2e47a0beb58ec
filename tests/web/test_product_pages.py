"""Dashboard, products table and product page: real imports and optimizations through the API,
then the pages read them."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import make_api_key


def _product(i: int, **extra: object) -> dict[str, object]:
    return {
        "source_platform": "allegro",
        "source_id": f"SKU-{i:04d}",
        "title": f"Kubek ceramiczny {i} biały 300 ml",
        "description": f"Kubek numer {i}. Pojemność 300 ml, ceramika, można myć w zmywarce.",
        "price": "19.99",
        "brand": "Domix",
        "category": "Kuchnia",
        "images": ["https://img.example.com/a.jpg"],
        **extra,
    }


@pytest.fixture
async def api(app: FastAPI) -> httpx.AsyncClient:
    key = await make_api_key(app)
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(
        transport=transport, base_url="http://test", headers={"X-API-Key": key}
    )


async def _import(api: httpx.AsyncClient, products: list[dict[str, object]]) -> None:
    response = await api.post("/api/import/batch", json=products)
    assert response.status_code == 200, response.text
    assert response.json()["failed_count"] == 0


async def _optimize(api: httpx.AsyncClient, ids: list[int], marketplace: str = "allegro") -> None:
    response = await api.post(
        "/api/ai/batch-optimize",
        json={"product_ids": ids, "target_marketplace": marketplace, "engine": "offline"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["success_count"] == len(ids)


async def _ids(api: httpx.AsyncClient) -> list[int]:
    page = (await api.get("/api/products", params={"page_size": 100})).json()
    return [item["id"] for item in page["items"]]


async def test_products_page_searches_filters_and_pages_by_keyset(
    signed_in: tuple[httpx.AsyncClient, str], api: httpx.AsyncClient
) -> None:
    web, _ = signed_in
    await _import(api, [_product(i) for i in range(60)])
    first = await web.get("/products")
    assert first.status_code == 200
    assert "60 products match." in first.text
    assert first.text.count('name="product_ids"') == 50
    next_url = re.search(r'href="(/products\?cursor=[^"]+)" rel="next"', first.text)
    assert next_url
    second = await web.get(next_url.group(1).replace("&amp;", "&"))
    assert second.text.count('name="product_ids"') == 10
    assert 'rel="next"' not in second.text

    search = await web.get("/products", params={"q": "sku-0007"})
    assert "1 product match." in search.text
    assert "Kubek ceramiczny 7 biały" in search.text

    ids = await _ids(api)
    await _optimize(api, ids[:3], "amazon")
    by_marketplace = await web.get("/products", params={"marketplace": "amazon"})
    assert "3 products match." in by_marketplace.text
    by_status = await web.get("/products", params={"status": "optimized"})
    assert "3 products match." in by_status.text
    scored = await web.get("/products", params={"score_min": 0, "score_max": 100})
    assert "3 products match." in scored.text
    impossible = await web.get("/products", params={"score_min": 101})
    assert impossible.status_code == 422  # out of range is refused, not ignored


async def test_htmx_search_returns_only_the_table(
    signed_in: tuple[httpx.AsyncClient, str], api: httpx.AsyncClient
) -> None:
    web, _ = signed_in
    await _import(api, [_product(1)])
    response = await web.get(
        "/products", params={"q": "kubek"}, headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert "1 product match." in response.text
    assert "<html" not in response.text


async def test_titles_are_escaped_everywhere(
    signed_in: tuple[httpx.AsyncClient, str], api: httpx.AsyncClient
) -> None:
    web, _ = signed_in
    await _import(api, [_product(1, title="<script>alert(1)</script> kubek")])
    [product_id] = await _ids(api)
    for url in ("/products", f"/products/{product_id}"):
        page = await web.get(url)
        assert "<script>alert(1)</script>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


async def test_bulk_delete_needs_the_csrf_token(
    signed_in: tuple[httpx.AsyncClient, str], api: httpx.AsyncClient
) -> None:
    web, token = signed_in
    await _import(api, [_product(i) for i in range(3)])
    ids = await _ids(api)
    refused = await web.post("/products/bulk-delete", data={"product_ids": ids[:2]})
    assert refused.status_code == 403
    assert len(await _ids(api)) == 3
    done = await web.post(
        "/products/bulk-delete", data={"product_ids": ids[:2], "csrf_token": token}
    )
    assert done.status_code == 303
    assert await _ids(api) == ids[2:]
    assert "Deleted 2 products." in (await web.get(done.headers["location"])).text


async def test_product_page_shows_both_versions_and_the_score(
    signed_in: tuple[httpx.AsyncClient, str], api: httpx.AsyncClient
) -> None:
    web, _ = signed_in
    await _import(api, [_product(1)])
    [product_id] = await _ids(api)
    await _optimize(api, [product_id])
    listing = (await api.get(f"/api/products/{product_id}/listings")).json()[0]
    page = await web.get(f"/products/{product_id}")
    assert page.status_code == 200
    assert "Original" in page.text and "Optimized for allegro" in page.text
    assert "Score breakdown" in page.text
    for part in listing["breakdown"]:
        assert f"<td>{part}</td>" in page.text
    # The optimized title is on the page, word by word (the diff may split it).
    plain = re.sub(r"</?(ins|del)>", "", page.text)
    assert listing["title"].replace("&", "&amp;") in plain
    assert "Kubek ceramiczny 1 biały 300 ml" in plain


async def test_a_missing_product_is_a_404_page(signed_in: tuple[httpx.AsyncClient, str]) -> None:
    web, _ = signed_in
    page = await web.get("/products/999999")
    assert page.status_code == 404
    assert "product 999999 not found" in page.text
    assert page.headers["content-type"].startswith("text/html")


async def test_hand_edit_shows_inline_errors_then_saves_and_approves(
    signed_in: tuple[httpx.AsyncClient, str], api: httpx.AsyncClient
) -> None:
    web, token = signed_in
    await _import(api, [_product(1)])
    [product_id] = await _ids(api)
    await _optimize(api, [product_id])
    listing = (await api.get(f"/api/products/{product_id}/listings")).json()[0]
    url = f"/listings/{listing['id']}/edit"
    bad = await web.post(url, data={"csrf_token": token, "title": "  ", "description": "x"})
    assert bad.status_code == 422
    assert 'aria-invalid="true"' in bad.text
    assert "at least 1 character" in bad.text

    new_title = "Kubek ceramiczny biały 300 ml Domix do kawy"
    saved = await web.post(
        url,
        data={
            "csrf_token": token,
            "title": new_title,
            "description": listing["description"],
            "bullets": "Pojemność 300 ml\nCeramika",
            "keywords": "kubek, ceramika",
        },
    )
    assert saved.status_code == 303
    after = (await api.get(f"/api/products/{product_id}/listings")).json()[0]
    assert after["title"] == new_title
    assert after["edited"] is True
    assert after["bullets"] == ["Pojemność 300 ml", "Ceramika"]
    assert after["keywords"] == ["kubek", "ceramika"]
    assert "Your changes are saved." in (await web.get(saved.headers["location"])).text

    approve = await web.post(f"/listings/{listing['id']}/approve", data={"csrf_token": token})
    if any(i["severity"] == "error" for i in after["issues"]):
        assert approve.status_code == 409
        assert "cannot be approved" in approve.text
    else:
        assert approve.status_code == 303
        refreshed = (await api.get(f"/api/products/{product_id}/listings")).json()[0]
        assert refreshed["status"] == "approved"


async def test_dashboard_counts_and_charts_real_activity(
    signed_in: tuple[httpx.AsyncClient, str], api: httpx.AsyncClient
) -> None:
    web, _ = signed_in
    await _import(api, [_product(i) for i in range(4)])
    ids = await _ids(api)
    await _optimize(api, ids[:2], "ebay")
    page = await web.get("/")
    assert re.search(r'<span class="figure">4</span>products', page.text)
    assert re.search(r'<span class="figure">2</span>optimized', page.text)
    assert "4 imports</title>" in page.text  # today's import bar
    assert "2 optimizations</title>" in page.text
    assert 'href="/products?marketplace=ebay">ebay</a></td><td>2</td>' in page.text
    assert "batch-optimize:ebay" in page.text  # the recent job
