"""The Allegro client over real HTTP against the local Allegro API and OAuth server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from tests.fakes.allegro_server import MEDIA_TYPE, FakeAllegroServer
from tests.integrations.marketplaces.conftest import publish_despite_faults

from listingflow.integrations.marketplaces import allegro
from listingflow.integrations.marketplaces.allegro import (
    AllegroClient,
    DeviceFlowDeniedError,
    DeviceFlowExpiredError,
    create_client,
    poll_device_flow,
    start_device_flow,
)
from listingflow.integrations.marketplaces.base import (
    ConnectionBrokenError,
    MarketplaceClient,
    MemoryTokenStore,
    Offer,
    PublishStatus,
    Severity,
)


def make_offer(n: int = 1, **changes: Any) -> Offer:
    values: dict[str, Any] = {
        "sku": f"AL-{n:05d}",
        "title": f"Butelka stalowa 750 ml model {n}",
        "description": "Stalowa butelka.\n\n- Trzyma zimno 24 h\n- Szczelna zakrętka",
        "price": Decimal("49.99"),
        "currency": "PLN",
        "quantity": 5,
        "images": ("https://img.example.com/a.jpg", "https://img.example.com/b.jpg"),
        "brand": "Acme",
        "ean": "5901234123457",
        "category": "165",
        "attributes": {"delivery": {"shippingRates": {"id": "rates-1"}, "handlingTime": "PT24H"}},
    }
    values.update(changes)
    return Offer(**values)


@pytest.fixture
def server() -> Iterator[FakeAllegroServer]:
    with FakeAllegroServer(operation_retry_after=0.05) as fake:
        yield fake


@pytest.fixture
def make_client(
    server: FakeAllegroServer, opened: list[MarketplaceClient]
) -> Callable[..., AllegroClient]:

    def make(
        store: MemoryTokenStore | None = None, refresh_token: str | None = None, **options: Any
    ) -> AllegroClient:
        credentials = {
            "client_id": server.client_id,
            "client_secret": options.pop("client_secret", server.client_secret),
            "refresh_token": refresh_token or server.issue_refresh_token(),
        }
        settings: dict[str, Any] = {
            "base_url": server.url,
            "auth_url": server.url,
            "rate": 1000.0,
            "attempts": 4,
            "backoff": 0.05,
            "max_retry_wait": 3.0,
        } | options
        client = create_client(credentials, token_store=store or MemoryTokenStore(), **settings)
        opened.append(client)
        return client

    return make


# ------------------------------------------------------------------------------ OAuth


async def test_device_flow_end_to_end(
    server: FakeAllegroServer, make_client: Callable[..., AllegroClient]
) -> None:
    server.device_interval = 0.05
    device = await start_device_flow(server.client_id, server.client_secret, auth_url=server.url)
    assert device.user_code in device.verification_uri_complete
    poll = asyncio.create_task(
        poll_device_flow(server.client_id, server.client_secret, device, auth_url=server.url)
    )
    for _ in range(250):  # the person has not confirmed yet: authorization_pending
        if server.device_polls >= 2:
            break
        await asyncio.sleep(0.02)
    assert not poll.done()
    server.approve(device.user_code)
    tokens = await asyncio.wait_for(poll, 5)
    assert tokens.refresh_token in server.active_refresh_tokens()

    client = make_client(refresh_token=tokens.refresh_token)
    result = await client.publish(make_offer(1))
    assert result.status is PublishStatus.PUBLISHED


async def test_device_flow_slow_down_widens_the_interval(server: FakeAllegroServer) -> None:
    server.device_interval = 0.3
    device = await start_device_flow(server.client_id, server.client_secret, auth_url=server.url)
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:
            server.approve(device.user_code)
        await asyncio.sleep(seconds)

    tokens = await poll_device_flow(
        server.client_id,
        server.client_secret,
        device,
        auth_url=server.url,
        interval=0.01,
        slow_down_step=0.3,
        sleep=sleep,
    )
    assert tokens.access_token
    assert sleeps[0] == pytest.approx(0.01)
    assert sleeps[-1] == pytest.approx(0.31)  # slow_down added the step once


async def test_device_flow_denied_and_expired(server: FakeAllegroServer) -> None:
    server.device_interval = 0.01
    device = await start_device_flow(server.client_id, server.client_secret, auth_url=server.url)
    server.deny(device.user_code)
    with pytest.raises(DeviceFlowDeniedError):
        await poll_device_flow(server.client_id, server.client_secret, device, auth_url=server.url)

    server.device_expires_in = 0.2
    device = await start_device_flow(server.client_id, server.client_secret, auth_url=server.url)
    with pytest.raises(DeviceFlowExpiredError):
        await poll_device_flow(
            server.client_id,
            server.client_secret,
            device,
            auth_url=server.url,
            interval=0.05,
            max_wait=5,
        )


async def test_refresh_rotation_is_persisted_for_the_next_client(
    server: FakeAllegroServer, make_client: Callable[..., AllegroClient]
) -> None:
    store = MemoryTokenStore()
    original = server.issue_refresh_token()
    first = make_client(store, refresh_token=original)
    await first.check_connection()
    assert original not in server.active_refresh_tokens()  # used once, rotated away
    rotated = await store.get(f"allegro:{first.account}:refresh_token")
    assert rotated in server.active_refresh_tokens()

    # A second client with the same stored credentials (the original, now dead, token) and the
    # same store must use the rotated token: with the original it would get invalid_grant.
    server.expire_access_tokens()
    second = make_client(store, refresh_token=original)
    await second.check_connection()
    assert second.refreshes == 1
    newest = await store.get(f"allegro:{first.account}:refresh_token")
    assert newest != rotated and newest in server.active_refresh_tokens()


async def test_expired_access_token_is_refreshed_unnoticed(
    server: FakeAllegroServer, make_client: Callable[..., AllegroClient]
) -> None:
    client = make_client()
    assert (await client.publish(make_offer(1))).status is PublishStatus.PUBLISHED
    server.expire_access_tokens()
    results = await client.publish_many([make_offer(n) for n in range(2, 12)])
    assert all(r.status is PublishStatus.PUBLISHED for r in results)
    # ten requests saw 401 at once; one refresh served them all (a second would reuse a
    # rotated-away refresh token and break the connection)
    assert client.refreshes == 2
    assert server.token_grants["refresh_token"] == 2


async def test_revoked_refresh_token_breaks_the_connection(
    server: FakeAllegroServer, make_client: Callable[..., AllegroClient]
) -> None:
    client = make_client()
    await client.check_connection()
    server.revoke_refresh_tokens()
    server.expire_access_tokens()
    with pytest.raises(ConnectionBrokenError) as caught:
        await client.publish(make_offer(1))
    assert caught.value.marketplace == "allegro"
    assert "reconnect allegro" in caught.value.message


class _LaggingStore(MemoryTokenStore):
    """A store shared with another process: the first read of the refresh token is from before
    that process rotated it."""

    def __init__(self, stale: str) -> None:
        super().__init__()
        self.stale: str | None = stale

    async def get(self, key: str) -> str | None:
        if key.endswith(":refresh_token") and self.stale is not None:
            stale, self.stale = self.stale, None
            return stale
        return await super().get(key)


async def test_a_refresh_lost_to_another_process_uses_its_token(
    server: FakeAllegroServer, make_client: Callable[..., AllegroClient]
) -> None:
    original = server.issue_refresh_token()
    other = make_client(MemoryTokenStore(), refresh_token=original)
    await other.check_connection()  # the other process rotated `original` away
    rotated = await other.store.get(f"allegro:{other.account}:refresh_token")
    assert rotated is not None
    store = _LaggingStore(stale=original)
    await store.set(f"allegro:{other.account}:refresh_token", rotated)
    client = make_client(store, refresh_token=original)
    await client.check_connection()  # invalid_grant with `original`, then the stored one works
    assert client.refreshes == 1
    assert await store.get(f"allegro:{client.account}:refresh_token") in (
        server.active_refresh_tokens()
    )


async def test_dry_run_checks_without_calling(
    server: FakeAllegroServer, make_client: Callable[..., AllegroClient]
) -> None:
    client = make_client()
    assert (await client.publish(make_offer(1), dry_run=True)).status is PublishStatus.VALID
    refused = await client.publish(make_offer(2, category=None, images=()), dry_run=True)
    assert refused.status is PublishStatus.REJECTED
    assert {i.field for i in refused.issues} == {"category", "images"}
    assert server.faults.calls == []
    assert server.token_grants["refresh_token"] == 0


async def test_wrong_client_secret_breaks_the_connection(
    make_client: Callable[..., AllegroClient],
) -> None:
    client = make_client(client_secret="not-the-secret")
    with pytest.raises(ConnectionBrokenError):
        await client.check_connection()


# ------------------------------------------------------------------------------ offers


async def test_publish_one_sends_the_documented_body(
    server: FakeAllegroServer, make_client: Callable[..., AllegroClient]
) -> None:
    client = make_client()
    result = await client.publish(make_offer(1))
    assert result.status is PublishStatus.PUBLISHED
    [offer] = server.offers_for("AL-00001")
    assert result.remote_id == offer["id"]
    assert offer["sellingMode"]["price"] == {"amount": "49.99", "currency": "PLN"}
    assert offer["stock"] == {"available": 5, "unit": "UNIT"}
    assert offer["category"] == {"id": "165"}
    product = offer["productSet"][0]["product"]
    assert product["id"] == "5901234123457" and product["idType"] == "GTIN"
    assert product["name"] == "Butelka stalowa 750 ml model 1"
    content = offer["description"]["sections"][0]["items"][0]["content"]
    assert (
        content
        == "<p>Stalowa butelka.</p><ul><li>Trzyma zimno 24 h</li><li>Szczelna zakrętka</li></ul>"
    )
    assert {"id": "11323", "valuesIds": ["11323_1"]} in offer["parameters"]
    assert offer["delivery"]["shippingRates"] == {"id": "rates-1"}
    assert server.faults.counts["POST /sale/product-offers"] == 1


async def test_vnd_media_types_are_required(server: FakeAllegroServer) -> None:
    """The fake refuses what the real API refuses, so the client's headers are proven."""
    import httpx

    token = server._issue_tokens()["access_token"]
    async with httpx.AsyncClient(base_url=server.url) as raw:
        plain = await raw.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert plain.status_code == 406
        body = await raw.post(
            "/sale/product-offers",
            content=b"{}",
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": MEDIA_TYPE,
                "Content-Type": "application/json",
            },
        )
        assert body.status_code == 415


