"""Export mode: each marketplace's file from optimized listings (SKUs and converted prices read
back from the file), what is left out and why, the route's errors; SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from tests.conftest import make_api_key
from tests.factories import product_payload

from listingflow.auth.service import auth_service
from listingflow.config import Settings
from listingflow.exceptions import ValidationFailed
from listingflow.publication import export as export_module
from listingflow.publication.connections import connection_service
from listingflow.publication.export import ExportReport, NothingToExport, export_service

# 1 EUR = 4 PLN; the rule converts to EUR and adds 10 %.
RATES = {"PLN": 1, "EUR": 4}
RULE = {"currency": "EUR", "markup_percent": 10}


async def _product(
    client: httpx.AsyncClient, *, sku: str, price: str, currency: str = "PLN", **attrs: Any
) -> int:
    payload = product_payload(
        price=price,
        currency=currency,
        attributes={"sku": sku, "ean": "4006381333931", "color": "czarny", **attrs},
    )
    response = await client.post("/api/import/product", json=payload)
    assert response.status_code in (200, 201), response.text
    return int(response.json()["product_id"])


async def _optimize(client: httpx.AsyncClient, product_id: int, marketplace: str) -> None:
    response = await client.post(
        f"/api/ai/optimize/{product_id}?target_marketplace={marketplace}&engine=offline"
    )
    assert response.status_code == 200, response.text


def _price_rule(settings: Settings, marketplace: str, **rule: Any) -> None:
    settings.pricing_rules = {marketplace: {**RULE, **rule}}
    settings.currency_rates = dict(RATES)


def _prices_in(marketplace: str, content: bytes) -> dict[str, tuple[Decimal | None, str | None]]:
    """SKU -> (price, currency) read back from the marketplace's own file format."""
    if marketplace == "amazon":
        found = {}
        for message in json.loads(content)["messages"]:
            offer = message["attributes"]["purchasable_offer"][0]
            value = offer["our_price"][0]["schedule"][0]["value_with_tax"]
            found[message["sku"]] = (Decimal(str(value)), offer["currency"])
        return found
    if marketplace == "ebay":  # inventory items carry no price (eBay keeps it on the offer)
        return {item["sku"]: (None, None) for item in json.loads(content)["requests"]}
    if marketplace == "allegro":
        return {
            body["external"]["id"]: (
                Decimal(body["sellingMode"]["price"]["amount"]),
                body["sellingMode"]["price"]["currency"],
            )
            for body in json.loads(content)
        }
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
    return {row["id_offer"]: (Decimal(row["price"]) / 100, row["currency"]) for row in rows}


@pytest.mark.parametrize("marketplace", ["amazon", "ebay", "allegro", "kaufland"])
async def test_each_marketplace_file_has_the_skus_and_converted_prices(
    client: httpx.AsyncClient, settings: Settings, marketplace: str
) -> None:
    _price_rule(settings, marketplace)
    first = await _product(client, sku="MUG-1", price="400.00")
    second = await _product(client, sku="MUG-2", price="86.00")
    not_optimized = await _product(client, sku="MUG-3", price="10.00")
    for product_id in (first, second):
        await _optimize(client, product_id, marketplace)

    response = await client.get(f"/api/export/file?marketplace={marketplace}")

    assert response.status_code == 200, response.text
    assert response.headers["x-exported-count"] == "2"
    assert response.headers["x-skipped-count"] == "1"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    filename = disposition.split("filename=")[1].strip('"')
    assert filename.endswith(".csv" if marketplace == "kaufland" else ".json")
    prices = _prices_in(marketplace, response.content)
    assert set(prices) == {"MUG-1", "MUG-2"}
    if marketplace != "ebay":
        # 400 PLN = 100 EUR, +10 % = 110.00; 86 PLN = 21.50 EUR, +10 % = 23.65
        assert prices["MUG-1"] == (Decimal("110.00"), "EUR")
        assert prices["MUG-2"] == (Decimal("23.65"), "EUR")
    one = await client.get(
        f"/api/export/file?marketplace={marketplace}&product_ids={second},{not_optimized}"
    )
    assert one.status_code == 200
    assert set(_prices_in(marketplace, one.content)) == {"MUG-2"}
    assert one.headers["x-skipped-count"] == "1"


