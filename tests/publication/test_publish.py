"""Publishing end to end on each marketplace's local protocol server: import, optimize,
validate, publish through the real client; publishing again updates, never duplicates; the
history, the product's marketplace_data, a revoked refresh token stopping the job early."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.factories import product_payload
from tests.fakes.allegro_server import FakeAllegroServer
from tests.fakes.amazon_server import FakeAmazonServer
from tests.fakes.ebay_server import FakeEbayServer
from tests.fakes.kaufland_server import FakeKauflandServer

from listingflow.config import Settings

EAN = "5901234123457"


class Marketplace:
    """One fake server and how to connect to it and count what it holds."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.server: Any
        if name == "amazon":
            self.server = FakeAmazonServer()
        elif name == "ebay":
            self.server = FakeEbayServer()
        elif name == "allegro":
            self.server = FakeAllegroServer()
        else:
            self.server = FakeKauflandServer()

    def connection(self) -> dict[str, Any]:
        s = self.server
        fast = {"attempts": 3, "backoff": 0.05, "rate": 200.0}
        if self.name == "amazon":
            creds = s.credentials("DE")
            return {
                "credentials": creds,
                "settings": {**fast, "base_url": s.url, "auth_url": s.token_url},
            }
        if self.name == "ebay":
            return {
                "credentials": s.credentials("EBAY_DE"),
                "settings": {**fast, "base_url": s.base_url, "auth_url": s.token_url},
            }
        if self.name == "allegro":
            creds = {
                "client_id": s.client_id,
                "client_secret": s.client_secret,
                "refresh_token": s.issue_refresh_token(),
            }
            return {
                "credentials": creds,
                "settings": {**fast, "base_url": s.url, "auth_url": s.url},
            }
        creds = {"client_key": s.client_key, "secret_key": s.secret_key, "storefront": "de"}
        return {"credentials": creds, "settings": {**fast, "base_url": s.base_url}}

    def copies(self, sku: str) -> int:
        s = self.server
        if self.name == "amazon":
            return int(s.listing(sku, "A1PA6795UKMFR9") is not None) + int(
                s.listing(sku, "DE") is not None
            )
        if self.name == "ebay":
            return len(s.offers_for(sku))
        if self.name == "allegro":
            return len(s.offers_for(sku))
        return len(s.units_for(sku))

    def revoke(self) -> None:
        """The seller revokes our access (Kaufland: the API key pair is deleted)."""
        s = self.server
        if self.name == "allegro":
            s.revoke_refresh_tokens()
        elif self.name == "kaufland":
            s.keys.clear()
        else:
            s.revoke_refresh_token()


@pytest.fixture(params=["amazon", "ebay", "allegro", "kaufland"])
def marketplace(request: pytest.FixtureRequest) -> Iterator[Marketplace]:
    market = Marketplace(request.param)
    with market.server:
        yield market


@pytest.fixture(params=["amazon", "ebay", "allegro"])
def oauth_marketplace(request: pytest.FixtureRequest) -> Iterator[Marketplace]:
    """The marketplaces with access tokens (Kaufland signs each request instead)."""
    market = Marketplace(request.param)
    with market.server:
        yield market


@pytest.fixture(autouse=True)
def _pricing(settings: Settings) -> None:
    settings.publish_wait_seconds = 60
    settings.job_wait_seconds = 60  # optimizing 60 products on a busy CI machine takes a while
    settings.publish_follow_up_seconds = 0.1
    settings.currency_rates = {"PLN": 1, "EUR": "4.30"}
    settings.pricing_rules = {
        "amazon": {"currency": "EUR", "markup_percent": 10, "rounding": "0.99"},
        "ebay": {"currency": "EUR", "rounding": "0.99"},
        "kaufland": {"currency": "EUR", "markup_percent": 5, "commission_percent": 12},
        "allegro": {"rounding": "0.99"},
    }