async def test_202_operation_is_polled_until_done(
    server: FakeAllegroServer, make_client: Callable[..., AllegroClient]
) -> None:
    server.async_polls = 3
    client = make_client()
    result = await client.publish(make_offer(1))
    assert result.status is PublishStatus.PUBLISHED
    assert result.request_summary["polls"] == 4  # three 202s, then the 303
    assert server.offers_for("AL-00001")[0]["publication"]["status"] == "ACTIVE"
    assert (
        server.faults.counts["GET /sale/product-offers/{offer_id}/operations/{operation_id}"] == 4
    )
    assert server.faults.counts["GET /sale/product-offers/{offer_id}"] == 1


async def test_202_operation_that_ends_refused_is_rejected(
    server: FakeAllegroServer, make_client: Callable[..., AllegroClient]
) -> None:
    server.async_polls = 1
    server.async_rejects["AL-00002"] = [
        {
            "code": "MissingParameter",
            "message": "parameter 11323 missing",
            "path": "parameters",
            "userMessage": "Uzupełnij parametr Stan.",
            "details": None,
        }
    ]
    result = await make_client().publish(make_offer(2))
    assert result.status is PublishStatus.REJECTED
    assert [(i.field, i.message) for i in result.issues] == [
        ("attributes.parameters", "Uzupełnij parametr Stan.")
    ]


