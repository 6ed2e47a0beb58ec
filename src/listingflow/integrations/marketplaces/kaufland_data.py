"""Kaufland payloads, pure and without I/O: request signing, prices in integer cents, the
product-data and unit bodies, checks made before sending, error bodies mapped to Issues, and
the product-data CSV file.

Facts from shared/reference/marketplace-apis.md section 4 and marketplace-rules.md (file rules).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import httpx

from listingflow.integrations.marketplaces import common
from listingflow.integrations.marketplaces.base import Issue, Offer, PermanentError, Severity
from listingflow.integrations.marketplaces.common import response_json
from listingflow.rules.rulebooks import RULEBOOKS

MARKETPLACE = "kaufland"
DEFAULT_HANDLING_TIME = 1  # business days


# storefront -> (currency, product-data locale, largest listing price in cents)
STOREFRONTS: dict[str, tuple[str, str, int | None]] = {
    "de": ("EUR", "de-DE", 100_000_000),
    "at": ("EUR", "de-AT", 100_000_000),
    "sk": ("EUR", "sk-SK", 100_000_000),
    "cz": ("CZK", "cs-CZ", 2_500_000_000),
    "pl": ("PLN", "pl-PL", None),
    "fr": ("EUR", "fr-FR", 100_000_000),
    "it": ("EUR", "it-IT", 100_000_000),
}

# v2 unit conditions; used grades follow Kaufland's enum [U].
_CONDITIONS = {
    "new": "NEW",
    "used": "USED___GOOD",
    "used_as_new": "USED___AS_NEW",
    "used_very_good": "USED___VERY_GOOD",
    "used_good": "USED___GOOD",
    "used_acceptable": "USED___ACCEPTABLE",
}
# The same conditions as numbers, as Kaufland's inventory files write them.
_FILE_CONDITIONS = {
    "NEW": "100",
    "USED___AS_NEW": "200",
    "USED___VERY_GOOD": "300",
    "USED___GOOD": "400",
    "USED___ACCEPTABLE": "500",
}
_UNIT_OPTIONAL = ("note", "id_shipping_group", "id_warehouse")
_DESCRIPTION_TAGS = RULEBOOKS["kaufland"].description_tags

EXPORT_FILENAME = "kaufland-product-data.csv"
EXPORT_MEDIA_TYPE = "text/csv; charset=utf-8"


# ------------------------------------------------------------------------------ signing, money


def sign(secret_key: str, method: str, url: str, body: str, timestamp: str) -> str:
    """hex(HMAC-SHA256(secret, METHOD\\nURL\\nBODY\\nTIMESTAMP)) over the full URL as sent."""
    message = "\n".join([method.upper(), url, body, timestamp]).encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def to_cents(price: Decimal | int | str) -> int:
    """An amount in integer cents, exactly: Decimal("19.99") -> 1999 (half-up past 2 places)."""
    try:
        amount = price if isinstance(price, Decimal) else Decimal(str(price))
        return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except InvalidOperation as exc:
        raise PermanentError(f"price {price!r} is not a number", marketplace=MARKETPLACE) from exc


def offer_storefront(offer: Offer, default: str) -> str:
    return str(offer.attributes.get("storefront") or default).lower()


def offer_ean(offer: Offer) -> str | None:
    value = offer.ean or offer.attributes.get("ean")
    return str(value).strip() if value else None


def unit_condition(offer: Offer) -> str:
    key = offer.condition.strip().lower().replace(" ", "_").replace("-", "_")
    return _CONDITIONS.get(key, offer.condition.upper())


def description_html(description: str, bullets: Sequence[str] = ()) -> str:
    """Kaufland takes HTML descriptions: the allowed tags only, plain text as paragraphs."""
    return common.description_html(description, bullets, tags=_DESCRIPTION_TAGS, heading="h3")


def _values(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple | set | frozenset):
        return [str(v) for v in value if v is not None and str(v) != ""]
    return [str(value)] if str(value) != "" else []


def product_attributes(offer: Offer) -> dict[str, list[str]]:
    """Product data attributes, every value a list of strings (Kaufland's shape)."""
    attributes: dict[str, list[str]] = {
        "title": [offer.title],
        "description": [description_html(offer.description, offer.bullets)],
        "picture": list(offer.images),
        "manufacturer": _values(offer.brand),
        "category": _values(offer.category),
    }
    for name, value in (offer.attributes.get("product_attributes") or {}).items():
        attributes[str(name)] = _values(value)
    return {name: values for name, values in attributes.items() if values}


def product_data_body(offer: Offer) -> dict[str, Any]:
    """The `PUT /product-data` body: `{"ean": [ean], "attributes": {name: [values]}}`."""
    return {"ean": [offer_ean(offer) or ""], "attributes": product_attributes(offer)}


def unit_body(offer: Offer, *, handling_time: int = DEFAULT_HANDLING_TIME) -> dict[str, Any]:
    """The `POST /units` body; prices in integer cents of the storefront's currency.

    `minimum_price` (repricing floor) is `attributes.minimum_price` or the listing price.
    """
    attrs = offer.attributes
    listing = to_cents(offer.price)
    minimum = to_cents(attrs["minimum_price"]) if attrs.get("minimum_price") else listing
    body: dict[str, Any] = {
        "ean": offer_ean(offer),
        "condition": unit_condition(offer),
        "listing_price": listing,
        "minimum_price": minimum,
        "amount": int(offer.quantity),
        "id_offer": offer.sku,
        "handling_time": int(attrs.get("handling_time", handling_time)),
    }
    for key in _UNIT_OPTIONAL:
        if attrs.get(key) is not None:
            body[key] = attrs[key]
    return body


def patch_body(unit: Mapping[str, Any]) -> dict[str, Any]:
    """The writable fields of a unit (PATCH /units/{id_unit})."""
    keys = ("amount", "listing_price", "minimum_price", "handling_time", *_UNIT_OPTIONAL)
    return {key: unit[key] for key in keys if key in unit}


def _valid_ean(ean: str) -> bool:
    if not ean.isdigit() or len(ean) not in (8, 12, 13, 14):
        return False
    digits = [int(c) for c in ean]
    check = digits.pop()
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10 == check


def local_issues(offer: Offer, storefront: str) -> list[Issue]:
    """What Kaufland would refuse, checked without a call (dry runs, before sending)."""
    issues: list[Issue] = []
    ean = offer_ean(offer)
    if not ean:
        issues.append(
            Issue(
                "kaufland.ean_missing",
                "attributes.ean",
                Severity.ERROR,
                "Kaufland needs the product's EAN.",
            )
        )
    elif not _valid_ean(ean):
        issues.append(
            Issue(
                "kaufland.ean_invalid",
                "attributes.ean",
                Severity.ERROR,
                f"{ean} is not a valid EAN.",
            )
        )
    spec = STOREFRONTS.get(storefront)
    if spec is None:
        issues.append(
            Issue(
                "kaufland.storefront",
                "attributes.storefront",
                Severity.ERROR,
                f"Unknown Kaufland storefront {storefront!r}.",
            )
        )
        return issues
    currency, _, largest = spec
    if offer.currency.upper() != currency:
        issues.append(
            Issue(
                "kaufland.currency",
                "price",
                Severity.ERROR,
                f"Kaufland {storefront} sells in {currency}, not {offer.currency}.",
            )
        )
    cents = to_cents(offer.price)
    if cents < 1:
        issues.append(
            Issue("kaufland.price_min", "price", Severity.ERROR, "The price must be at least 0.01.")
        )
    elif largest is not None and cents > largest:
        issues.append(
            Issue(
                "kaufland.price_max",
                "price",
                Severity.ERROR,
                f"The price is above Kaufland's largest ({largest // 100} {currency}).",
            )
        )
    return issues


# ------------------------------------------------------------------------------ error mapping

_FIELDS = {
    "listing_price": "price",
    "minimum_price": "price",
    "price": "price",
    "amount": "quantity",
    "ean": "attributes.ean",
    "id_offer": "sku",
    "title": "title",
    "description": "description",
    "picture": "images",
    "manufacturer": "brand",
    "category": "category",
    "condition": "condition",
    "storefront": "attributes.storefront",
}


def field_for(name: str | None) -> str:
    if not name:
        return "offer"
    key = name.removeprefix("attributes.").split("[", 1)[0].split(".", 1)[0]
    return _FIELDS.get(key, f"attributes.{key}")


def issues_from(body: Any, status: int | None = None) -> list[Issue]:
    """Kaufland's error body (shape [U]: `message` plus `errors` as a list or a mapping)."""
    issues: list[Issue] = []
    if not isinstance(body, dict):
        return issues
    errors = body.get("errors")
    if isinstance(errors, dict):
        errors = [{"field": k, "message": m} for k, v in errors.items() for m in _values(v)]
    for error in errors or []:
        if isinstance(error, str):
            issues.append(Issue("kaufland.invalid", "offer", Severity.ERROR, error))
            continue
        if not isinstance(error, dict):
            continue
        name = error.get("field") or error.get("property") or error.get("path") or error.get("name")
        message = error.get("message") or error.get("reason") or error.get("detail") or "invalid"
        code = error.get("code") or error.get("type") or "invalid"
        issues.append(Issue(f"kaufland.{code}", field_for(name), Severity.ERROR, str(message)))
    if not issues and (body.get("message") or body.get("error")):
        text = str(body.get("message") or body.get("error"))
        issues.append(Issue(f"kaufland.http_{status or 'error'}", "offer", Severity.ERROR, text))
    return issues


def error_text(response: httpx.Response) -> str:
    issues = issues_from(response_json(response), response.status_code)
    return "; ".join(i.message for i in issues) if issues else response.text[:300]


# ------------------------------------------------------------------------------ the CSV file


def export_file(offers: Sequence[Offer], **options: Any) -> bytes:
    """Kaufland's product-data CSV: comma-separated, one header row, UTF-8 by default (Kaufland
    names no encoding; `encoding="utf-8-sig"` adds the BOM Excel wants to show umlauts).

    Columns: `ean` (digits only, never quoted or in exponent form, so it reads as a number with
    no decimals), then the product attributes (title, description, manufacturer, category,
    picture and any `attributes.product_attributes`); an attribute with several values repeats
    its column under the same header. With `offer_columns=True` (default) the inventory-feed
    columns follow: id_offer, price (integer cents), currency, condition (100 new ... 500),
    amount, handling_time. Options: `storefront` (default "de"), `encoding` ("utf-8"),
    `offer_columns`, `handling_time`. Offers without an EAN cannot be imported: ValueError.
    """
    storefront = str(options.get("storefront", "de")).lower()
    encoding = str(options.get("encoding", "utf-8"))
    with_offer = bool(options.get("offer_columns", True))
    handling = int(options.get("handling_time", DEFAULT_HANDLING_TIME))
    missing = [offer.sku for offer in offers if not offer_ean(offer)]
    if missing:
        raise ValueError(f"Kaufland needs an EAN for every product; missing for {missing[:10]}")
    rows = [product_attributes(offer) for offer in offers]
    # Column order: the mandatory attributes first, then others as they first appear.
    order = ["title", "description", "manufacturer", "category", "picture"]
    for row in rows:
        order += [name for name in row if name not in order]
    widths = {name: max((len(row.get(name, [])) for row in rows), default=0) for name in order}
    columns = [name for name in order if widths[name]]
    header = ["ean"] + [name for name in columns for _ in range(widths[name])]
    offer_header = ["id_offer", "price", "currency", "condition", "amount", "handling_time"]
    if with_offer:
        header += offer_header
    out = io.StringIO()
    writer = csv.writer(out, delimiter=",", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(header)
    for offer, row in zip(offers, rows, strict=True):
        line = [offer_ean(offer) or ""]
        for name in columns:
            values = row.get(name, [])
            line += values + [""] * (widths[name] - len(values))
        if with_offer:
            currency = STOREFRONTS.get(storefront, (offer.currency,))[0]
            line += [
                offer.sku,
                str(to_cents(offer.price)),
                currency,
                _FILE_CONDITIONS.get(unit_condition(offer), "100"),
                str(int(offer.quantity)),
                str(int(offer.attributes.get("handling_time", handling))),
            ]
        writer.writerow(line)
    return out.getvalue().encode(encoding)
