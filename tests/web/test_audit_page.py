"""Settings > Audit log: changes made on the pages and through the API show with who made them,
filtered and paged; what a user typed is shown as text."""

from __future__ import annotations

import re

import httpx

from tests.web.conftest import EMAIL


async def test_the_audit_page_names_who_changed_what(
    signed_in: tuple[httpx.AsyncClient, str],
) -> None:
    web, token = signed_in
    created = await web.post("/settings/api-keys", data={"csrf_token": token, "name": "<i>n8n</i>"})
    key = re.search(r'<code id="new-api-key">(lf_[^<]+)</code>', created.text)
    assert key
    api = {"X-API-Key": key.group(1)}
    product = await web.post(
        "/api/import/product",
        json={"source_id": "AUD-1", "title": "Kubek <b>ceramiczny</b>", "price": 19.99},
        headers=api,
    )
    product_id = product.json()["product_id"]
    assert (await web.delete(f"/api/products/{product_id}", headers=api)).status_code == 200

    page = await web.get("/settings/audit")
    assert page.status_code == 200
    assert "api_key.create" in page.text
    assert EMAIL in page.text  # the key was made on the pages, by the signed-in user
    assert "product.delete" in page.text
    assert f"api key {key.group(1)[:10]}" in page.text  # the key by its prefix...
    assert key.group(1) not in page.text  # ...never the key
    assert "Kubek &lt;b&gt;ceramiczny&lt;/b&gt;" in page.text  # escaped
    assert "&lt;i&gt;n8n&lt;/i&gt;" in page.text

    deletes = await web.get("/settings/audit", params={"action": "product.delete"})
    assert "product.delete" in deletes.text and "api_key.create" not in deletes.text
    nobody = await web.get("/settings/audit", params={"actor": "nobody@example.com"})
    assert "Nothing recorded for these filters" in nobody.text


async def test_the_audit_page_needs_a_sign_in(web: httpx.AsyncClient) -> None:
    response = await web.get("/settings/audit")
    assert response.status_code in (302, 303)
    assert "/login" in response.headers["location"]
