"""Settings page: API keys made and revoked from the page work (and stop working) on the API."""

from __future__ import annotations

import re

import httpx


async def test_create_and_revoke_an_api_key(signed_in: tuple[httpx.AsyncClient, str]) -> None:
    web, token = signed_in
    empty = await web.post("/settings/api-keys", data={"csrf_token": token, "name": " "})
    assert empty.status_code == 400
    assert 'id="key-error">an API key needs a name<' in empty.text
    created = await web.post("/settings/api-keys", data={"csrf_token": token, "name": "<b>n8n</b>"})
    assert created.status_code == 200
    key = re.search(r'<code id="new-api-key">(lf_[^<]+)</code>', created.text)
    assert key
    assert "&lt;b&gt;n8n&lt;/b&gt;" in created.text
    api = {"X-API-Key": key.group(1)}
    unused = (await web.get("/settings")).text.count('<span class="muted">never</span>')
    assert unused >= 1  # the new key's "Last used"
    assert (await web.get("/api/products", headers=api)).status_code == 200
    page = await web.get("/settings")
    assert page.text.count('<span class="muted">never</span>') == unused - 1
    assert key.group(1) not in page.text  # shown once only
    key_id = re.search(r'action="/settings/api-keys/(\d+)/revoke"', page.text)
    assert key_id
    refused = await web.post(f"/settings/api-keys/{key_id.group(1)}/revoke")
    assert refused.status_code == 403
    revoked = await web.post(
        f"/settings/api-keys/{key_id.group(1)}/revoke", data={"csrf_token": token}
    )
    assert revoked.status_code == 303
    assert (await web.get("/api/products", headers=api)).status_code == 401
    assert "revoked" in (await web.get("/settings")).text


async def test_llm_settings_are_shown_read_only(signed_in: tuple[httpx.AsyncClient, str]) -> None:
    web, _ = signed_in
    page = await web.get("/settings")
    assert "not configured: listings are written by the offline optimizer" in page.text
    assert "llama-3.3-70b-versatile" in page.text