async def test_422_is_rejected_with_issues_naming_fields(
    server: FakeAllegroServer, make_client: Callable[..., AllegroClient]
) -> None:
    offer = make_offer(3, title="X" * 80, category=None, price=Decimal("0"))
    result = await make_client().publish(offer)
    assert result.status is PublishStatus.REJECTED
    assert result.http_status == 422
    by_field = {issue.field: issue for issue in result.issues}
    assert set(by_field) == {"title", "category", "price"}
    assert by_field["title"].message == "Tytuł oferty może mieć najwyżej 75 znaków."
    assert by_field["title"].code == "allegro.OfferNameTooLong"
    assert all(i.severity is Severity.ERROR for i in result.issues)
    assert server.offers_for("AL-00003") == []


async def test_republishing_a_sku_updates_its_offer(
    server: FakeAllegroServer, make_client: Callable[..., AllegroClient]
) -> None:
    first = await make_client().publish(make_offer(4))
    # A new client (no memory of the first) finds the offer by external.id and PATCHes it.
    again = await make_client().publish(make_offer(4, price=Decimal("39.90")))
    assert again.status is PublishStatus.PUBLISHED
    assert again.remote_id == first.remote_id
    [offer] = server.offers_for("AL-00004")
    assert offer["sellingMode"]["price"]["amount"] == "39.90"
    assert server.faults.counts["PATCH /sale/product-offers/{offer_id}"] == 1
    # with the remote id known no lookup is needed
    third = await make_client().publish(make_offer(4, remote_id=first.remote_id, quantity=9))
    assert third.remote_id == first.remote_id
    assert server.faults.counts["GET /sale/offers"] == 2
    assert len(server.offers_for("AL-00004")) == 1


