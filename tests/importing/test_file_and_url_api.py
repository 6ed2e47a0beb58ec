"""POST /api/import/file (multipart) and POST /api/import/url over real HTTP to a local server."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import openpyxl
import orjson
import pytest
from tests.conftest import SHARED_DATA

from listingflow.config import Settings

PAGES = Path(__file__).parents[1] / "fixtures" / "pages"


async def _upload(
    client: httpx.AsyncClient, name: str, content: bytes, **extra: tuple[str, bytes, str]
) -> httpx.Response:
    files = {"file": (name, content, "application/octet-stream"), **extra}
    return await client.post("/api/import/file", files=files)


async def test_shopify_export_imports_one_product_per_handle(client: httpx.AsyncClient) -> None:
    content = (SHARED_DATA / "shopify-product-template.csv").read_bytes()
    response = await _upload(client, "products_export.csv", content)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success_count"] == 3
    listing = (await client.get("/api/products?source=shopify")).json()
    assert listing["total"] == 3
    job = (await client.get(f"/api/import/job/{body['job_id']}")).json()
    assert job["source"] == "file:products_export.csv"
    assert job["status"] == "completed"


async def test_woocommerce_export_imports_sellable_items(client: httpx.AsyncClient) -> None:
    content = (SHARED_DATA / "woocommerce-sample-products.csv").read_bytes()
    body = (await _upload(client, "wc-product-export.csv", content)).json()
    assert body["success_count"] > 0
    listing = (await client.get("/api/products?source=woocommerce&page_size=100")).json()
    assert listing["total"] == body["created"]
    assert all(p["price"] > 0 for p in listing["items"])


async def test_reuploading_a_file_updates_nothing(client: httpx.AsyncClient) -> None:
    content = (SHARED_DATA / "shopify-product-template.csv").read_bytes()
    await _upload(client, "a.csv", content)
    again = (await _upload(client, "a.csv", content)).json()
    assert again["unchanged"] == 3
    assert again["created"] == 0
    assert (await client.get("/api/products")).json()["total"] == 3


async def test_xlsx_upload(client: httpx.AsyncClient) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["source_id", "title", "price", "currency", "kolor"])
    sheet.append(["X-1", "Lampka biurkowa LED", 89.9, "PLN", "biały"])
    sheet.append([12345, "Schreibtischlampe", 39.95, "EUR", "weiß"])
    buffer = io.BytesIO()
    book.save(buffer)
    body = (await _upload(client, "lampy.xlsx", buffer.getvalue())).json()
    assert body["success_count"] == 2, body
    items = (await client.get("/api/products")).json()["items"]
    by_id = {p["source_id"]: p for p in items}
    assert by_id["12345"]["price"] == 39.95
    assert by_id["X-1"]["attributes"]["kolor"] == "biały"


async def test_json_lines_upload_reports_bad_lines(client: httpx.AsyncClient) -> None:
    lines = b"\n".join(
        [
            orjson.dumps({"source_id": "J-1", "title": "Kubek", "price": 19.99}),
            b"{broken",
            orjson.dumps({"source_id": "J-3", "title": "Talerz", "price": 0}),
        ]
    )
    body = (await _upload(client, "feed.jsonl", lines)).json()
    assert body["success_count"] == 1
    assert body["results"] == []
    failed = {e["index"]: e["field"] for e in body["errors"]}
    assert failed[3] == "price"
    assert 2 in failed


async def test_mapping_file_overrides_detection(client: httpx.AsyncClient) -> None:
    csv = b"Artikelnummer;Bezeichnung;Preis;Farbe\nA-1;Teekanne;24,90;blau\n"
    mapping = orjson.dumps(
        {
            "columns": {
                "Artikelnummer": "source_id",
                "Bezeichnung": "title",
                "Preis": "price",
                "Farbe": "attributes.color",
            },
            "defaults": {"currency": "EUR", "source_platform": "myshop"},
        }
    )
    response = await _upload(
        client, "artikel.csv", csv, mapping=("mapping.json", mapping, "application/json")
    )
    assert response.json()["success_count"] == 1, response.text
    product = (await client.get("/api/products?source=myshop")).json()["items"][0]
    assert product["price"] == 24.9
    assert product["currency"] == "EUR"
    assert product["attributes"]["color"] == "blau"


async def test_bad_mapping_file_is_422(client: httpx.AsyncClient) -> None:
    response = await _upload(
        client,
        "a.csv",
        b"id,title,price\n1,x,2\n",
        mapping=("m.json", b'{"columns": {"id": "nonsense"}}', "application/json"),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "mapping"


async def test_unknown_file_type_is_422_naming_the_file(client: httpx.AsyncClient) -> None:
    response = await _upload(client, "catalog.pdf", b"%PDF-1.4 ...")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "file"


async def test_empty_file_is_422(client: httpx.AsyncClient) -> None:
    response = await _upload(client, "empty.csv", b"")
    assert response.status_code == 422


async def test_missing_file_field_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/import/file", data={"source_platform": "x"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "file"


@pytest.fixture(scope="module")
def page_server() -> Iterator[str]:
    handler = partial(SimpleHTTPRequestHandler, directory=str(PAGES))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined,method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def allow_local_pages(settings: Settings) -> None:
    settings.url_fetch_allow_private = True


async def test_url_import_reads_a_product_page(
    client: httpx.AsyncClient, page_server: str, allow_local_pages: None
) -> None:
    url = f"{page_server}/allegro_offer.html"
    response = await client.post("/api/import/url", json={"url": url, "source_platform": "allegro"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["result"] == "created"
    product = (await client.get(f"/api/products/{body['product_id']}")).json()
    assert product["source_platform"] == "allegro"
    assert product["title_original"]
    assert product["price"] > 0
    assert product["currency"] == "PLN"
    again = await client.post("/api/import/url", json={"url": url, "source_platform": "allegro"})
    assert again.json()["result"] == "unchanged"


async def test_url_without_a_product_is_422_naming_the_missing_field(
    client: httpx.AsyncClient, page_server: str, allow_local_pages: None
) -> None:
    response = await client.post("/api/import/url", json={"url": f"{page_server}/no_product.html"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "price"


async def test_url_on_a_private_address_is_refused(
    client: httpx.AsyncClient, page_server: str
) -> None:
    response = await client.post(
        "/api/import/url", json={"url": f"{page_server}/allegro_offer.html"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "url"
    assert (await client.get("/api/products")).json()["total"] == 0


async def test_url_with_a_bad_scheme_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/import/url", json={"url": "file:///etc/passwd"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "url"


async def test_unreachable_url_is_502(
    client: httpx.AsyncClient, page_server: str, allow_local_pages: None
) -> None:
    response = await client.post("/api/import/url", json={"url": f"{page_server}/missing.html"})
    assert response.status_code == 502
    assert response.json()["errors"][0]["field"] == "url"
