"""Size caps with clear messages: the request body (JSON and streamed), file uploads (API and
page), products per request on every batch route, page sizes on every list route, and an id
past 64 bits (found by fuzzing: it was a 500 on SQLite)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from listingflow.app import create_app
from listingflow.config import Settings
from tests.conftest import WEBHOOK_SECRET, make_api_key
from tests.factories import product_payload
from tests.web.conftest import csrf_of, make_user, sign_in

SMALL_BODY = 4096


@asynccontextmanager
async def running(settings: Settings, **overrides: Any) -> AsyncIterator[FastAPI]:
    app = create_app(settings.model_copy(update=overrides))
    async with LifespanManager(app):
        yield app


def api(app: FastAPI, key: str | None = None) -> httpx.AsyncClient:
    headers = {"X-API-Key": key} if key else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test", headers=headers
    )


def assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    body = response.json()
    assert body["code"] == "payload_too_large"
    assert "limit" in body["detail"]


# --- request body and file uploads -------------------------------------------------------------


async def test_a_body_over_max_body_bytes_is_413_naming_the_limit(settings: Settings) -> None:
    async with running(settings, max_body_bytes=SMALL_BODY) as app:
        key = await make_api_key(app)
        async with api(app, key) as client:
            declared = await client.post("/api/import/batch", content=b"[" + b" " * SMALL_BODY)

            async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as read
                for _ in range(8):
                    yield b" " * 1024

            streamed = await client.post(
                "/api/import/batch",
                content=chunks(),
                headers={"content-type": "application/json"},
            )
            fits = await client.post("/api/import/batch", json=[product_payload()])
    assert_too_large(declared)
    assert "0.00390625 MB limit" in declared.json()["detail"]
    assert "split it into smaller batches" in declared.json()["detail"]
    assert_too_large(streamed)
    assert fits.status_code == 200


async def test_a_file_upload_over_the_cap_is_413(settings: Settings) -> None:
    rows = "sku,name,price\n" + "".join(f"S-{i},Kubek {i},19.99\n" for i in range(400))
    assert len(rows) > SMALL_BODY
    async with running(settings, max_body_bytes=SMALL_BODY) as app:
        key = await make_api_key(app)
        async with api(app, key) as client:
            refused = await client.post(
                "/api/import/file", files={"file": ("catalog.csv", rows.encode(), "text/csv")}
            )
            small = "sku,name,price\nS-1,Kubek,19.99\n"
            accepted = await client.post(
                "/api/import/file", files={"file": ("catalog.csv", small.encode(), "text/csv")}
            )
    assert_too_large(refused)
    assert accepted.status_code == 200, accepted.text


async def test_a_page_upload_over_the_cap_is_413(settings: Settings) -> None:
    async with running(settings, max_body_bytes=SMALL_BODY) as app:
        await make_user(app)
        async with api(app) as web:
            csrf = await sign_in(web)
            page = await web.get("/import")
            assert page.status_code == 200
            refused = await web.post(
                "/import/file/preview",
                data={"csrf_token": csrf},
                files={"file": ("big.csv", b"sku,name\n" + b"x,y\n" * 2000, "text/csv")},
            )
    assert_too_large(refused)
    assert csrf_of(page.text)


# --- products per request ---------------------------------------------------------------------


@pytest.fixture
def three_items(settings: Settings) -> Iterator[int]:
    """max_batch_items=3 for this test (the routes read it per request)."""
    settings.max_batch_items = 3
    yield 3


async def test_every_batch_route_refuses_more_items_than_max_batch_items(
    three_items: int, client: httpx.AsyncClient, anon_client: httpx.AsyncClient
) -> None:
    four = [product_payload() for _ in range(4)]
    answers = {
        "body": await client.post("/api/import/batch", json=four),
        "data.products": await anon_client.post(
            "/api/import/webhook",
            json={"data": {"products": four}},
            headers={"X-Webhook-Secret": WEBHOOK_SECRET},
        ),
        "product_ids": await client.post(
            "/api/ai/batch-optimize", json={"product_ids": [1, 2, 3, 4]}
        ),
        "product_ids ": await client.post(
            "/api/export/bulk-publish",
            json={"product_ids": [1, 2, 3, 4], "target_marketplace": "ebay"},
        ),
    }
    for field, response in answers.items():
        assert_too_large(response)
        body = response.json()
        assert "4 products in one request; the limit is 3" in body["detail"]
        assert body["errors"][0]["field"] == field.strip()
    accepted = await client.post("/api/import/batch", json=four[:3])
    assert accepted.status_code == 200


# --- page sizes --------------------------------------------------------------------------------

PAGE_PARAMETERS = ("page_size", "limit")


def list_parameters(app: FastAPI) -> list[tuple[str, str, int]]:
    """(path, parameter, maximum) of every GET query parameter that sizes a page."""
    found = []
    for path, item in app.openapi()["paths"].items():
        operation = item.get("get")
        for parameter in (operation or {}).get("parameters", []):
            if parameter["in"] == "query" and parameter["name"] in PAGE_PARAMETERS:
                found.append((path, parameter["name"], parameter["schema"].get("maximum")))
    return found


async def test_every_page_size_parameter_has_a_maximum_that_is_enforced(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    parameters = list_parameters(app)
    assert {p[0] for p in parameters} >= {"/api/products", "/api/jobs"}
    for path, name, maximum in parameters:
        assert isinstance(maximum, int), f"{path}?{name} has no maximum"
        url = re.sub(r"\{[^}]+\}", "1", path)
        response = await client.get(url, params={name: maximum + 1})
        assert response.status_code == 422, (path, response.text)
        body = response.json()
        assert body["errors"][0]["field"] == name
        assert str(maximum) in body["errors"][0]["message"]


async def test_max_page_size_caps_the_product_pages(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    assert (
        await client.post("/api/import/batch", json=[product_payload() for _ in range(8)])
    ).status_code == 200
    settings.max_page_size = 5
    page = (await client.get("/api/products", params={"page_size": 50})).json()
    assert len(page["items"]) == 5 and page["total"] == 8


# --- numbers past 64 bits ----------------------------------------------------------------------


async def test_an_id_past_64_bits_is_a_4xx_not_a_500(client: httpx.AsyncClient) -> None:
    huge = 2**100
    answers = [
        await client.patch(f"/api/listings/{huge}", json={}),
        await client.get(f"/api/products/{huge}"),
        await client.post("/api/ai/batch-optimize", json={"product_ids": [huge]}),
    ]
    for response in answers:
        assert response.status_code in (404, 422), response.text
        assert response.json()["code"] in ("not_found", "validation_error")


async def test_the_products_page_takes_its_empty_score_boxes_as_no_bound(
    app: FastAPI, web: httpx.AsyncClient
) -> None:
    """The filter form (and htmx's live search) send `score_min=&score_max=` when left empty:
    that was a 422, found by the browser CSP test; bounds out of 0-100 are still refused."""
    await sign_in(web)
    empty = await web.get("/products", params={"q": "x", "score_min": "", "score_max": ""})
    out_of_range = await web.get("/products", params={"score_min": "101"})
    assert empty.status_code == 200
    assert out_of_range.status_code == 422
