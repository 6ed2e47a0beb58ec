"""Import pages: inline field errors, file preview then import, URL import, the webhook page."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from listingflow.config import Settings
from tests.conftest import WEBHOOK_SECRET

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"
CSV = (
    "sku,name,cena,opis,marka\n"
    "A-1,Kubek biały 300 ml,19.99,Ceramiczny kubek,Domix\n"
    "A-2,Kubek czarny 300 ml,abc,Ceramiczny kubek,Domix\n"
    "A-3,Talerz płaski 27 cm,24.50,Porcelana,Domix\n"
).encode()


async def _preview(web: httpx.AsyncClient, token: str, name: str, content: bytes) -> httpx.Response:
    return await web.post(
        "/import/file/preview",
        data={"csrf_token": token},
        files={"file": (name, content, "application/octet-stream")},
    )


async def test_single_product_form_shows_errors_next_to_the_fields(
    signed_in: tuple[httpx.AsyncClient, str],
) -> None:
    web, token = signed_in
    page = await web.get("/import")
    assert 'for="f-title"' in page.text and 'id="f-title"' in page.text
    bad = await web.post(
        "/import/product",
        data={"csrf_token": token, "source_id": "X-1", "title": "", "price": "abc"},
    )
    assert bad.status_code == 422
    assert re.search(r'id="f-title-error">is required<', bad.text)
    assert 'id="f-price-error"' in bad.text
    assert 'value="X-1"' in bad.text  # what the seller typed is kept
    good = await web.post(
        "/import/product",
        data={
            "csrf_token": token,
            "source_platform": "manual",
            "source_id": "X-1",
            "title": "Kubek <b>biały</b>",
            "price": "19,99",
            "images": "https://img.example.com/1.jpg\nhttps://img.example.com/2.jpg",
        },
    )
    assert good.status_code == 303
    product = await web.get(good.headers["location"])
    assert "Kubek &lt;b&gt;biały&lt;/b&gt;" in product.text
    assert "19.99 PLN" in product.text


async def test_file_preview_shows_the_mapping_and_row_errors_then_imports(
    signed_in: tuple[httpx.AsyncClient, str],
) -> None:
    web, token = signed_in
    preview = await _preview(web, token, "katalog.csv", CSV)
    assert preview.status_code == 200, preview.text
    text = preview.text
    assert "<td>cena</td><td><code>price</code></td>" in text
    assert "<td>sku</td><td><code>source_id</code></td>" in text
    assert "<td>marka</td><td><code>brand</code></td>" in text
    assert "Talerz płaski 27 cm" in text
    assert re.search(r"<td>3</td>.*?price: ", text, re.S)  # CSV line 3 is the bad one
    upload = re.search(r'name="upload" value="([^"]+)"', text)
    assert upload
    result = await web.post(
        "/import/file",
        data={"csrf_token": token, "upload": upload.group(1), "filename": "katalog.csv"},
    )
    assert result.status_code == 200, result.text
    assert re.search(r'<span class="figure">2</span>created', result.text)
    assert re.search(r'<span class="figure">1</span>failed', result.text)
    assert re.search(r"<tr><td>3</td><td>price</td><td>[^<]+</td></tr>", result.text)
    assert "2 products match." in (await web.get("/products")).text
    again = await web.post(
        "/import/file",
        data={"csrf_token": token, "upload": upload.group(1), "filename": "katalog.csv"},
    )
    assert again.status_code == 404  # the staged file is used once
    assert "upload it again" in again.text


async def test_an_unreadable_file_is_an_inline_error(
    signed_in: tuple[httpx.AsyncClient, str],
) -> None:
    web, token = signed_in
    response = await _preview(web, token, "notes.pdf", b"%PDF-1.4")
    assert response.status_code == 422
    assert 'id="file-error"' in response.text
    assert "supported formats are" in response.text
    empty = await _preview(web, token, "empty.csv", b"")
    assert empty.status_code == 422
    assert "empty" in empty.text


async def test_upload_without_csrf_token_is_refused(
    signed_in: tuple[httpx.AsyncClient, str],
) -> None:
    web, _ = signed_in
    response = await web.post(
        "/import/file/preview", files={"file": ("katalog.csv", CSV, "text/csv")}
    )
    assert response.status_code == 403


async def test_json_files_preview_by_field_name(signed_in: tuple[httpx.AsyncClient, str]) -> None:
    web, token = signed_in
    content = b'[{"source_id": "J-1", "title": "Lampka LED", "price": 49.9}]'
    response = await _preview(web, token, "products.json", content)
    assert response.status_code == 200
    assert "Lampka LED" in response.text
    assert "layout <strong>json</strong>" in response.text


@pytest.fixture(scope="module")
def page_server() -> Iterator[str]:
    handler = partial(SimpleHTTPRequestHandler, directory=str(PAGES))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined,method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


async def test_url_import_goes_to_the_product_or_explains_why_not(
    signed_in: tuple[httpx.AsyncClient, str], page_server: str, settings: Settings
) -> None:
    web, token = signed_in
    refused = await web.post("/import/url", data={"csrf_token": token, "url": page_server})
    assert refused.status_code == 422
    assert 'id="url-error"' in refused.text  # a private address, before the setting allows it
    settings.url_fetch_allow_private = True
    done = await web.post(
        "/import/url", data={"csrf_token": token, "url": f"{page_server}/allegro_offer.html"}
    )
    assert done.status_code == 303
    assert done.headers["location"].startswith("/products/")
    missing = await web.post(
        "/import/url", data={"csrf_token": token, "url": f"{page_server}/no_product.html"}
    )
    assert missing.status_code == 200
    assert re.search(r"<td>price</td>", missing.text)


async def test_webhook_page_shows_and_rotates_the_secret(
    signed_in: tuple[httpx.AsyncClient, str],
) -> None:
    web, token = signed_in
    page = await web.get("/import/webhook")
    assert f'<code id="webhook-secret">{WEBHOOK_SECRET}</code>' in page.text
    assert "http://test/api/import/webhook" in page.text
    assert "n8n-nodes-base.httpRequest" in page.text
    assert "X-Webhook-Secret" in page.text
    rotated = await web.post("/import/webhook/rotate", data={"csrf_token": token})
    assert rotated.status_code == 303
    page = await web.get(rotated.headers["location"])
    new_secret = re.search(r'<code id="webhook-secret">([^<]+)</code>', page.text)
    assert new_secret and new_secret.group(1).startswith("whsec_")
    body = {"data": {"products": [{"source_id": "W-1", "title": "Kubek", "price": 10}]}}
    old = await web.post(
        "/api/import/webhook", json=body, headers={"X-Webhook-Secret": WEBHOOK_SECRET}
    )
    assert old.status_code == 401
    new = await web.post(
        "/api/import/webhook", json=body, headers={"X-Webhook-Secret": new_secret.group(1)}
    )
    assert new.status_code == 200
