"""The Amazon SP-API client over real HTTP against the local SP-API and LWA server."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from tests.fakes.amazon_server import FakeAmazonServer, ean_ok
from tests.integrations.marketplaces.conftest import ean13

from listingflow.integrations.marketplaces import amazon
from listingflow.integrations.marketplaces.amazon import AmazonClient, create_client
from listingflow.integrations.marketplaces.base import (
    ConnectionBrokenError,
    MarketplaceClient,
    MemoryTokenStore,
    Offer,
    PermanentError,
    PublishStatus,
    RetryableError,
    Severity,
)

DE = "A1PA6795UKMFR9"


def make_offer(n: int = 1, **changes: Any) -> Offer:
    values: dict[str, Any] = {
        "sku": f"LF-{n:05d}",
        "title": f"Acme Steel Water Bottle 750 ml, model {n}",
        "description": "Double-walled steel bottle that keeps drinks cold for 24 hours.",
        "price": Decimal("24.99"),
        "currency": "EUR",
        "quantity": 7,
        "bullets": ("Keeps drinks cold for 24 hours", "Leak-proof lid"),
        "keywords": ("trinkflasche", "edelstahl"),
        "images": ("https://img.example.com/1.jpg", "https://img.example.com/2.jpg"),
        "brand": "Acme",
        "ean": ean13(n),
        "attributes": {"product_type": "BOTTLE"},
    }
    values.update(changes)
    return Offer(**values)


@pytest.fixture
def server() -> Iterator[FakeAmazonServer]:
    with FakeAmazonServer() as fake:
        yield fake


@pytest.fixture
def make_client(
    server: FakeAmazonServer, opened: list[MarketplaceClient]
) -> Callable[..., AmazonClient]:

    def make(**options: Any) -> AmazonClient:
        kwargs: dict[str, Any] = {
            "token_store": MemoryTokenStore(),
            "base_url": server.url,
            "auth_url": server.token_url,
            "rate": 200.0,
            "backoff": 0.05,
            "feed_poll_interval": 0.01,
        } | options
        client = create_client(server.credentials("DE"), **kwargs)
        opened.append(client)
        return client

    return make


async def test_token_is_exchanged_once_and_cached(
    server: FakeAmazonServer, make_client: Callable[..., AmazonClient]
) -> None:
    store = MemoryTokenStore()
    client = make_client(token_store=store)
    await client.publish(make_offer(1))
    await client.publish(make_offer(2))
    assert server.calls["token"] == 1
    token_request = next(r for r in server.requests if r.operation == "token")
    assert token_request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    puts = [r for r in server.requests if r.operation == "putListingsItem"]
    assert {r.headers["x-amz-access-token"] for r in puts} == set(server.access_tokens)
    # a second client on the same store (another job, same account) reuses the cached token
    other = make_client(token_store=store)
    await other.publish(make_offer(3))
    assert server.calls["token"] == 1


async def test_expired_access_token_is_refreshed_without_the_caller_noticing(
    server: FakeAmazonServer, make_client: Callable[..., AmazonClient]
) -> None:
    client = make_client()
    await client.publish(make_offer(1))
    server.expire_tokens()
    offers = [make_offer(n) for n in range(2, 12)]
    results = await asyncio.gather(*(client.publish(o) for o in offers))
    assert [r.status for r in results] == [PublishStatus.ACCEPTED] * len(offers)
    # SP-API says "expired" with a 403; the ten concurrent refusals cause one exchange, not ten
    assert 403 in server.statuses("putListingsItem")
    assert server.calls["token"] == 2


async def test_short_lived_token_is_renewed_before_it_expires(
    make_client: Callable[..., AmazonClient],
) -> None:
    with FakeAmazonServer(token_ttl=0.6) as short:
        client = make_client(base_url=short.url, auth_url=short.token_url)
        await client.publish(make_offer(1))
        await asyncio.sleep(0.7)
        await client.publish(make_offer(2))
        assert short.calls["token"] == 2
        assert 403 not in short.statuses("putListingsItem")


async def test_revoked_refresh_token_breaks_the_connection(
    server: FakeAmazonServer, make_client: Callable[..., AmazonClient]
) -> None:
    client = make_client()
    server.revoke_refresh_token()
    with pytest.raises(ConnectionBrokenError) as caught:
        await client.publish(make_offer(1))
    assert caught.value.marketplace == "amazon"
    assert "reconnect amazon" in str(caught.value)
    assert server.calls["putListingsItem"] == 0
    with pytest.raises(ConnectionBrokenError):
        await client.check_connection()


async def test_revoked_refresh_token_met_when_the_access_token_expires(
    server: FakeAmazonServer, make_client: Callable[..., AmazonClient]
) -> None:
    client = make_client()
    await client.publish(make_offer(1))
    server.revoke_refresh_token()
    server.expire_tokens()
    with pytest.raises(ConnectionBrokenError):
        await client.publish(make_offer(2))
    assert server.statuses("putListingsItem") == [200, 403]


async def test_publish_one_puts_the_offer_as_listing_attributes(
    server: FakeAmazonServer, make_client: Callable[..., AmazonClient]
) -> None:
    client = make_client()
    offer = make_offer(1)
    result = await client.publish(offer)
    assert result.status is PublishStatus.ACCEPTED and result.ok
    assert result.remote_data["submission_id"]
    put = next(r for r in server.requests if r.operation == "putListingsItem")
    assert put.path == f"/listings/2021-08-01/items/{server.seller_id}/LF-00001"
    assert put.query["marketplaceIds"] == [DE]
    assert put.headers["content-type"] == "application/json"
    body = put.body
    assert body["productType"] == "BOTTLE"
    attrs = body["attributes"]
    assert attrs["item_name"] == [
        {"value": offer.title, "language_tag": "de_DE", "marketplace_id": DE}
    ]
    assert [b["value"] for b in attrs["bullet_point"]] == list(offer.bullets)
    assert attrs["generic_keyword"][0]["value"] == "trinkflasche edelstahl"
    assert attrs["brand"][0]["value"] == "Acme"
    assert attrs["externally_assigned_product_identifier"] == [
        {"type": "ean", "value": offer.ean, "marketplace_id": DE}
    ]
    assert attrs["condition_type"] == [{"value": "new_new", "marketplace_id": DE}]
    assert attrs["purchasable_offer"][0]["our_price"][0]["schedule"][0]["value_with_tax"] == 24.99
    assert attrs["purchasable_offer"][0]["currency"] == "EUR"
    assert attrs["fulfillment_availability"][0]["quantity"] == 7
    assert attrs["main_product_image_locator"][0]["media_location"] == offer.images[0]
    assert attrs["other_product_image_locator_1"][0]["media_location"] == offer.images[1]
    listing = server.listing("LF-00001", DE)
    assert listing is not None and listing.product_type == "BOTTLE"


async def test_sku_with_slashes_and_spaces_is_url_encoded(
    server: FakeAmazonServer, make_client: Callable[..., AmazonClient]
) -> None:
    client = make_client()
    result = await client.publish(make_offer(1, sku="AB/12 x"))
    assert result.status is PublishStatus.ACCEPTED
    assert server.listing("AB/12 x", DE) is not None
    assert (await client.remote_status("AB/12 x")).status is PublishStatus.PUBLISHED


async def test_dry_run_validates_without_creating_a_listing(
    server: FakeAmazonServer, make_client: Callable[..., AmazonClient]
) -> None:
    client = make_client()
    good = await client.publish(make_offer(1), dry_run=True)
    bad = await client.publish(make_offer(2, title="x" * 250), dry_run=True)
    assert good.status is PublishStatus.VALID and good.remote_id == "B0PREVIEW1"
    assert bad.status is PublishStatus.REJECTED
    assert [i.field for i in bad.blocking] == ["title"]
    preview = [r for r in server.requests if r.operation == "previewListingsItem"]
    assert {r.query["mode"][0] for r in preview} == {"VALIDATION_PREVIEW"}
    assert server.listings == {}


async def test_invalid_put_is_rejected_with_issues_naming_fields(
    server: FakeAmazonServer, make_client: Callable[..., AmazonClient]
) -> None:
    client = make_client()
    result = await client.publish(make_offer(1, title="T" * 201, price=Decimal("0")))
    assert result.status is PublishStatus.REJECTED and not result.ok
    assert result.http_status == 200  # INVALID comes back as a 200
    by_field = {i.field: i for i in result.issues}
    assert set(by_field) == {"title", "price"}
    assert by_field["title"].severity is Severity.ERROR
    assert by_field["title"].code == "amazon.8560"
    assert "201 characters" in by_field["title"].message
    assert server.listings == {}


async def test_accepted_then_remote_status_published(
    make_client: Callable[..., AmazonClient],
) -> None:
    with FakeAmazonServer(auto_process=False) as slow:
        client = make_client(base_url=slow.url, auth_url=slow.token_url)
        result = await client.publish(make_offer(1))
        assert result.status is PublishStatus.ACCEPTED
        pending = await client.remote_status("LF-00001")
        assert pending.status is PublishStatus.ACCEPTED
        slow.process()
        live = await client.remote_status("LF-00001")
        assert live.status is PublishStatus.PUBLISHED
        assert live.remote_id and live.remote_id.startswith("B0")
        get = [r for r in slow.requests if r.operation == "getListingsItem"][-1]
        assert set(get.query["includedData"][0].split(",")) == {"summaries", "issues"}


async def test_accepted_then_remote_status_rejected_with_later_issues(
    server: FakeAmazonServer, make_client: Callable[..., AmazonClient]
) -> None:
    client = make_client()
    bad_ean = "4006381333932"
    assert not ean_ok(bad_ean)
    result = await client.publish(make_offer(1, ean=bad_ean, images=()))
    assert result.status is PublishStatus.ACCEPTED
    status = await client.remote_status("LF-00001")
    assert status.status is PublishStatus.REJECTED
    assert {(i.field, i.severity) for i in status.issues} == {
        ("ean", Severity.ERROR),
        ("images", Severity.WARNING),
    }
    assert (await client.remote_status("NOPE")).status is PublishStatus.NOT_FOUND


async def test_publishing_the_same_sku_again_replaces_the_listing(
    server: FakeAmazonServer, make_client: Callable[..., AmazonClient]
) -> None:
    client = make_client()
    await client.publish(make_offer(1))
    again = await client.publish(make_offer(1, title="Acme Bottle, new title"))
    assert again.status is PublishStatus.ACCEPTED
    assert len(server.listings) == 1
    listing = server.listing("LF-00001", DE)
    assert listing is not None and listing.puts == 2
    assert listing.attributes["item_name"][0]["value"] == "Acme Bottle, new title"


async def test_update_price_stock_patches_and_withdraw_deletes(
    server: FakeAmazonServer, make_client: Callable[..., AmazonClient]
) -> None:
    client = make_client()
    await client.publish(make_offer(1))
    fresh = make_client()  # knows nothing of the product type: reads it from the listing
    updated = await fresh.update_price_stock("LF-00001", price=Decimal("19.5"), quantity=3)
    assert updated.status is PublishStatus.ACCEPTED
    patch = next(r for r in server.requests if r.operation == "patchListingsItem")
    assert patch.body["productType"] == "BOTTLE"
    assert {p["path"] for p in patch.body["patches"]} == {
        "/attributes/purchasable_offer",
        "/attributes/fulfillment_availability",
    }
    listing = server.listing("LF-00001", DE)
    assert listing is not None
    assert listing.attributes["fulfillment_availability"][0]["quantity"] == 3
    assert listing.attributes["purchasable_offer"][0]["our_price"][0]["schedule"][0] == {
        "value_with_tax": 19.5
    }
    withdrawn = await client.withdraw("LF-00001")
    assert withdrawn.status is PublishStatus.WITHDRAWN
    assert server.listings == {}
    assert (await client.withdraw("LF-00001")).status is PublishStatus.NOT_FOUND
    missing = await fresh.update_price_stock("NOPE", quantity=1)
    assert missing.status is PublishStatus.NOT_FOUND


async def test_client_paces_by_the_plan_amazon_states(
    server: FakeAmazonServer, make_client: Callable[..., AmazonClient]
) -> None:
    server.rate_limit = 50.0  # the fake states its limit in x-amzn-RateLimit-Limit
    server.burst = 50
    client = make_client(rate=None)
    assert client._http["listings"].bucket.rate == 5.0  # the documented default plan
    await client.publish(make_offer(1))
    assert client._http["listings"].bucket.rate == 50.0
    fixed = make_client(rate=20.0)  # an explicit rate is kept
    await fixed.publish(make_offer(2))
    assert fixed._http["listings"].bucket.rate == 20.0


async def test_throttled_call_waits_for_retry_after_then_succeeds(
    server: FakeAmazonServer, make_client: Callable[..., AmazonClient]
) -> None:
    server.retry_after = 1.5  # longer than any backoff the client would choose itself
    client = make_client()
    server.plan("429")
    result = await client.publish(make_offer(1))
    assert result.status is PublishStatus.ACCEPTED
    puts = [r for r in server.requests if r.operation == "putListingsItem"]
    assert [r.status for r in puts] == [429, 200]
    assert puts[1].at - puts[0].at >= 1.5


async def test_server_error_once_is_retried(
    server: FakeAmazonServer, make_client: Callable[..., AmazonClient]
) -> None:
    client = make_client()
    server.plan("500")
    result = await client.publish(make_offer(1))
    assert result.status is PublishStatus.ACCEPTED
    assert server.statuses("putListingsItem") == [500, 200]
    assert len(server.listings) == 1


async def test_server_errors_beyond_the_attempts_are_retryable(
    server: FakeAmazonServer, make_client: Callable[..., AmazonClient]
) -> None:
    client = make_client(attempts=2)
    server.plan("503", "503")
    with pytest.raises(RetryableError) as caught:
        await client.publish(make_offer(1))
    assert caught.value.status == 503


async def test_unreachable_host_is_a_retryable_network_error(
    server: FakeAmazonServer, make_client: Callable[..., AmazonClient]
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    client = make_client(base_url=dead, attempts=2)
    with pytest.raises(RetryableError) as caught:
        await client.publish(make_offer(1))
    assert "network error" in str(caught.value)
    assert client.tokens.exchanges == 1  # the token came from LWA; only SP-API was unreachable


async def test_batch_above_the_threshold_goes_through_the_feeds_api(
    server: FakeAmazonServer, make_client: Callable[..., AmazonClient]
) -> None:
    client = make_client(feed_threshold=5)
    offers = [make_offer(n) for n in range(1, 9)]
    offers[3] = make_offer(4, title="")  # no item_name: refused in the report
    results = await client.publish_many(offers)
    assert [r.sku for r in results] == [o.sku for o in offers]
    assert [r.status for r in results] == [PublishStatus.PUBLISHED] * 3 + [
        PublishStatus.REJECTED
    ] + [PublishStatus.PUBLISHED] * 4
    assert [i.field for i in results[3].blocking] == ["title"]
    assert results[0].remote_data["feed_id"] == results[7].remote_data["feed_id"]
    assert server.calls["putListingsItem"] == 0
    assert server.calls["createFeed"] == 1 and server.calls["upload"] == 1
    assert server.calls["download"] == 1
    assert server.statuses("upload") == [200]
    assert len(server.listings) == 7
    upload = next(r for r in server.requests if r.operation == "upload")
    assert "x-amz-access-token" not in upload.headers
    assert upload.body["header"]["sellerId"] == server.seller_id


async def test_fatal_feed_is_a_permanent_error_with_the_report_issues(
    server: FakeAmazonServer, make_client: Callable[..., AmazonClient]
) -> None:
    server.feeds_fatal = True
    client = make_client(feed_threshold=2)
    with pytest.raises(PermanentError) as caught:
        await client.publish_many([make_offer(1), make_offer(2)])
    assert "FATAL" in str(caught.value)
    assert [i.message for i in caught.value.issues] == ["Invalid feed JSON."]
    assert server.listings == {}


async def test_small_batch_uses_single_puts(
    server: FakeAmazonServer, make_client: Callable[..., AmazonClient]
) -> None:
    client = make_client(feed_threshold=5)
    results = await client.publish_many([make_offer(n) for n in range(1, 4)])
    assert [r.status for r in results] == [PublishStatus.ACCEPTED] * 3
    assert server.calls["putListingsItem"] == 3 and server.calls["createFeed"] == 0


def test_export_file_is_a_json_listings_feed() -> None:
    offers = [make_offer(1), make_offer(2, condition="used")]
    data = amazon.export_file(offers, seller_id="A2SELLER", marketplace_id="UK")
    document = json.loads(data)
    assert document["header"] == {"sellerId": "A2SELLER", "version": "2.0", "issueLocale": "en_GB"}
    messages = document["messages"]
    assert [m["messageId"] for m in messages] == [1, 2]
    assert [m["sku"] for m in messages] == ["LF-00001", "LF-00002"]
    assert {m["operationType"] for m in messages} == {"UPDATE"}
    assert {m["productType"] for m in messages} == {"BOTTLE"}
    attrs = messages[1]["attributes"]
    assert attrs["item_name"][0] == {
        "value": offers[1].title,
        "language_tag": "en_GB",
        "marketplace_id": "A1F83G8C2ARO7P",
    }
    assert attrs["condition_type"][0]["value"] == "used_good"
    assert amazon.EXPORT_FILENAME.endswith(".json")
    assert amazon.EXPORT_MEDIA_TYPE == "application/json"
    assert set(amazon.SECRET_FIELDS) <= set(amazon.CREDENTIAL_FIELDS)


def test_create_client_names_missing_credentials() -> None:
    with pytest.raises(ValueError, match="refresh_token"):
        create_client(
            {"seller_id": "A", "client_id": "c", "client_secret": "s", "marketplace_id": "DE"},
            token_store=MemoryTokenStore(),
        )


async def test_thousand_listings_concurrently_under_the_rate_limit(
    make_client: Callable[..., AmazonClient],
) -> None:
    # the fake allows 400 calls a second (bursts of 400); the client paces itself to 300
    with FakeAmazonServer(rate_limit=400.0, burst=400, latency=0.002) as limited:
        client = make_client(base_url=limited.url, auth_url=limited.token_url, rate=300.0)
        offers = [make_offer(n) for n in range(1, 1001)]
        results = await asyncio.gather(*(client.publish(o) for o in offers))
        assert [r.sku for r in results] == [o.sku for o in offers]
        assert all(r.status is PublishStatus.ACCEPTED for r in results)
        assert len(limited.listings) == 1000
        assert all(listing.puts == 1 for listing in limited.listings.values())
        assert limited.calls["token"] == 1
        ok = [s for s in limited.statuses("putListingsItem") if s == 200]
        assert len(ok) == 1000