async def _build(app: FastAPI, marketplace: str, **kw: Any) -> tuple[bytes, ExportReport]:
    async with app.state.db.session() as session:
        ws = await auth_service.workspace(session, "default")
        export, report = await export_service.build(session, ws.id, marketplace, **kw)
    return export.content, report


async def test_left_out_products_are_reported_with_their_reasons(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    # A fixed fee of 5 EUR with a 10 % minimum margin holds back a cheap product only.
    _price_rule(settings, "amazon", fixed_fee=5, markup_percent=20, min_margin_percent=10)
    good = await _product(client, sku="OK-1", price="400.00")
    cheap = await _product(client, sku="CHEAP-1", price="10.00")
    no_rate = await _product(client, sku="USD-1", price="50.00", currency="USD")
    twin = await _product(client, sku="OK-1", price="300.00")  # the same SKU again
    broken = await _product(client, sku="LONG-1", price="400.00")
    missing_listing = await _product(client, sku="NEW-1", price="400.00")
    for product_id in (good, cheap, no_rate, twin, broken):
        await _optimize(client, product_id, "amazon")
    listing_id = (await client.get(f"/api/products/{broken}/listings")).json()[0]["id"]
    edited = await client.patch(f"/api/listings/{listing_id}", json={"title": "Kubek " * 80})
    errors = [i["message"] for i in edited.json()["issues"] if i["severity"] == "error"]
    assert errors  # the hand edit broke an Amazon rule

    content, report = await _build(
        app, "amazon", product_ids=[good, cheap, no_rate, twin, broken, missing_listing, 999999]
    )

    assert report.exported == 1
    assert [m["sku"] for m in json.loads(content)["messages"]] == ["OK-1"]
    reasons = {item.product_id: item.reason for item in report.skipped}
    assert set(reasons) == {cheap, no_rate, twin, broken, missing_listing, 999999}
    assert reasons[missing_listing] == "not optimized for amazon"
    assert reasons[999999] == "product not found"
    assert "below the minimum 10%" in reasons[cheap]
    assert "no exchange rate for USD" in reasons[no_rate]
    assert "SKU OK-1" in reasons[twin] and str(good) in reasons[twin]
    assert reasons[broken].startswith("the listing breaks the rules")
    assert errors[0] in reasons[broken]


async def test_a_kaufland_product_without_ean_or_in_the_wrong_currency_is_left_out(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    with_ean = await _product(client, sku="K-1", price="40.00", currency="EUR")
    no_ean_payload = product_payload(price="40.00", currency="EUR", attributes={"sku": "K-2"})
    no_ean = int(
        (await client.post("/api/import/product", json=no_ean_payload)).json()["product_id"]
    )
    in_pln = await _product(client, sku="K-3", price="40.00", currency="PLN")
    for product_id in (with_ean, no_ean, in_pln):
        await _optimize(client, product_id, "kaufland")

    content, report = await _build(app, "kaufland")

    rows = list(csv.DictReader(io.StringIO(content.decode())))
    assert [(r["id_offer"], r["price"], r["currency"]) for r in rows] == [("K-1", "4000", "EUR")]
    reasons = {item.product_id: item.reason for item in report.skipped}
    assert "EAN" in reasons[no_ean]
    assert "priced in PLN" in reasons[in_pln] and "EUR" in reasons[in_pln]


async def test_products_are_read_in_chunks_without_losing_any(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export_module, "CHUNK", 2)
    ids = [await _product(client, sku=f"C-{n}", price="20.00") for n in range(5)]
    for product_id in ids:
        await _optimize(client, product_id, "allegro")

    content, report = await _build(app, "allegro")
    picked, _ = await _build(app, "allegro", product_ids=[ids[4], ids[0], ids[2]])

    assert [body["external"]["id"] for body in json.loads(content)] == [f"C-{n}" for n in range(5)]
    assert report.exported == 5 and not report.skipped
    assert [body["external"]["id"] for body in json.loads(picked)] == ["C-0", "C-2", "C-4"]


async def test_amazon_over_the_feed_limit_is_a_zip_of_feeds(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export_module, "MAX_PER_FILE", {"amazon": 2})
    for n in range(3):
        await _optimize(client, await _product(client, sku=f"Z-{n}", price="20.00"), "amazon")

    response = await client.get("/api/export/file?marketplace=amazon")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert 'filename="amazon-json-listings-feed.zip"' in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    parts = sorted(archive.namelist())
    assert parts == ["amazon-json-listings-feed-1.json", "amazon-json-listings-feed-2.json"]
    skus = [m["sku"] for p in parts for m in json.loads(archive.read(p))["messages"]]
    assert skus == ["Z-0", "Z-1", "Z-2"]


async def test_amazon_file_takes_seller_and_marketplace_from_the_connection(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await _optimize(client, await _product(client, sku="S-1", price="20.00"), "amazon")
    async with app.state.db.session() as session:
        ws = await auth_service.workspace(session, "default")
        await connection_service.save(
            session,
            ws.id,
            marketplace="amazon",
            name="default",
            credentials={
                "seller_id": "A2SELLER",
                "client_id": "amzn1.application-oa2-client.x",
                "client_secret": "amazon-client-secret",
                "refresh_token": "Atzr|refresh",
                "marketplace_id": "DE",
            },
        )
        await session.commit()

    feed = json.loads((await client.get("/api/export/file?marketplace=amazon")).content)

    assert feed["header"]["sellerId"] == "A2SELLER"
    offer = feed["messages"][0]["attributes"]["purchasable_offer"][0]
    assert offer["marketplace_id"] == "A1PA6795UKMFR9"  # Amazon.de
    assert "amazon-client-secret" not in json.dumps(feed)


async def test_unknown_marketplace_is_a_400_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/export/file?marketplace=etsy")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "marketplace"
    bad_ids = await client.get("/api/export/file?marketplace=amazon&product_ids=1,x")
    assert bad_ids.status_code == 400
    assert bad_ids.json()["errors"][0]["field"] == "product_ids"


async def test_nothing_exportable_is_a_409_with_the_reasons(client: httpx.AsyncClient) -> None:
    first = await _product(client, sku="N-1", price="20.00")
    second = await _product(client, sku="N-2", price="20.00")
    await _optimize(client, second, "ebay")  # for another marketplace

    response = await client.get("/api/export/file?marketplace=amazon")

    assert response.status_code == 409
    body = response.json()
    assert "nothing to export to amazon" in body["detail"]
    assert {(e["field"], e["message"]) for e in body["errors"]} == {
        (f"products.{first}", "not optimized for amazon"),
        (f"products.{second}", "not optimized for amazon"),
    }


async def test_another_workspaces_products_are_never_exported(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    mine = await _product(client, sku="MINE-1", price="20.00")
    await _optimize(client, mine, "amazon")
    other_key = await make_api_key(app, "other-shop")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers={"X-API-Key": other_key}
    ) as other:
        response = await other.get(f"/api/export/file?marketplace=amazon&product_ids={mine}")
        assert response.status_code == 409
        assert response.json()["errors"] == [
            {"field": f"products.{mine}", "message": "product not found"}
        ]
    with pytest.raises(NothingToExport):
        await _build(app, "amazon", product_ids=[mine + 1000])


async def test_an_option_the_writer_refuses_is_a_422_naming_options(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await _optimize(client, await _product(client, sku="O-1", price="20.00"), "amazon")
    with pytest.raises(ValidationFailed) as refused:
        await _build(app, "amazon", options={"marketplace_id": "XX"})
    assert refused.value.field == "options"
    assert "XX" in refused.value.message
