"""The n8n webhook: v1 X-Webhook-Secret, the signed X-Signature mode, replay and window checks."""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx
import orjson
from fastapi import FastAPI
from tests.conftest import WEBHOOK_SECRET
from tests.factories import product_payload

from listingflow.auth.service import auth_service


def envelope(*products: dict, source: str = "allegro") -> dict:
    return {"source": source, "event_type": "product.import", "data": {"products": list(products)}}


def sign(secret: str, body: bytes, ts: int | None = None) -> str:
    ts = int(time.time()) if ts is None else ts
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


async def test_v1_webhook_with_the_configured_secret_imports(
    anon_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    response = await anon_client.post(
        "/api/import/webhook",
        json=envelope(product_payload(source_id="W-1"), product_payload(source_id="W-2")),
        headers={"X-Webhook-Secret": WEBHOOK_SECRET},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert body["success_count"] == 2
    assert body["job_id"]
    assert (await client.get("/api/products")).json()["total"] == 2


async def test_webhook_source_overrides_the_items_platform(
    anon_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    await anon_client.post(
        "/api/import/webhook",
        json=envelope(product_payload(source_platform="allegro"), source="ebay"),
        headers={"X-Webhook-Secret": WEBHOOK_SECRET},
    )
    assert (await client.get("/api/products?source=ebay")).json()["total"] == 1


async def test_webhook_wrong_or_missing_secret_is_401(anon_client: httpx.AsyncClient) -> None:
    wrong = await anon_client.post(
        "/api/import/webhook",
        json=envelope(product_payload()),
        headers={"X-Webhook-Secret": WEBHOOK_SECRET + "x"},
    )
    missing = await anon_client.post("/api/import/webhook", json=envelope(product_payload()))
    assert wrong.status_code == missing.status_code == 401


async def test_webhook_with_no_products_is_400(anon_client: httpx.AsyncClient) -> None:
    response = await anon_client.post(
        "/api/import/webhook", json=envelope(), headers={"X-Webhook-Secret": WEBHOOK_SECRET}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "data.products"


async def test_webhook_without_data_is_422(anon_client: httpx.AsyncClient) -> None:
    response = await anon_client.post(
        "/api/import/webhook",
        json={"source": "allegro"},
        headers={"X-Webhook-Secret": WEBHOOK_SECRET},
    )
    assert response.status_code == 422


async def test_signed_webhook_is_accepted_once(anon_client: httpx.AsyncClient) -> None:
    body = orjson.dumps(envelope(product_payload()))
    headers = {"X-Signature": sign(WEBHOOK_SECRET, body), "content-type": "application/json"}
    first = await anon_client.post("/api/import/webhook", content=body, headers=headers)
    replay = await anon_client.post("/api/import/webhook", content=body, headers=headers)
    assert first.status_code == 200
    assert replay.status_code == 409
    assert "already used" in replay.json()["detail"]


async def test_signed_webhook_outside_the_window_is_401(anon_client: httpx.AsyncClient) -> None:
    body = orjson.dumps(envelope(product_payload()))
    old = sign(WEBHOOK_SECRET, body, ts=int(time.time()) - 301)
    response = await anon_client.post(
        "/api/import/webhook", content=body, headers={"X-Signature": old}
    )
    assert response.status_code == 401
    assert "window" in response.json()["detail"]


async def test_signed_webhook_with_a_tampered_body_is_401(anon_client: httpx.AsyncClient) -> None:
    body = orjson.dumps(envelope(product_payload(price=10)))
    signature = sign(WEBHOOK_SECRET, body)
    tampered = body.replace(b'"price":10', b'"price":1')
    response = await anon_client.post(
        "/api/import/webhook", content=tampered, headers={"X-Signature": signature}
    )
    assert response.status_code == 401


async def test_malformed_signature_header_is_401(anon_client: httpx.AsyncClient) -> None:
    response = await anon_client.post(
        "/api/import/webhook",
        content=b"{}",
        headers={"X-Signature": "sha256=deadbeef"},
    )
    assert response.status_code == 401
    assert "t=<unix time>" in response.json()["detail"]


async def test_each_secret_maps_to_its_workspace(
    app: FastAPI, anon_client: httpx.AsyncClient
) -> None:
    async with app.state.db.session() as session:
        shop = await auth_service.create_workspace(session, "shop-w")
        secret = await auth_service.create_webhook_secret(session, shop.id, name="n8n")
        _, key = await auth_service.create_api_key(session, shop.id, name="k")
        await session.commit()
    body = orjson.dumps(envelope(product_payload(source_id="SHOP-1")))
    response = await anon_client.post(
        "/api/import/webhook", content=body, headers={"X-Signature": sign(secret.plaintext, body)}
    )
    assert response.status_code == 200
    listing = (await anon_client.get("/api/products", headers={"X-API-Key": key})).json()
    assert [p["source_id"] for p in listing["items"]] == ["SHOP-1"]