async def test_price_stock_withdraw_and_status(
    server: FakeAllegroServer, make_client: Callable[..., AllegroClient]
) -> None:
    client = make_client()
    await client.publish(make_offer(5))
    updated = await client.update_price_stock(
        "AL-00005", price=Decimal("19.99"), quantity=2, currency="PLN"
    )
    assert updated.status is PublishStatus.PUBLISHED
    [offer] = server.offers_for("AL-00005")
    assert offer["sellingMode"]["price"] == {"amount": "19.99", "currency": "PLN"}
    assert offer["stock"]["available"] == 2
    assert (await client.remote_status("AL-00005")).status is PublishStatus.PUBLISHED
    withdrawn = await client.withdraw("AL-00005")
    assert withdrawn.status is PublishStatus.WITHDRAWN
    assert offer["publication"]["status"] == "ENDED"
    assert (await client.remote_status("AL-00005")).status is PublishStatus.WITHDRAWN
    assert (await client.remote_status("AL-404")).status is PublishStatus.NOT_FOUND
    assert (await client.withdraw("AL-404")).status is PublishStatus.NOT_FOUND


async def test_429_with_retry_after_is_honoured(
    server: FakeAllegroServer, make_client: Callable[..., AllegroClient]
) -> None:
    server.faults.retry_after = 0.5
    server.plan("429", match="POST /sale/product-offers")
    result = await make_client().publish(make_offer(6))
    assert result.status is PublishStatus.PUBLISHED
    posts = [c for c in server.faults.calls if c.method == "POST"]
    assert [c.status for c in posts] == [429, 201]
    assert posts[1].at - posts[0].at >= 0.5
    assert len(server.offers_for("AL-00006")) == 1


async def test_500_once_then_success(
    server: FakeAllegroServer, make_client: Callable[..., AllegroClient]
) -> None:
    server.plan("500", match="GET /sale/offers")
    result = await make_client().publish(make_offer(7))
    assert result.status is PublishStatus.PUBLISHED
    assert [c.status for c in server.faults.calls if c.path == "/sale/offers"] == [500, 200]


async def test_lost_create_response_does_not_duplicate(
    server: FakeAllegroServer, make_client: Callable[..., AllegroClient]
) -> None:
    """The server created the offer, then answered 500: the client looks before resending."""
    server.plan("500_after", match="POST /sale/product-offers")
    result = await make_client().publish(make_offer(8))
    assert result.status is PublishStatus.PUBLISHED
    assert len(server.offers_for("AL-00008")) == 1
    assert server.faults.counts["POST /sale/product-offers"] == 1
    assert result.remote_id == server.offers_for("AL-00008")[0]["id"]


async def test_thousand_offers_concurrently_without_duplicates(
    server: FakeAllegroServer, make_client: Callable[..., AllegroClient]
) -> None:
    offers = [make_offer(n) for n in range(1000, 2000)]
    client = make_client(rate=500.0, concurrency=8)
    await publish_despite_faults(server, client, offers, match="POST /sale/product-offers")


def test_export_file_is_the_request_bodies() -> None:
    offers = [make_offer(1), make_offer(2, condition="used", price=Decimal("10.5"))]
    data = json.loads(allegro.export_file(offers))
    assert [body["external"]["id"] for body in data] == ["AL-00001", "AL-00002"]
    assert data[1]["sellingMode"]["price"] == {"amount": "10.50", "currency": "PLN"}
    assert {"id": "11323", "valuesIds": ["11323_2"]} in data[1]["parameters"]
    assert data[0] == allegro.offer_body(offers[0])
    assert allegro.EXPORT_FILENAME.endswith(".json")
    assert allegro.EXPORT_MEDIA_TYPE == "application/json"
