"""The Amazon documents: listing attributes built from an Offer, SP-API issues as our Issues,
the JSON_LISTINGS_FEED document (bulk upload and `export_file`), its submission through the Feeds
API and its processing report read back into one PublishResult per SKU.

The client in amazon.py sends these; the same feed document is what a seller uploads by hand
("Upload JSON listings feed"), so the export needs no credentials.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import httpx
import structlog

from listingflow.integrations.marketplaces.base import (
    Issue,
    Offer,
    PermanentError,
    PublishResult,
    PublishStatus,
    RetryableError,
    Severity,
)
from listingflow.integrations.marketplaces.http import encode_json

log = structlog.get_logger()

EXPORT_FILENAME = "amazon-json-listings-feed.json"
EXPORT_MEDIA_TYPE = "application/json"
FEED_CONTENT_TYPE = "application/json; charset=UTF-8"
FEED_TYPE = "JSON_LISTINGS_FEED"
FEED_MAX_MESSAGES = 25_000
FEEDS = "/feeds/2021-06-30"
DEFAULT_PRODUCT_TYPE = "PRODUCT"
MAX_OTHER_IMAGES = 8  # other_product_image_locator_1 .. _8 (nine images in all)


@dataclass(frozen=True, slots=True)
class AmazonMarketplace:
    code: str  # what sellers say: "DE", "US", "UK"
    id: str  # SP-API marketplaceId
    region: str  # "na", "eu", "fe": which SP-API host serves it
    language_tag: str  # attribute language and issueLocale
    currency: str


MARKETPLACES: dict[str, AmazonMarketplace] = {
    m.code: m
    for m in (
        AmazonMarketplace("US", "ATVPDKIKX0DER", "na", "en_US", "USD"),
        AmazonMarketplace("CA", "A2EUQ1WTGCTBG", "na", "en_CA", "CAD"),
        AmazonMarketplace("MX", "A1AM78C64UM0Y8", "na", "es_MX", "MXN"),
        AmazonMarketplace("BR", "A2Q3Y263D00KWC", "na", "pt_BR", "BRL"),
        AmazonMarketplace("UK", "A1F83G8C2ARO7P", "eu", "en_GB", "GBP"),
        AmazonMarketplace("DE", "A1PA6795UKMFR9", "eu", "de_DE", "EUR"),
        AmazonMarketplace("FR", "A13V1IB3VIYZZH", "eu", "fr_FR", "EUR"),
        AmazonMarketplace("IT", "APJ6JRA9NG5V4", "eu", "it_IT", "EUR"),
        AmazonMarketplace("ES", "A1RKKUPIHCS9HS", "eu", "es_ES", "EUR"),
        AmazonMarketplace("NL", "A1805IZSGTT6HS", "eu", "nl_NL", "EUR"),
        AmazonMarketplace("PL", "A1C3SOZRARQ6R3", "eu", "pl_PL", "PLN"),
        AmazonMarketplace("SE", "A2NODRKZP88ZB9", "eu", "sv_SE", "SEK"),
        AmazonMarketplace("TR", "A33AVAJ2PDY3EV", "eu", "tr_TR", "TRY"),
        AmazonMarketplace("IN", "A21TJRUUN4KGV", "eu", "en_IN", "INR"),
        AmazonMarketplace("JP", "A1VC38T7YXB528", "fe", "ja_JP", "JPY"),
        AmazonMarketplace("AU", "A39IBJ37TRP1C6", "fe", "en_AU", "AUD"),
        AmazonMarketplace("SG", "A19VAU5U5O7RUS", "fe", "en_SG", "SGD"),
    )
}
_BY_ID = {m.id: m for m in MARKETPLACES.values()}


def resolve_marketplace(
    value: str,
    *,
    region: str | None = None,
    language_tag: str | None = None,
    currency: str | None = None,
) -> AmazonMarketplace:
    """A marketplace from its code ("DE", "GB" too) or its id; an unknown id needs `region`."""
    key = value.strip()
    known = MARKETPLACES.get(key.upper().replace("GB", "UK")) or _BY_ID.get(key)
    if known is None:
        if not region:
            codes = ", ".join(MARKETPLACES)
            raise ValueError(
                f"marketplace_id '{value}' is not a known Amazon marketplace ({codes}); "
                "give its region (na, eu, fe) with it"
            )
        known = AmazonMarketplace(key, key, region.lower(), language_tag or "en_US", "USD")
    return AmazonMarketplace(
        known.code,
        known.id,
        (region or known.region).lower(),
        language_tag or known.language_tag,
        currency or known.currency,
    )


# Amazon attribute -> the Offer field a seller edits (the field an Issue names).
ATTRIBUTE_FIELDS = {
    "item_name": "title",
    "bullet_point": "bullets",
    "product_description": "description",
    "generic_keyword": "keywords",
    "brand": "brand",
    "externally_assigned_product_identifier": "ean",
    "condition_type": "condition",
    "purchasable_offer": "price",
    "fulfillment_availability": "quantity",
    "main_product_image_locator": "images",
}

CONDITIONS = {
    "new": "new_new",
    "used": "used_good",
    "used_like_new": "used_like_new",
    "used_very_good": "used_very_good",
    "used_good": "used_good",
    "used_acceptable": "used_acceptable",
    "refurbished": "refurbished_refurbished",
    "collectible": "collectible_good",
}


def _number(value: Decimal) -> int | float:
    """A JSON number for a price: 29.99, not "29.99" and not 29.990000000000002."""
    return int(value) if value == value.to_integral_value() else float(round(value, 2))


def _localized(value: str, m: AmazonMarketplace) -> dict[str, Any]:
    return {"value": value, "language_tag": m.language_tag, "marketplace_id": m.id}


def product_type(offer: Offer) -> str:
    value = offer.attributes.get("product_type") or offer.attributes.get("productType")
    return str(value or DEFAULT_PRODUCT_TYPE)


def price_attribute(price: Decimal, currency: str, m: AmazonMarketplace) -> list[dict[str, Any]]:
    return [
        {
            "currency": currency,
            "marketplace_id": m.id,
            "our_price": [{"schedule": [{"value_with_tax": _number(price)}]}],
        }
    ]


def quantity_attribute(quantity: int) -> list[dict[str, Any]]:
    return [{"fulfillment_channel_code": "DEFAULT", "quantity": max(0, quantity)}]


def build_attributes(offer: Offer, m: AmazonMarketplace) -> dict[str, Any]:
    """The Listings Items `attributes` for an Offer; `offer.attributes["attributes"]` adds or
    overrides product-type attributes (a list is taken as Amazon's shape, a scalar is wrapped)."""
    attrs: dict[str, Any] = {"item_name": [_localized(offer.title, m)]}
    if offer.brand:
        attrs["brand"] = [_localized(offer.brand, m)]
    if offer.bullets:
        attrs["bullet_point"] = [_localized(b, m) for b in offer.bullets]
    if offer.description:
        attrs["product_description"] = [_localized(offer.description, m)]
    if offer.keywords:
        attrs["generic_keyword"] = [_localized(" ".join(offer.keywords), m)]
    if offer.ean:
        attrs["externally_assigned_product_identifier"] = [
            {"type": "ean", "value": offer.ean, "marketplace_id": m.id}
        ]
    condition = CONDITIONS.get(offer.condition.lower(), offer.condition)
    attrs["condition_type"] = [{"value": condition, "marketplace_id": m.id}]
    attrs["purchasable_offer"] = price_attribute(offer.price, offer.currency or m.currency, m)
    attrs["fulfillment_availability"] = quantity_attribute(offer.quantity)
    if offer.images:
        attrs["main_product_image_locator"] = [
            {"media_location": offer.images[0], "marketplace_id": m.id}
        ]
        for n, url in enumerate(offer.images[1 : MAX_OTHER_IMAGES + 1], start=1):
            attrs[f"other_product_image_locator_{n}"] = [
                {"media_location": url, "marketplace_id": m.id}
            ]
    extra = offer.attributes.get("attributes") or {}
    for name, value in extra.items():
        if isinstance(value, list):
            attrs[name] = value
        else:
            attrs[name] = [{"value": value, "marketplace_id": m.id}]
    return attrs


def put_body(offer: Offer, m: AmazonMarketplace) -> dict[str, Any]:
    return {
        "productType": product_type(offer),
        "requirements": str(offer.attributes.get("requirements") or "LISTING"),
        "attributes": build_attributes(offer, m),
    }


# -- issues ---------------------------------------------------------------------------------

_SEVERITIES = {"ERROR": Severity.ERROR, "WARNING": Severity.WARNING, "INFO": Severity.INFO}


def field_for(attribute: str) -> str:
    if attribute.startswith("other_product_image_locator"):
        return "images"
    return ATTRIBUTE_FIELDS.get(attribute, f"attributes.{attribute}")


def issue_from_amazon(raw: Mapping[str, Any]) -> Issue:
    """One SP-API issue (submission response, item, or feed report) as our Issue."""
    names: list[str] = list(raw.get("attributeNames") or [])
    if not names and raw.get("attributeName"):
        names = [str(raw["attributeName"])]
    fields = list(dict.fromkeys(field_for(n) for n in names))
    return Issue(
        code=f"amazon.{raw.get('code') or 'issue'}",
        field=",".join(fields) or "listing",
        severity=_SEVERITIES.get(str(raw.get("severity", "ERROR")).upper(), Severity.ERROR),
        message=str(raw.get("message") or "Amazon reported a problem with this listing."),
    )


def issues_from_errors(body: Any) -> list[Issue]:
    """An SP-API ErrorList ({"errors": [{code, message, details}]}) as blocking Issues."""
    errors = body.get("errors") if isinstance(body, dict) else None
    out = []
    for err in errors or []:
        message = str(err.get("message") or "Amazon refused the request.")
        if err.get("details"):
            message = f"{message} ({err['details']})"
        out.append(
            Issue(f"amazon.{err.get('code') or 'error'}", "listing", Severity.ERROR, message)
        )
    return out


def error_text(body: Any, default: str) -> str:
    issues = issues_from_errors(body)
    return "; ".join(i.message for i in issues) or default


# -- the feed --------------------------------------------------------------------------------


def feed_document(
    offers: Iterable[Offer],
    m: AmazonMarketplace,
    *,
    seller_id: str,
    report: bool = True,
) -> dict[str, Any]:
    """A JSON_LISTINGS_FEED (listings-feed-schema v2) that fully replaces each SKU (UPDATE)."""
    header: dict[str, Any] = {
        "sellerId": seller_id,
        "version": "2.0",
        "issueLocale": m.language_tag,
    }
    if report:
        header["report"] = {"includedData": ["issues", "summaries"], "apiVersion": "2021-08-01"}
    messages = []
    for n, offer in enumerate(offers, start=1):
        body = put_body(offer, m)
        messages.append(
            {
                "messageId": n,
                "sku": offer.sku,
                "operationType": "UPDATE",
                "productType": body["productType"],
                "requirements": body["requirements"],
                "attributes": body["attributes"],
            }
        )
    if len(messages) > FEED_MAX_MESSAGES:
        raise ValueError(f"a JSON_LISTINGS_FEED holds at most {FEED_MAX_MESSAGES} messages")
    return {"header": header, "messages": messages}


def export_file(
    offers: Sequence[Offer],
    *,
    seller_id: str = "",
    marketplace_id: str = "US",
    region: str | None = None,
    language_tag: str | None = None,
    currency: str | None = None,
) -> bytes:
    """The offers as a JSON_LISTINGS_FEED file a seller can upload in Seller Central.

    `seller_id` is the merchant token (the header needs it: fill it in before uploading when
    left empty); `marketplace_id` is a code ("DE") or an id.
    """
    m = resolve_marketplace(
        marketplace_id, region=region, language_tag=language_tag, currency=currency
    )
    document = feed_document(offers, m, seller_id=seller_id, report=False)
    return json.dumps(document, ensure_ascii=False, indent=2).encode()


def results_from_report(
    report: Mapping[str, Any], skus: Sequence[str], *, feed_id: str
) -> list[PublishResult]:
    """One result per SKU of the feed, in order, from a processing report.

    A message with an ERROR issue was refused (REJECTED); one the report shows BUYABLE is live
    (PUBLISHED); any other was accepted and is still being processed (ACCEPTED, poll
    remote_status later), exactly like an ACCEPTED putListingsItem.
    """
    by_message = {n: sku for n, sku in enumerate(skus, start=1)}
    issues: dict[str, list[Issue]] = {sku: [] for sku in skus}
    for raw in report.get("issues") or []:
        sku = raw.get("sku") or by_message.get(raw.get("messageId"))
        if sku in issues:
            issues[sku].append(issue_from_amazon(raw))
    live: set[str] = set()
    asins: dict[str, str] = {}
    for item in report.get("items") or []:
        sku = item.get("sku")
        for summary in item.get("summaries") or []:
            if "BUYABLE" in (summary.get("status") or []):
                live.add(sku)
            if summary.get("asin"):
                asins[sku] = summary["asin"]
        for raw in item.get("issues") or []:
            if sku in issues:
                issue = issue_from_amazon(raw)
                if issue not in issues[sku]:
                    issues[sku].append(issue)
    results = []
    for n, sku in enumerate(skus, start=1):
        found = issues[sku]
        if any(i.severity is Severity.ERROR for i in found):
            status = PublishStatus.REJECTED
        elif sku in live:
            status = PublishStatus.PUBLISHED
        else:
            status = PublishStatus.ACCEPTED
        results.append(
            PublishResult(
                sku=sku,
                status=status,
                remote_id=asins.get(sku),
                issues=found,
                http_status=200,
                request_summary={"operation": "createFeed", "feedId": feed_id, "messageId": n},
                remote_data={"feed_id": feed_id, "message_id": n},
            )
        )
    return results


# -- submitting a feed -----------------------------------------------------------------------


class Call(Protocol):
    """An authenticated SP-API call paced by the operation's usage plan."""

    def __call__(
        self, operation: str, method: str, path: str, *, json_body: Any = None
    ) -> Awaitable[httpx.Response]: ...


class Presigned(Protocol):
    """A request to a presigned document URL (no SP-API token)."""

    def __call__(
        self, method: str, url: str, *, content: bytes | None = None, content_type: str = ""
    ) -> Awaitable[httpx.Response]: ...


def _expect(response: httpx.Response, status: int, operation: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == status and isinstance(body, dict):
        return body
    raise PermanentError(
        f"amazon: {operation} answered {response.status_code}: {error_text(body, 'no text')}",
        marketplace="amazon",
        status=response.status_code,
        issues=issues_from_errors(body),
    )


async def submit_feed(
    offers: Sequence[Offer],
    m: AmazonMarketplace,
    *,
    seller_id: str,
    call: Call,
    presigned: Presigned,
    poll_interval: float,
    give_up_after: float,
) -> list[PublishResult]:
    """createFeedDocument -> upload -> createFeed -> poll getFeed -> download the report.

    DONE gives one result per SKU (DONE does not mean every message passed: the report says);
    FATAL raises PermanentError with the report's issues; a feed still running after
    `give_up_after` seconds raises RetryableError (the same UPDATE messages again are harmless).
    """
    skus = [o.sku for o in offers]
    if len(set(skus)) != len(skus):
        raise ValueError("a feed may name each SKU once")
    document = feed_document(offers, m, seller_id=seller_id)
    created = await call(
        "createFeedDocument",
        "POST",
        f"{FEEDS}/documents",
        json_body={"contentType": FEED_CONTENT_TYPE},
    )
    doc = _expect(created, 201, "createFeedDocument")
    upload = await presigned(
        "PUT", str(doc["url"]), content=encode_json(document), content_type=FEED_CONTENT_TYPE
    )
    if upload.status_code >= 300:
        raise RetryableError(
            f"amazon: feed upload refused ({upload.status_code})",
            marketplace="amazon",
            status=upload.status_code,
        )
    started = await call(
        "createFeed",
        "POST",
        f"{FEEDS}/feeds",
        json_body={
            "feedType": FEED_TYPE,
            "marketplaceIds": [m.id],
            "inputFeedDocumentId": doc["feedDocumentId"],
        },
    )
    feed_id = str(_expect(started, 202, "createFeed")["feedId"])
    log.info("amazon.feed_created", feed_id=feed_id, messages=len(offers))
    deadline = time.monotonic() + give_up_after
    while True:
        feed = _expect(await call("getFeed", "GET", f"{FEEDS}/feeds/{feed_id}"), 200, "getFeed")
        state = feed.get("processingStatus")
        if state in ("DONE", "FATAL", "CANCELLED"):
            break
        if time.monotonic() > deadline:
            raise RetryableError(f"amazon: feed {feed_id} still {state}", marketplace="amazon")
        await asyncio.sleep(poll_interval)
    report = None
    if feed.get("resultFeedDocumentId"):
        report = await _download_report(str(feed["resultFeedDocumentId"]), call, presigned)
    log.info("amazon.feed_done", feed_id=feed_id, state=state)
    if state == "DONE" and report is not None:
        return results_from_report(report, skus, feed_id=feed_id)
    if state == "CANCELLED":
        raise RetryableError(f"amazon: feed {feed_id} was cancelled", marketplace="amazon")
    issues = [issue_from_amazon(i) for i in (report or {}).get("issues") or []]
    raise PermanentError(
        f"amazon: feed {feed_id} ended {state}" + (f": {issues[0].message}" if issues else ""),
        marketplace="amazon",
        issues=issues,
    )


async def _download_report(document_id: str, call: Call, presigned: Presigned) -> dict[str, Any]:
    response = await call("getFeedDocument", "GET", f"{FEEDS}/documents/{document_id}")
    doc = _expect(response, 200, "getFeedDocument")
    download = await presigned("GET", str(doc["url"]))
    if download.status_code != 200:
        raise RetryableError(
            f"amazon: processing report download failed ({download.status_code})",
            marketplace="amazon",
            status=download.status_code,
        )
    raw = download.content
    if str(doc.get("compressionAlgorithm", "")).upper() == "GZIP":
        raw = gzip.decompress(raw)
    report = json.loads(raw)
    if not isinstance(report, dict):
        raise PermanentError("amazon: the processing report is not JSON", marketplace="amazon")
    return report
