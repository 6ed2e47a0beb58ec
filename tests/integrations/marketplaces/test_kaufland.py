"""The Kaufland client over real HTTP against the local Seller API v2 server."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from tests.fakes.kaufland_server import FakeKauflandServer
from tests.integrations.marketplaces.conftest import ean13, publish_despite_faults

from listingflow.integrations.marketplaces import kaufland
from listingflow.integrations.marketplaces.base import (
    ConnectionBrokenError,
    MarketplaceClient,
    Offer,
    PermanentError,
    PublishStatus,
)
from listingflow.integrations.marketplaces.kaufland import KauflandClient, create_client, to_cents


def make_offer(n: int = 1, **changes: Any) -> Offer:
    values: dict[str, Any] = {
        "sku": f"KL-{n:05d}",
        "title": f"Acme Edelstahl Trinkflasche 750 ml, Modell {n}",
        "description": "Doppelwandige Flasche.\n- Hält 24 Stunden kalt\n- Auslaufsicher",
        "price": Decimal("24.99"),
        "currency": "EUR",
        "quantity": 7,
        "images": ("https://img.example.com/1.jpg", "https://img.example.com/2.jpg"),
        "brand": "Acme",
        "category": "Trinkflaschen",
        "ean": ean13(n),
        "attributes": {"product_attributes": {"colour": ["silber", "schwarz"]}},
    }
    values.update(changes)
    return Offer(**values)


@pytest.fixture
def server() -> Iterator[FakeKauflandServer]:
    with FakeKauflandServer() as fake:
        yield fake


@pytest.fixture
def make_client(
    server: FakeKauflandServer, opened: list[MarketplaceClient]
) -> Callable[..., KauflandClient]:

    def make(**options: Any) -> KauflandClient:
        credentials = {
            "client_key": server.client_key,
            "secret_key": options.pop("secret_key", server.secret_key),
            "storefront": options.pop("storefront", "de"),
        }
        settings: dict[str, Any] = {
            "base_url": server.base_url,
            "rate": 1000.0,
            "attempts": 4,
            "backoff": 0.05,
            "max_retry_wait": 3.0,
        } | options
        client = create_client(credentials, **settings)
        opened.append(client)
        return client

    return make


def test_signature_is_the_documented_hmac() -> None:
    """hex(HMAC_SHA256(secret, METHOD\\nURL\\nBODY\\nTS)), checked against a hand-made digest."""
    import hashlib
    import hmac

    url = "https://sellerapi.kaufland.com/v2/units?storefront=de"
    body = '{"ean":"4006381333931"}'
    expected = hmac.new(
        b"secret", f"POST\n{url}\n{body}\n1700000000".encode(), hashlib.sha256
    ).hexdigest()
    assert kaufland.sign("secret", "POST", url, body, "1700000000") == expected
    assert kaufland.sign("secret", "GET", url, "", "1700000000") != expected


async def test_signed_requests_are_accepted(
    server: FakeKauflandServer, make_client: Callable[..., KauflandClient]
) -> None:
    client = make_client()
    await client.check_connection()
    result = await client.publish(make_offer(1))
    assert result.status is PublishStatus.PUBLISHED
    assert server.refused_signatures == 0


async def test_a_wrong_secret_is_refused(
    server: FakeKauflandServer, make_client: Callable[..., KauflandClient]
) -> None:
    client = make_client(secret_key="not-the-secret")
    with pytest.raises(ConnectionBrokenError) as caught:
        await client.publish(make_offer(1))
    assert isinstance(caught.value, PermanentError)
    assert caught.value.marketplace == "kaufland"
    assert server.refused_signatures == 1  # refused at once, never retried
    assert server.units == {}


async def test_a_stale_timestamp_is_refused(
    server: FakeKauflandServer, make_client: Callable[..., KauflandClient]
) -> None:
    client = make_client(clock=lambda: time.time() - 3600)
    with pytest.raises(PermanentError):
        await client.check_connection()
    assert server.refused_signatures == 1


async def test_dry_run_checks_without_calling(
    server: FakeKauflandServer, make_client: Callable[..., KauflandClient]
) -> None:
    client = make_client()
    assert (await client.publish(make_offer(1), dry_run=True)).status is PublishStatus.VALID
    bad_ean = "4260000000000"  # wrong check digit
    refused = await client.publish(make_offer(2, ean=bad_ean), dry_run=True)
    assert refused.status is PublishStatus.REJECTED
    assert [(i.code, i.field) for i in refused.issues] == [
        ("kaufland.ean_invalid", "attributes.ean")
    ]
    assert server.faults.calls == []


async def test_publish_one_puts_product_data_then_creates_a_unit(
    server: FakeKauflandServer, make_client: Callable[..., KauflandClient]
) -> None:
    result = await make_client().publish(make_offer(1))
    assert result.status is PublishStatus.PUBLISHED
    data = server.product_data[(ean13(1), "de-DE")]
    assert data["title"] == ["Acme Edelstahl Trinkflasche 750 ml, Modell 1"]
    assert data["picture"] == ["https://img.example.com/1.jpg", "https://img.example.com/2.jpg"]
    assert data["manufacturer"] == ["Acme"]
    assert data["colour"] == ["silber", "schwarz"]
    assert data["description"] == [
        "<p>Doppelwandige Flasche.</p><ul><li>Hält 24 Stunden kalt</li><li>Auslaufsicher</li></ul>"
    ]
    [unit] = server.units_for("KL-00001", "de")
    assert result.remote_id == str(unit["id_unit"])
    assert unit["ean"] == ean13(1)
    assert unit["condition"] == "NEW"
    assert unit["amount"] == 7
    assert unit["listing_price"] == 2499 and unit["minimum_price"] == 2499
    assert unit["handling_time"] == 1
    assert server.faults.counts["PUT /v2/product-data"] == 1
    assert server.faults.counts["POST /v2/units"] == 1


@pytest.mark.parametrize(
    ("price", "cents"),
    [("19.99", 1999), ("0.29", 29), ("1.005", 101), ("4.10", 410), ("999999.99", 99999999)],
)
async def test_prices_are_exact_integer_cents(
    server: FakeKauflandServer,
    make_client: Callable[..., KauflandClient],
    price: str,
    cents: int,
) -> None:
    assert to_cents(Decimal(price)) == cents
    result = await make_client().publish(make_offer(2, price=Decimal(price)))
    assert result.status is PublishStatus.PUBLISHED
    [unit] = server.units_for("KL-00002", "de")
    assert unit["listing_price"] == cents
    sent = json.loads(server.bodies[-1])  # what went over the wire, not a float
    assert type(sent["listing_price"]) is int and sent["listing_price"] == cents


async def test_prices_per_storefront(
    server: FakeKauflandServer, make_client: Callable[..., KauflandClient]
) -> None:
    client = make_client(storefront="cz")
    czk = await client.publish(make_offer(3, price=Decimal("612.90"), currency="CZK"))
    assert czk.status is PublishStatus.PUBLISHED
    [unit] = server.units_for("KL-00003", "cz")
    assert unit["listing_price"] == 61290 and unit["currency"] == "CZK"
    assert server.product_data[(ean13(3), "cs-CZ")]
    wrong = await client.publish(make_offer(4, currency="EUR"))
    assert wrong.status is PublishStatus.REJECTED
    assert [(i.code, i.field) for i in wrong.issues] == [("kaufland.currency", "price")]
    assert server.units_for("KL-00004") == []


async def test_refused_product_data_is_rejected_with_issues(
    server: FakeKauflandServer, make_client: Callable[..., KauflandClient]
) -> None:
    offer = make_offer(5, brand=None, images=("img/1.jpg",))
    result = await make_client().publish(offer)
    assert result.status is PublishStatus.REJECTED
    assert result.http_status == 400
    fields = {(i.field, i.message) for i in result.issues}
    assert ("brand", "manufacturer is mandatory") in fields
    assert ("images", "img/1.jpg is not a full http URL") in fields
    assert server.units_for("KL-00005") == []


async def test_a_sku_used_for_another_ean_is_rejected(
    server: FakeKauflandServer, make_client: Callable[..., KauflandClient]
) -> None:
    await make_client().publish(make_offer(6))
    # The client sees the SKU's unit carries another EAN and says so without sending it.
    result = await make_client().publish(make_offer(6, ean=ean13(7)))
    assert result.status is PublishStatus.REJECTED
    assert [(i.code, i.field) for i in result.issues] == [("kaufland.sku_ean_changed", "sku")]
    # If the unit list lags behind (Kaufland says it may), Kaufland's own refusal is mapped.
    client = make_client()
    client.find_unit = _nothing  # type: ignore[method-assign]
    refused = await client.publish(make_offer(6, ean=ean13(7)))
    assert refused.status is PublishStatus.REJECTED
    assert refused.http_status == 400
    assert [(i.field, i.message) for i in refused.issues] == [
        ("sku", f"KL-00006 is used for EAN {ean13(6)}")
    ]
    assert len(server.units_for("KL-00006")) == 1


async def _nothing(sku: str, storefront: str) -> None:
    return None


async def test_republishing_a_sku_patches_its_unit(
    server: FakeKauflandServer, make_client: Callable[..., KauflandClient]
) -> None:
    first = await make_client().publish(make_offer(8))
    again = await make_client().publish(make_offer(8, price=Decimal("21.50"), quantity=3))
    assert again.status is PublishStatus.PUBLISHED
    assert again.remote_id == first.remote_id
    [unit] = server.units_for("KL-00008", "de")
    assert unit["listing_price"] == 2150 and unit["amount"] == 3
    assert server.faults.counts["POST /v2/units"] == 1
    assert server.faults.counts["PATCH /v2/units/{id_unit}"] == 1


async def test_price_stock_status_and_withdraw(
    server: FakeKauflandServer, make_client: Callable[..., KauflandClient]
) -> None:
    client = make_client()
    await client.publish(make_offer(9))
    updated = await client.update_price_stock("KL-00009", price=Decimal("19.99"), quantity=0)
    assert updated.status is PublishStatus.PUBLISHED
    [unit] = server.units_for("KL-00009")
    assert unit["listing_price"] == 1999 and unit["amount"] == 0
    status = await make_client().remote_status("KL-00009")
    assert status.status is PublishStatus.PUBLISHED
    assert status.remote_data["listing_price"] == 1999
    withdrawn = await make_client().withdraw("KL-00009")
    assert withdrawn.status is PublishStatus.WITHDRAWN
    assert server.units_for("KL-00009") == []
    assert (await client.remote_status("KL-00009")).status is PublishStatus.NOT_FOUND
    assert (await client.withdraw("KL-00009")).status is PublishStatus.NOT_FOUND
    missing = await client.update_price_stock("KL-00009", quantity=1)
    assert missing.status is PublishStatus.NOT_FOUND


async def test_429_with_retry_after_is_honoured(
    server: FakeKauflandServer, make_client: Callable[..., KauflandClient]
) -> None:
    server.faults.retry_after = 0.5
    server.plan("429", match="POST /v2/units")
    result = await make_client().publish(make_offer(10))
    assert result.status is PublishStatus.PUBLISHED
    posts = [c for c in server.faults.calls if c.method == "POST"]
    assert [c.status for c in posts] == [429, 201]
    assert posts[1].at - posts[0].at >= 0.5


async def test_500_once_then_success(
    server: FakeKauflandServer, make_client: Callable[..., KauflandClient]
) -> None:
    server.plan("500", match="PUT /v2/product-data")
    result = await make_client().publish(make_offer(11))
    assert result.status is PublishStatus.PUBLISHED
    assert [c.status for c in server.faults.calls if c.method == "PUT"] == [500, 204]


async def test_lost_create_response_does_not_duplicate(
    server: FakeKauflandServer, make_client: Callable[..., KauflandClient]
) -> None:
    server.plan("500_after", match="POST /v2/units")
    result = await make_client().publish(make_offer(12))
    assert result.status is PublishStatus.PUBLISHED
    [unit] = server.units_for("KL-00012")
    assert result.remote_id == str(unit["id_unit"])
    assert server.faults.counts["POST /v2/units"] == 1


async def test_thousand_offers_concurrently_without_duplicates(
    server: FakeKauflandServer, make_client: Callable[..., KauflandClient]
) -> None:
    offers = [make_offer(n) for n in range(1000, 2000)]
    client = make_client(rate=500.0, concurrency=8)
    await publish_despite_faults(server, client, offers, match="POST /v2/units")


def test_export_file_follows_kauflands_file_rules() -> None:
    offers = [
        make_offer(1, price=Decimal("19.99")),
        make_offer(2, images=("https://img.example.com/only.jpg",), attributes={}),
    ]
    data = kaufland.export_file(offers)
    text = data.decode("utf-8")
    rows = list(csv.reader(io.StringIO(text), delimiter=","))
    header = rows[0]
    assert header[0] == "ean"
    assert header.count("picture") == 2 and header.count("colour") == 2  # repeated columns
    first = dict(zip(header, rows[1], strict=True))  # the last of a repeated header wins
    # the EAN column holds bare digits (a number with no decimals), never quoted
    assert text.split("\r\n")[1].startswith(f"{ean13(1)},")
    assert [row[0] for row in rows[1:]] == [ean13(1), ean13(2)]
    assert first["price"] == "1999" and first["currency"] == "EUR"
    assert first["id_offer"] == "KL-00001" and first["condition"] == "100"
    pictures = [v for h, v in zip(header, rows[2], strict=True) if h == "picture"]
    assert pictures == ["https://img.example.com/only.jpg", ""]
    assert rows[1][header.index("colour")] == "silber"
    assert "Hält 24 Stunden kalt" in first["description"]
    assert len(rows) == 3 and all(len(r) == len(header) for r in rows)
    with pytest.raises(ValueError, match="KL-00003"):
        kaufland.export_file([make_offer(3, ean=None)])
    assert kaufland.EXPORT_MEDIA_TYPE.startswith("text/csv")