async def _product(client: httpx.AsyncClient, marketplace: str, **extra: Any) -> int:
    payload = product_payload(
        attributes={
            "ean": EAN,
            "category_id": "9355",
            "color": "czarny",
            "connectivity": "Bluetooth 5.3",
            **extra,
        },
        images=["https://img.example.com/1.jpg", "https://img.example.com/2.jpg"],
    )
    response = await client.post("/api/import/product", json=payload)
    assert response.status_code == 200, response.text
    product_id = int(response.json()["product_id"])
    optimized = await client.post(
        f"/api/ai/optimize/{product_id}", params={"target_marketplace": marketplace}
    )
    assert optimized.status_code == 200, optimized.text
    return product_id


async def _until_published(
    client: httpx.AsyncClient, product_id: int, marketplace: str
) -> dict[str, Any]:
    for _ in range(200):
        product = (await client.get(f"/api/products/{product_id}")).json()
        data = dict(product["marketplace_data"][marketplace])
        if data["publication_status"] == "published":
            return data
        await asyncio.sleep(0.05)
    raise AssertionError(f"never published: {data}")


async def _connect(client: httpx.AsyncClient, market: Marketplace) -> dict[str, Any]:
    response = await client.post(
        "/api/connections", json={"marketplace": market.name, **market.connection()}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_product_goes_from_import_to_published_and_republishing_updates(
    client: httpx.AsyncClient, marketplace: Marketplace
) -> None:
    connection = await _connect(client, marketplace)
    secrets = [v for k, v in marketplace.connection()["credentials"].items() if "secret" in k]
    assert not any(secret in str(connection) for secret in secrets)  # never returned
    product_id = await _product(client, marketplace.name)

    first = await client.post(
        f"/api/export/publish/{product_id}", params={"marketplace": marketplace.name}
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["status"] == "success", body
    if marketplace.name != "allegro":
        assert body["currency"] == "EUR"  # priced by the marketplace's rule, from PLN
    if marketplace.name == "amazon":
        # ACCEPTED is not live: Amazon processes it later, and the follow-up check records it
        assert body["publication_status"] == "accepted"
        marketplace.server.process()
        data = await _until_published(client, product_id, marketplace.name)
        body["remote_id"] = data["remote_id"]
    assert body["remote_id"]

    product = (await client.get(f"/api/products/{product_id}")).json()
    assert product["status"] == "published"
    data = product["marketplace_data"][marketplace.name]
    assert data["remote_id"] == body["remote_id"]
    assert data["publication_status"] == "published"

    again = (
        await client.post(
            f"/api/export/publish/{product_id}", params={"marketplace": marketplace.name}
        )
    ).json()
    assert again["status"] == "success", again
    assert again["sku"] == body["sku"]
    assert marketplace.copies(body["sku"]) == 1  # updated, not duplicated

    history = (await client.get(f"/api/products/{product_id}/publications")).json()
    published = [h for h in history if h["mode"] == "publish"]
    assert len(published) == 2
    assert published[0]["price"]["steps"]  # the price can be traced to its rule
    if marketplace.name == "amazon":
        assert any(h["mode"] == "status" and h["status"] == "published" for h in history)
    else:
        assert published[0]["remote_id"] == again["remote_id"] == body["remote_id"]

    listing = (await client.get("/api/export/marketplaces")).json()
    row = next(m for m in listing if m["id"] == marketplace.name)
    assert row["connection_status"] == "connected"


async def test_an_expired_access_token_is_refreshed_without_the_caller_noticing(
    client: httpx.AsyncClient, oauth_marketplace: Marketplace
) -> None:
    marketplace = oauth_marketplace
    await _connect(client, marketplace)
    first = await _product(client, marketplace.name)
    assert (
        await client.post(f"/api/export/publish/{first}", params={"marketplace": marketplace.name})
    ).json()["status"] == "success"
    if marketplace.name == "allegro":
        marketplace.server.expire_access_tokens()
    else:
        marketplace.server.expire_tokens()
    second = await _product(client, marketplace.name)
    answer = (
        await client.post(f"/api/export/publish/{second}", params={"marketplace": marketplace.name})
    ).json()
    assert answer["status"] == "success", answer


async def test_revoked_access_stops_the_job_early_with_reconnect(
    client: httpx.AsyncClient, settings: Settings, marketplace: Marketplace
) -> None:
    await _connect(client, marketplace)
    ids = [await _product(client, marketplace.name) for _ in range(3)]
    marketplace.revoke()
    response = await client.post(
        "/api/export/bulk-publish",
        json={"target_marketplace": marketplace.name, "product_ids": ids},
    )
    body = response.json()
    assert body["failed_count"] == 3, body
    assert all(f"reconnect {marketplace.name}" in r["error"] for r in body["results"])
    job = (await client.get(f"/api/jobs/{body['job_id']}")).json()
    assert job["status"] == "completed"
    markets = (await client.get("/api/export/marketplaces")).json()
    assert next(m for m in markets if m["id"] == marketplace.name)["connection_status"] == "broken"
    # a new publish is refused at once until the seller reconnects
    refused = await client.post(
        f"/api/export/publish/{ids[0]}", params={"marketplace": marketplace.name}
    )
    assert refused.status_code == 409
    assert f"reconnect {marketplace.name}" in refused.json()["detail"]


async def test_publishing_without_a_connection_says_how_to_connect(
    client: httpx.AsyncClient,
) -> None:
    product_id = await _product(client, "ebay")
    response = await client.post(
        f"/api/export/publish/{product_id}", params={"marketplace": "ebay"}
    )
    assert response.status_code == 409
    assert "listingflow connect ebay" in response.json()["detail"]


async def test_an_unknown_marketplace_and_bad_credentials_name_the_field(
    client: httpx.AsyncClient,
) -> None:
    bad = await client.post(
        "/api/connections", json={"marketplace": "etsy", "credentials": {"a": "b"}}
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "marketplace"
    unknown = await client.post(
        "/api/connections",
        json={"marketplace": "kaufland", "credentials": {"client_key": "x", "pin": "1"}},
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "credentials.pin"
    missing = await client.post(
        "/api/connections", json={"marketplace": "kaufland", "credentials": {"client_key": "x"}}
    )
    assert missing.status_code == 422


async def test_bulk_publish_sends_whole_groups_and_duplicates_nothing(
    client: httpx.AsyncClient, marketplace: Marketplace
) -> None:
    """Amazon gets one JSON_LISTINGS_FEED for 60 listings, eBay bulk calls of 25, Allegro and
    Kaufland concurrent calls: every listing published once."""
    connection = marketplace.connection()
    if marketplace.name == "amazon":
        connection["settings"]["feed_poll_interval"] = 0.05
    response = await client.post(
        "/api/connections", json={"marketplace": marketplace.name, **connection}
    )
    assert response.status_code == 201, response.text
    count = 60 if marketplace.name == "amazon" else 30
    ids = []
    for n in range(count):
        payload = product_payload(
            source_id=f"BULK-{n}",
            attributes={"ean": EAN, "category_id": "9355", "color": "czarny"},
            images=["https://img.example.com/1.jpg"],
        )
        ids.append((await client.post("/api/import/product", json=payload)).json()["product_id"])
    optimized = await client.post(
        "/api/ai/batch-optimize", json={"product_ids": ids, "target_marketplace": marketplace.name}
    )
    assert optimized.json()["success_count"] == count
    body = (
        await client.post(
            "/api/export/bulk-publish",
            json={"target_marketplace": marketplace.name, "product_ids": ids},
        )
    ).json()
    assert body["success_count"] == count, body
    assert all(marketplace.copies(r["sku"]) == 1 for r in body["results"])
    if marketplace.name == "amazon":
        assert marketplace.server.calls["createFeed"] == 1
    if marketplace.name == "ebay":
        assert marketplace.server.calls["bulkCreateOffer"] == 2  # 25 + 5


async def test_testing_a_connection_records_its_status(
    client: httpx.AsyncClient, oauth_marketplace: Marketplace
) -> None:
    connection = await _connect(client, oauth_marketplace)
    assert connection["status"] == "untested"
    tested = (await client.post(f"/api/connections/{connection['id']}/test")).json()
    assert tested["status"] == "connected" and tested["checked_at"]
    oauth_marketplace.revoke()
    if oauth_marketplace.name == "allegro":
        oauth_marketplace.server.expire_access_tokens()
    else:
        oauth_marketplace.server.expire_tokens()
    broken = (await client.post(f"/api/connections/{connection['id']}/test")).json()
    assert broken["status"] == "broken"
    assert f"reconnect {oauth_marketplace.name}" in broken["last_error"]
