"""The eBay Inventory API client over real HTTP against the local Inventory API and OAuth server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import pytest
from tests.fakes.ebay_server import SCOPE, FakeEbayServer

from listingflow.integrations.marketplaces import ebay
from listingflow.integrations.marketplaces.base import (
    ConnectionBrokenError,
    MarketplaceClient,
    MemoryTokenStore,
    Offer,
    PublishStatus,
    RetryableError,
)
from listingflow.integrations.marketplaces.ebay import EbayClient, create_client


def make_offer(n: int = 1, **changes: Any) -> Offer:
    values: dict[str, Any] = {
        "sku": f"LF-{n:05d}",
        "title": f"Acme Edelstahl Trinkflasche 750 ml Modell {n}",
        "description": "Doppelwandige Flasche.\n\nHält Getränke 24 Stunden kalt.",
        "price": Decimal("24.99"),
        "currency": "EUR",
        "quantity": 7,
        "bullets": ("24 Stunden kalt", "Auslaufsicher"),
        "images": ("https://img.example.com/1.jpg",),
        "brand": "Acme",
        "ean": "4006381333931",
        "category": "9355",
        "attributes": {"aspects": {"Farbe": "Blau"}},
    }
    values.update(changes)
    return Offer(**values)


@pytest.fixture
def server() -> Iterator[FakeEbayServer]:
    with FakeEbayServer(required_aspects={"177": ["Marke", "Modell"]}) as fake:
        yield fake


@pytest.fixture
def make_client(
    server: FakeEbayServer, opened: list[MarketplaceClient]
) -> Callable[..., EbayClient]:

    def make(**options: Any) -> EbayClient:
        kwargs: dict[str, Any] = {
            "token_store": MemoryTokenStore(),
            "base_url": server.base_url,
            "auth_url": server.token_url,
            "rate": 200.0,
            "backoff": 0.05,
        } | options
        client = create_client(server.credentials("EBAY_DE"), **kwargs)
        opened.append(client)
        return client

    return make


async def test_token_is_exchanged_with_basic_auth_and_cached(
    server: FakeEbayServer, make_client: Callable[..., EbayClient]
) -> None:
    store = MemoryTokenStore()
    client = make_client(token_store=store)
    await client.publish(make_offer(1))
    await client.publish(make_offer(2))
    await make_client(token_store=store).publish(make_offer(3))
    assert server.calls["token"] == 1
    token = next(r for r in server.requests if r.operation == "token")
    assert token.headers["authorization"].startswith("Basic ")
    assert token.body is not None
    calls = [r for r in server.requests if r.operation not in ("token", "")]
    assert {r.headers["authorization"] for r in calls} == {
        f"Bearer {t}" for t in server.access_tokens
    }
    assert {r.headers["content-language"] for r in calls} == {"de-DE"}


async def test_token_request_sends_the_inventory_scope(
    server: FakeEbayServer, make_client: Callable[..., EbayClient]
) -> None:
    await make_client().check_connection()
    form = next(r for r in server.requests if r.operation == "token")
    fields = parse_qs(form.body.decode() if isinstance(form.body, bytes) else "")
    assert fields["grant_type"] == ["refresh_token"]
    assert fields["scope"] == [SCOPE]


async def test_expired_access_token_is_refreshed_without_the_caller_noticing(
    server: FakeEbayServer, make_client: Callable[..., EbayClient]
) -> None:
    client = make_client()
    await client.publish(make_offer(1))
    server.expire_tokens()
    result = await client.publish(make_offer(2))
    assert result.status is PublishStatus.PUBLISHED
    assert 401 in server.statuses("bulkCreateOrReplaceInventoryItem")
    assert server.calls["token"] == 2


async def test_revoked_refresh_token_breaks_the_connection(
    server: FakeEbayServer, make_client: Callable[..., EbayClient]
) -> None:
    server.revoke_refresh_token()
    with pytest.raises(ConnectionBrokenError) as caught:
        await make_client().publish(make_offer(1))
    assert caught.value.marketplace == "ebay"
    assert server.items == {}


async def test_revoked_refresh_token_met_when_the_access_token_expires(
    server: FakeEbayServer, make_client: Callable[..., EbayClient]
) -> None:
    client = make_client()
    await client.publish(make_offer(1))
    server.revoke_refresh_token()
    server.expire_tokens()
    with pytest.raises(ConnectionBrokenError):
        await client.publish(make_offer(2))
    assert server.statuses("bulkCreateOrReplaceInventoryItem") == [200, 401]


async def test_publish_one_creates_item_offer_and_listing(
    server: FakeEbayServer, make_client: Callable[..., EbayClient]
) -> None:
    result = await make_client().publish(make_offer(1))
    assert result.status is PublishStatus.PUBLISHED and result.ok
    assert result.remote_id == server.offers_for("LF-00001")[0]["offerId"]
    assert result.remote_data["listing_id"]
    item = server.items["LF-00001"]
    assert item["locale"] == "de_DE"
    assert item["condition"] == "NEW"
    assert item["product"]["aspects"] == {"Farbe": ["Blau"], "Brand": ["Acme"]}
    assert item["product"]["ean"] == ["4006381333931"]
    assert item["availability"]["shipToLocationAvailability"]["quantity"] == 7
    assert "<li>Auslaufsicher</li>" in item["product"]["description"]
    offer = server.offers_for("LF-00001")[0]
    assert offer["marketplaceId"] == "EBAY_DE" and offer["format"] == "FIXED_PRICE"
    assert offer["pricingSummary"]["price"] == {"value": "24.99", "currency": "EUR"}
    assert offer["listingPolicies"] == {
        "fulfillmentPolicyId": "FUL-1",
        "paymentPolicyId": "PAY-1",
        "returnPolicyId": "RET-1",
    }
    assert offer["status"] == "PUBLISHED"


async def test_dry_run_checks_locally_and_calls_nothing(
    server: FakeEbayServer, make_client: Callable[..., EbayClient]
) -> None:
    client = make_client()
    good = await client.publish(make_offer(1), dry_run=True)
    bad = await client.publish(make_offer(2, title="T" * 81, images=()), dry_run=True)
    assert good.status is PublishStatus.VALID
    assert bad.status is PublishStatus.REJECTED
    assert {i.field for i in bad.blocking} == {"title", "images"}
    assert server.requests == []


async def test_republishing_a_sku_updates_its_one_offer(
    server: FakeEbayServer, make_client: Callable[..., EbayClient]
) -> None:
    first = await make_client().publish(make_offer(1))
    # a new client (another job) knows no offer id: eBay refuses the second create, names the
    # offer, and the client updates that one
    again = await make_client().publish(make_offer(1, price=Decimal("19.00")))
    assert again.status is PublishStatus.PUBLISHED
    assert again.remote_id == first.remote_id
    assert again.remote_data["listing_id"] == first.remote_data["listing_id"]
    offers = server.offers_for("LF-00001")
    assert len(offers) == 1 and len(server.offers) == 1
    assert offers[0]["pricingSummary"]["price"]["value"] == "19.00"
    assert server.statuses("updateOffer") == [204]
    # with the remote id known, no create is tried at all
    creates = server.calls["bulkCreateOffer"]
    third = await make_client().publish(make_offer(1, remote_id=first.remote_id))
    assert third.status is PublishStatus.PUBLISHED
    assert server.calls["bulkCreateOffer"] == creates
    assert len(server.offers) == 1


async def test_partial_bulk_failure_gives_each_item_its_result(
    server: FakeEbayServer, make_client: Callable[..., EbayClient]
) -> None:
    offers = [
        make_offer(1),
        make_offer(2, condition="mint"),  # refused at the inventory item
        make_offer(3),
        make_offer(4, category="177"),  # published without its category's required aspects
        make_offer(5, images=()),  # no photo: refused at publish
    ]
    results = await make_client().publish_many(offers)
    assert [r.sku for r in results] == [o.sku for o in offers]
    assert [r.status for r in results] == [
        PublishStatus.PUBLISHED,
        PublishStatus.REJECTED,
        PublishStatus.PUBLISHED,
        PublishStatus.REJECTED,
        PublishStatus.REJECTED,
    ]
    assert [(i.code, i.field) for i in results[1].blocking] == [("ebay.25021", "condition")]
    assert results[1].request_summary["step"] == "inventory_item"
    aspects = results[3].blocking
    assert {i.field for i in aspects} == {"attributes.aspects"}
    assert any("Marke" in i.message for i in aspects) and any(
        "Modell" in i.message for i in aspects
    )
    assert results[3].remote_id  # the offer exists; fixing the aspects publishes it
    assert [i.field for i in results[4].blocking] == ["images"]
    assert 207 in server.statuses("bulkCreateOrReplaceInventoryItem")
    assert "LF-00002" not in server.items
    assert {o["sku"] for o in server.offers.values() if o["status"] == "PUBLISHED"} == {
        "LF-00001",
        "LF-00003",
    }


async def test_remote_status_update_price_stock_and_withdraw(
    server: FakeEbayServer, make_client: Callable[..., EbayClient]
) -> None:
    client = make_client()
    published = await client.publish(make_offer(1))
    status = await client.remote_status("LF-00001")
    assert status.status is PublishStatus.PUBLISHED
    assert status.remote_data["listing_id"] == published.remote_data["listing_id"]
    updated = await client.update_price_stock("LF-00001", price=Decimal("17.5"), quantity=2)
    assert updated.status is PublishStatus.PUBLISHED
    offer = server.offers_for("LF-00001")[0]
    assert offer["availableQuantity"] == 2
    assert offer["pricingSummary"]["price"] == {"value": "17.50", "currency": "EUR"}
    assert server.items["LF-00001"]["availability"]["shipToLocationAvailability"]["quantity"] == 2
    withdrawn = await client.withdraw("LF-00001")
    assert withdrawn.status is PublishStatus.WITHDRAWN
    assert server.offers_for("LF-00001")[0]["status"] == "UNPUBLISHED"
    assert (await client.remote_status("LF-00001")).status is PublishStatus.WITHDRAWN
    assert (await client.withdraw("LF-00001")).status is PublishStatus.WITHDRAWN
    assert server.calls["withdrawOffer"] == 1
    # republishing a withdrawn SKU reuses its offer
    again = await client.publish(make_offer(1))
    assert again.status is PublishStatus.PUBLISHED and len(server.offers) == 1
    assert (await client.remote_status("NOPE")).status is PublishStatus.NOT_FOUND
    assert (await client.update_price_stock("NOPE", quantity=1)).status is PublishStatus.NOT_FOUND


async def test_remote_status_of_an_item_that_never_got_an_offer(
    server: FakeEbayServer, make_client: Callable[..., EbayClient]
) -> None:
    client = make_client()
    server.policy_ids.clear()  # every offer now fails at publish
    result = await client.publish(make_offer(1))
    assert result.status is PublishStatus.REJECTED
    assert {i.field for i in result.blocking} == {"connection.policies"}
    status = await client.remote_status("LF-00001")
    assert status.status is PublishStatus.REJECTED
    assert [i.code for i in status.issues] == ["ebay.not_published"]


async def test_throttled_call_waits_for_retry_after_then_succeeds(
    server: FakeEbayServer, make_client: Callable[..., EbayClient]
) -> None:
    server.retry_after = 1.5  # longer than any backoff the client would choose itself
    server.plan("429")
    result = await make_client().publish(make_offer(1))
    assert result.status is PublishStatus.PUBLISHED
    calls = [r for r in server.requests if r.operation == "bulkCreateOrReplaceInventoryItem"]
    assert [r.status for r in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 1.5


async def test_server_error_once_is_retried(
    server: FakeEbayServer, make_client: Callable[..., EbayClient]
) -> None:
    server.plan("500")
    result = await make_client().publish(make_offer(1))
    assert result.status is PublishStatus.PUBLISHED
    assert server.statuses("bulkCreateOrReplaceInventoryItem") == [500, 200]


async def test_server_errors_beyond_the_attempts_are_retryable(
    server: FakeEbayServer, make_client: Callable[..., EbayClient]
) -> None:
    server.plan("503", "503")
    with pytest.raises(RetryableError):
        await make_client(attempts=2).publish(make_offer(1))


async def test_more_than_25_offers_are_sent_in_calls_of_25(
    server: FakeEbayServer, make_client: Callable[..., EbayClient]
) -> None:
    results = await make_client().publish_many([make_offer(n) for n in range(1, 31)])
    assert all(r.status is PublishStatus.PUBLISHED for r in results)
    sizes = [len(r.body["requests"]) for r in server.requests if r.operation == "bulkPublishOffer"]
    assert sizes == [25, 5]


def test_export_file_is_a_bulk_inventory_request() -> None:
    offers = [make_offer(1), make_offer(2, condition="used")]
    document = json.loads(ebay.export_file(offers, marketplace_id="EBAY_GB"))
    requests = document["requests"]
    assert [r["sku"] for r in requests] == ["LF-00001", "LF-00002"]
    assert {r["locale"] for r in requests} == {"en_GB"}
    assert [r["condition"] for r in requests] == ["NEW", "USED_EXCELLENT"]
    assert requests[0]["product"]["title"] == offers[0].title
    assert requests[0]["product"]["imageUrls"] == list(offers[0].images)
    assert requests[0]["availability"] == {"shipToLocationAvailability": {"quantity": 7}}
    assert ebay.EXPORT_MEDIA_TYPE == "application/json"
    assert set(ebay.SECRET_FIELDS) <= set(ebay.CREDENTIAL_FIELDS)


def test_create_client_names_missing_credentials() -> None:
    with pytest.raises(ValueError, match="return_policy_id"):
        create_client(
            {
                "client_id": "c",
                "client_secret": "s",
                "refresh_token": "r",
                "marketplace_id": "EBAY_DE",
                "merchant_location_key": "WH-1",
                "payment_policy_id": "P",
                "fulfillment_policy_id": "F",
            },
            token_store=MemoryTokenStore(),
        )


async def test_thousand_listings_concurrently_under_the_rate_limit(
    make_client: Callable[..., EbayClient],
) -> None:
    # the fake allows 400 calls a second (bursts of 400); the client paces itself to 300
    with FakeEbayServer(rate_limit=400.0, burst=400, latency=0.002) as limited:
        client = make_client(base_url=limited.base_url, auth_url=limited.token_url, rate=300.0)
        offers = [make_offer(n) for n in range(1, 1001)]
        batches = [offers[i : i + client.batch_size] for i in range(0, 1000, client.batch_size)]
        chunks = await asyncio.gather(*(client.publish_many(b) for b in batches))
        results = [r for chunk in chunks for r in chunk]
        assert [r.sku for r in results] == [o.sku for o in offers]
        assert all(r.status is PublishStatus.PUBLISHED for r in results)
        assert len(limited.items) == 1000 and len(limited.offers) == 1000
        assert len({o["sku"] for o in limited.offers.values()}) == 1000
        assert len({o["listing"]["listingId"] for o in limited.offers.values()}) == 1000
        assert limited.calls["token"] == 1
        assert set(limited.statuses("bulkCreateOffer")) <= {200, 429}
        # another client (no offer ids known) publishes a hundred of them again: eBay refuses
        # each second offer, names the first, and the client updates it
        other = make_client(base_url=limited.base_url, auth_url=limited.token_url, rate=300.0)
        again = await asyncio.gather(*(other.publish_many(b) for b in batches[:4]))
        assert all(r.status is PublishStatus.PUBLISHED for chunk in again for r in chunk)
        assert [r.remote_id for chunk in again for r in chunk] == [
            r.remote_id for r in results[:100]
        ]
        assert len(limited.offers) == 1000
        assert limited.calls["updateOffer"] == 100
