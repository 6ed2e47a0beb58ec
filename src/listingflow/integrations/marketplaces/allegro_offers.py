"""Allegro offer payloads: the `POST /sale/product-offers` body built from an Offer, the offer
JSON bulk file, and Allegro's `errors[]` mapped to Issues that name our fields.

Pure functions (no I/O), shared by the client (allegro.py) and the export.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import httpx

from listingflow.integrations.marketplaces import common
from listingflow.integrations.marketplaces.base import Issue, Offer, PermanentError, Severity
from listingflow.integrations.marketplaces.common import response_json
from listingflow.rules.rulebooks import RULEBOOKS

MARKETPLACE = "allegro"

EXPORT_FILENAME = "allegro-offers.json"
EXPORT_MEDIA_TYPE = "application/json"

_CONDITION_PARAMETER = "11323"  # "Stan": 11323_1 new, 11323_2 used
_CONDITION_VALUES = {"new": "11323_1", "used": "11323_2"}
# Offer fields a seller's settings supply as they are (shipping rates, policies, location ...).
_PASSTHROUGH = (
    "delivery",
    "afterSalesServices",
    "location",
    "payments",
    "taxSettings",
    "discounts",
    "sizeTable",
    "contacts",
    "additionalServices",
    "b2b",
)
_DESCRIPTION_TAGS = RULEBOOKS["allegro"].description_tags


# ------------------------------------------------------------------------------ offer payloads


def money(value: Decimal) -> str:
    try:
        return str(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    except InvalidOperation as exc:
        raise PermanentError(f"price {value!r} is not a number", marketplace=MARKETPLACE) from exc


def description_html(description: str, bullets: Sequence[str] = ()) -> str:
    """The description as Allegro section HTML: only its allowed tags, bullets as a list."""
    return common.description_html(description, bullets, tags=_DESCRIPTION_TAGS, heading="h2")


def _category_id(offer: Offer) -> str | None:
    value = offer.attributes.get("category_id") or offer.category
    return str(value) if value else None


def offer_body(offer: Offer, *, publish: bool = True) -> dict[str, Any]:
    """The `POST /sale/product-offers` body for one Offer.

    The product goes in `productSet`: a known Allegro product id (`attributes.product_id`), or
    the EAN as a GTIN to match, with name, category, parameters and images to propose the
    product when the catalogue lacks it. Offer parameters come from `attributes.parameters`
    (the condition parameter is added from `offer.condition`), policies and shipping rates from
    the pass-through attributes (`delivery`, `afterSalesServices`, `location`, `payments` ...).
    """
    attrs = offer.attributes
    category = _category_id(offer)
    product: dict[str, Any] = {}
    if attrs.get("product_id"):
        product["id"] = str(attrs["product_id"])
    else:
        if offer.ean:
            product["id"] = offer.ean
            product["idType"] = "GTIN"
        product["name"] = offer.title
        if category:
            product["category"] = {"id": category}
        product_parameters = list(attrs.get("product_parameters") or [])
        if product_parameters:
            product["parameters"] = product_parameters
        if offer.images:
            product["images"] = list(offer.images)
    parameters = [dict(p) for p in attrs.get("parameters") or []]
    condition = _CONDITION_VALUES.get(offer.condition.lower())
    if condition and not any(str(p.get("id")) == _CONDITION_PARAMETER for p in parameters):
        parameters.append({"id": _CONDITION_PARAMETER, "valuesIds": [condition]})
    body: dict[str, Any] = {
        "name": offer.title,
        "productSet": [{"product": product}],
    }
    if category:
        body["category"] = {"id": category}
    if parameters:
        body["parameters"] = parameters
    body["sellingMode"] = {
        "format": "BUY_NOW",
        "price": {"amount": money(offer.price), "currency": offer.currency},
    }
    body["stock"] = {"available": int(offer.quantity), "unit": "UNIT"}
    if offer.images:
        body["images"] = list(offer.images)
    body["description"] = {
        "sections": [
            {
                "items": [
                    {"type": "TEXT", "content": description_html(offer.description, offer.bullets)}
                ]
            }
        ]
    }
    for key in _PASSTHROUGH:
        if attrs.get(key) is not None:
            body[key] = attrs[key]
    if offer.language:
        body["language"] = (
            offer.language
            if "-" in offer.language
            else _LANGUAGES.get(offer.language, offer.language)
        )
    body["external"] = {"id": offer.sku}
    body["publication"] = {"status": "ACTIVE" if publish else "INACTIVE"}
    return body


_LANGUAGES = {"pl": "pl-PL", "en": "en-US", "de": "de-DE", "cs": "cs-CZ", "sk": "sk-SK"}


def export_file(offers: Sequence[Offer], **options: Any) -> bytes:
    """A JSON array of `POST /sale/product-offers` bodies, one per offer, UTF-8.

    Options: `publish` (default True; False writes drafts with publication INACTIVE).
    """
    bodies = [offer_body(offer, publish=bool(options.get("publish", True))) for offer in offers]
    return json.dumps(bodies, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


# ------------------------------------------------------------------------------ error mapping

_FIELDS = (
    ("name", "title"),
    ("productSet", "attributes.product"),
    ("sellingMode.price", "price"),
    ("sellingMode", "price"),
    ("stock", "quantity"),
    ("description", "description"),
    ("images", "images"),
    ("category", "category"),
    ("parameters", "attributes.parameters"),
    ("external", "sku"),
)


def field_for(path: str | None) -> str:
    """Our field name for an Allegro error path ("sellingMode.price.amount" -> "price")."""
    if not path:
        return "offer"
    if path.startswith("productSet"):
        rest = path.split(".product", 1)[1].lstrip(".") if ".product" in path else ""
        if rest.startswith("name"):
            return "title"
        if rest.startswith("images"):
            return "images"
        if rest.startswith("category"):
            return "category"
        if rest.startswith(("id", "idType")):
            return "attributes.ean"
        if rest.startswith("parameters"):
            return "attributes.product_parameters"
        return "attributes.product"
    for prefix, name in _FIELDS:
        if path == prefix or path.startswith((f"{prefix}.", f"{prefix}[")):
            return name
    return f"attributes.{path}"


def issues_from(body: Any, *, severity: Severity = Severity.ERROR) -> list[Issue]:
    """Allegro's `errors[]` (code, message, userMessage, path) as Issues for the seller."""
    errors = body.get("errors") if isinstance(body, dict) else None
    issues: list[Issue] = []
    for error in errors or []:
        if not isinstance(error, dict):
            continue
        code = str(error.get("code") or "error")
        message = str(error.get("userMessage") or error.get("message") or code)
        issues.append(Issue(f"allegro.{code}", field_for(error.get("path")), severity, message))
    return issues


def error_text(response: httpx.Response) -> str:
    body = response_json(response)
    issues = issues_from(body)
    if issues:
        return "; ".join(i.message for i in issues)
    if isinstance(body, dict) and body.get("error"):
        return str(body.get("error_description") or body["error"])
    return response.text[:300]


def local_issues(offer: Offer) -> list[Issue]:
    """What the offer body cannot do without (a dry run does not call Allegro)."""
    issues: list[Issue] = []
    if not _category_id(offer) and not offer.attributes.get("product_id"):
        issues.append(
            Issue(
                "allegro.category_missing",
                "category",
                Severity.ERROR,
                "Allegro needs a category id for the offer.",
            )
        )
    if offer.price <= 0:
        issues.append(Issue("allegro.price", "price", Severity.ERROR, "The price must be above 0."))
    if not offer.images:
        issues.append(
            Issue(
                "allegro.images_missing",
                "images",
                Severity.ERROR,
                "Allegro needs at least one image.",
            )
        )
    return issues
