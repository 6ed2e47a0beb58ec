"""A marketplace answering 500 for a while (5 s here; LISTINGFLOW_TEST_OUTAGE_SECONDS=60 runs
the full minute through the same mechanism): the client's own retries give up, the publish job
items are retried by Dramatiq with backoff, and every product ends published once, with no
duplicate offer or inventory item on the marketplace even though the first failed call had
done its work before its answer was lost."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from listingflow.config import Settings
from tests.factories import product_payload
from tests.fakes.ebay_server import PREFIX, FakeEbayServer

OUTAGE_SECONDS = float(os.environ.get("LISTINGFLOW_TEST_OUTAGE_SECONDS", "5"))
PRODUCTS = 30  # two publish messages of 25 and 5
EAN = "5901234123457"
INTERNAL_ERROR = (
    b'{"errors":[{"errorId":25001,"domain":"API_INVENTORY","category":"APPLICATION",'
    b'"message":"A system error has occurred."}]}'
)


class Outage:
    """ASGI wrapper around the fake: the first request to `trigger` does its work but its answer
    is lost (a 500 instead), and from then on every request gets a 500 for `seconds`."""

    def __init__(self, app: ASGIApp, trigger: str, seconds: float) -> None:
        self.app = app
        self.trigger = trigger
        self.seconds = seconds
        self.until: float | None = None
        self.refused = 0

    async def _error(self, send: Send) -> None:
        self.refused += 1
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 500, "headers": headers})
        await send({"type": "http.response.body", "body": INTERNAL_ERROR})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        now = time.monotonic()
        if self.until is None and f"{scope['method']} {scope['path']}".startswith(self.trigger):
            self.until = now + self.seconds

            async def swallow(message: Message) -> None:
                return None

            await self.app(scope, receive, swallow)  # the work is done, the answer is lost
            await self._error(send)
            return
        if self.until is not None and now < self.until:
            await self._error(send)
            return
        await self.app(scope, receive, send)


async def test_a_marketplace_outage_is_retried_and_nothing_is_duplicated(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    settings.publish_wait_seconds = 0
    settings.currency_rates = {"PLN": 1, "EUR": "4.30"}
    settings.pricing_rules = {"ebay": {"currency": "EUR", "rounding": "0.99"}}
    ebay = FakeEbayServer()
    outage = Outage(ebay.app, f"POST {PREFIX}/bulk_create_offer", OUTAGE_SECONDS)
    ebay.app = outage
    with ebay:
        connected = await client.post(
            "/api/connections",
            json={
                "marketplace": "ebay",
                "credentials": ebay.credentials("EBAY_DE"),
                "settings": {
                    "attempts": 3,
                    "backoff": 0.05,
                    "rate": 200.0,
                    "base_url": ebay.base_url,
                    "auth_url": ebay.token_url,
                },
            },
        )
        assert connected.status_code == 201, connected.text
        batch = [
            product_payload(
                source_id=f"MO-{i}",
                attributes={"ean": EAN, "category_id": "9355", "color": "czarny"},
                images=["https://img.example.com/1.jpg", "https://img.example.com/2.jpg"],
            )
            for i in range(PRODUCTS)
        ]
        assert (await client.post("/api/import/batch", json=batch)).status_code == 200
        page = (await client.get("/api/products", params={"page_size": 100})).json()
        ids = [p["id"] for p in page["items"]]
        optimized = await client.post(
            "/api/ai/batch-optimize",
            json={"product_ids": ids, "target_marketplace": "ebay", "engine": "offline"},
        )
        assert optimized.json()["success_count"] == PRODUCTS, optimized.text

        started = await client.post(
            "/api/export/bulk-publish", json={"target_marketplace": "ebay", "product_ids": ids}
        )
        assert started.status_code == 200, started.text
        job_id = started.json()["job_id"]
        job: dict[str, Any] = {}
        for _ in range(int(OUTAGE_SECONDS * 2 + 100)):
            job = (await client.get(f"/api/jobs/{job_id}", params={"limit": 500})).json()
            if job["status"] == "completed":
                break
            await asyncio.sleep(0.5)

    assert outage.until is not None and outage.refused > 3  # the outage really happened
    assert job["status"] == "completed", job
    assert job["succeeded"] == PRODUCTS and job["failed"] == 0, job
    assert max(item["attempts"] for item in job["items"]) > 1  # retried by the job, not luck
    skus = {offer["sku"] for offer in ebay.offers.values()}
    assert len(skus) == PRODUCTS
    assert len(ebay.offers) == PRODUCTS  # one offer per SKU: the lost answer made no duplicate
    assert len(ebay.items) == PRODUCTS
    assert all(offer.get("status") == "PUBLISHED" for offer in ebay.offers.values())
    for product_id in ids:
        product = (await client.get(f"/api/products/{product_id}")).json()
        assert product["marketplace_data"]["ebay"]["publication_status"] == "published"
