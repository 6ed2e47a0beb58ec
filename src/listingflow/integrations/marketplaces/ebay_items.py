"""The eBay Inventory API documents: an Offer as an inventory item and as offer details, eBay's
errors and warnings as our Issues, and the bulk inventory file (`export_file`).

No I/O: ebay.py sends these. The export is one bulkCreateOrReplaceInventoryItem request body with
every item, so it needs no credentials.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from listingflow.integrations.marketplaces.base import Issue, Offer, Severity

EXPORT_FILENAME = "ebay-bulk-inventory-items.json"
EXPORT_MEDIA_TYPE = "application/json"
TITLE_MAX = 80
OFFER_EXISTS = 25002  # "Offer entity already exists" (eBay uses 25002 for other user errors too)
NOT_AVAILABLE = 25713  # "This Offer is not available"


@dataclass(frozen=True, slots=True)
class EbayMarketplace:
    id: str  # MarketplaceEnum: EBAY_DE
    content_language: str  # the Content-Language header: de-DE
    currency: str

    @property
    def locale(self) -> str:
        """The per-item `locale` of bulk bodies (LocaleEnum, an underscore): de_DE."""
        return self.content_language.replace("-", "_")


MARKETPLACES: dict[str, EbayMarketplace] = {
    m.id: m
    for m in (
        EbayMarketplace("EBAY_US", "en-US", "USD"),
        EbayMarketplace("EBAY_GB", "en-GB", "GBP"),
        EbayMarketplace("EBAY_DE", "de-DE", "EUR"),
        EbayMarketplace("EBAY_AT", "de-AT", "EUR"),
        EbayMarketplace("EBAY_CH", "de-CH", "CHF"),
        EbayMarketplace("EBAY_FR", "fr-FR", "EUR"),
        EbayMarketplace("EBAY_IT", "it-IT", "EUR"),
        EbayMarketplace("EBAY_ES", "es-ES", "EUR"),
        EbayMarketplace("EBAY_NL", "nl-NL", "EUR"),
        EbayMarketplace("EBAY_BE", "nl-BE", "EUR"),
        EbayMarketplace("EBAY_IE", "en-IE", "EUR"),
        EbayMarketplace("EBAY_PL", "pl-PL", "PLN"),
        EbayMarketplace("EBAY_AU", "en-AU", "AUD"),
        EbayMarketplace("EBAY_CA", "en-CA", "CAD"),
    )
}

CONDITIONS = {
    "new": "NEW",
    "new_other": "NEW_OTHER",
    "used": "USED_EXCELLENT",
    "used_like_new": "LIKE_NEW",
    "used_very_good": "USED_VERY_GOOD",
    "used_good": "USED_GOOD",
    "used_acceptable": "USED_ACCEPTABLE",
    "refurbished": "SELLER_REFURBISHED",
    "for_parts": "FOR_PARTS_OR_NOT_WORKING",
}


def resolve_marketplace(value: str) -> EbayMarketplace:
    key = value.strip().upper()
    if not key.startswith("EBAY_"):
        key = f"EBAY_{key.replace('UK', 'GB')}"
    found = MARKETPLACES.get(key)
    if found is None:
        raise ValueError(f"marketplace_id '{value}' is not one of {', '.join(MARKETPLACES)}")
    return found


# -- bodies ----------------------------------------------------------------------------------


def money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def description_html(offer: Offer) -> str:
    """The description as eBay shows it: HTML as given, plain text as escaped paragraphs with
    the bullets as a list."""
    text = offer.description or ""
    if "<" in text and ">" in text:
        body = text
    else:
        paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
        body = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    if offer.bullets and "<ul" not in body:
        items = "".join(f"<li>{html.escape(b)}</li>" for b in offer.bullets)
        body += f"<ul>{items}</ul>"
    return body


def inventory_item(offer: Offer, m: EbayMarketplace) -> dict[str, Any]:
    """An InventoryItemWithSkuLocale (one entry of bulkCreateOrReplaceInventoryItem)."""
    aspects: dict[str, list[str]] = {}
    for name, value in (offer.attributes.get("aspects") or {}).items():
        aspects[str(name)] = (
            [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
        )
    if offer.brand and "Brand" not in aspects:
        aspects["Brand"] = [offer.brand]
    product: dict[str, Any] = {"title": offer.title, "description": description_html(offer)}
    if aspects:
        product["aspects"] = aspects
    if offer.brand:
        product["brand"] = offer.brand
    if offer.attributes.get("mpn"):
        product["mpn"] = str(offer.attributes["mpn"])
    if offer.ean:
        product["ean"] = [offer.ean]
    if offer.images:
        product["imageUrls"] = list(offer.images[:24])
    return {
        "sku": offer.sku,
        "locale": m.locale,
        "product": product,
        "condition": CONDITIONS.get(offer.condition.lower(), offer.condition.upper()),
        "availability": {"shipToLocationAvailability": {"quantity": max(0, offer.quantity)}},
    }


@dataclass(frozen=True, slots=True)
class SellerSetup:
    """What a connection fixes for every offer: where it ships from and its business policies."""

    merchant_location_key: str
    payment_policy_id: str
    return_policy_id: str
    fulfillment_policy_id: str


def offer_details(offer: Offer, m: EbayMarketplace, setup: SellerSetup) -> dict[str, Any]:
    """The offer fields shared by createOffer and updateOffer."""
    category = offer.attributes.get("category_id") or offer.category
    body: dict[str, Any] = {
        "availableQuantity": max(0, offer.quantity),
        "listingDescription": description_html(offer),
        "merchantLocationKey": setup.merchant_location_key,
        "listingPolicies": {
            "fulfillmentPolicyId": setup.fulfillment_policy_id,
            "paymentPolicyId": setup.payment_policy_id,
            "returnPolicyId": setup.return_policy_id,
        },
        "pricingSummary": {
            "price": {"value": money(offer.price), "currency": offer.currency or m.currency}
        },
    }
    if category:
        body["categoryId"] = str(category)
    return body


def create_offer_body(offer: Offer, m: EbayMarketplace, setup: SellerSetup) -> dict[str, Any]:
    return {
        "sku": offer.sku,
        "marketplaceId": m.id,
        "format": "FIXED_PRICE",
        **offer_details(offer, m, setup),
    }


def export_file(offers: Sequence[Offer], *, marketplace_id: str = "EBAY_US") -> bytes:
    """Every offer's inventory item as one bulkCreateOrReplaceInventoryItem request body
    ({"requests": [...]}); a sender splits it into calls of 25."""
    m = resolve_marketplace(marketplace_id)
    document = {"requests": [inventory_item(offer, m) for offer in offers]}
    return json.dumps(document, ensure_ascii=False, indent=2).encode()


# -- answers ---------------------------------------------------------------------------------

_FIELD_WORDS = (
    ("title", "title"),
    ("description", "description"),
    ("photo", "images"),
    ("image", "images"),
    ("picture", "images"),
    ("price", "price"),
    ("quantity", "quantity"),
    ("item specific", "attributes.aspects"),
    ("aspect", "attributes.aspects"),
    ("category", "category"),
    ("ean", "ean"),
    ("upc", "ean"),
    ("product identifier", "ean"),
    ("condition", "condition"),
    ("brand", "brand"),
    ("sku", "sku"),
    ("policy", "connection.policies"),
    ("location", "connection.merchant_location_key"),
)


def _field_for(error: Mapping[str, Any]) -> str:
    parameters = " ".join(str(p.get("value", "")) for p in error.get("parameters") or [])
    text = f"{error.get('message', '')} {error.get('longMessage', '')} {parameters}".lower()
    for word, name in _FIELD_WORDS:
        if word in text:
            return name
    return "listing"


def issues_from(answer: Mapping[str, Any] | None) -> list[Issue]:
    """eBay's errors and warnings (ErrorDetailV3) as Issues."""
    issues = []
    for key, severity in (("errors", Severity.ERROR), ("warnings", Severity.WARNING)):
        for error in (answer or {}).get(key) or []:
            issues.append(
                Issue(
                    code=f"ebay.{error.get('errorId', 'error')}",
                    field=_field_for(error),
                    severity=severity,
                    message=str(
                        error.get("longMessage") or error.get("message") or "eBay refused this."
                    ),
                )
            )
    return issues


def existing_offer_id(errors: Sequence[Mapping[str, Any]]) -> str | None:
    """The offer id eBay names when it refuses a second offer for a SKU ("" if not named)."""
    for error in errors:
        text = f"{error.get('message', '')} {error.get('longMessage', '')}".lower()
        if error.get("errorId") == OFFER_EXISTS and "already exists" in text:
            for parameter in error.get("parameters") or []:
                if parameter.get("name") == "offerId" and parameter.get("value"):
                    return str(parameter["value"])
            return ""
    return None


def publish_requirements(offer: Offer) -> list[Issue]:
    """What publishing needs that an Offer alone can show: a title within 80 characters, an
    https photo, a price and a category (the connection supplies location and policies)."""
    issues = []

    def need(ok: bool, code: str, field: str, message: str) -> None:
        if not ok:
            issues.append(Issue(f"ebay.{code}", field, Severity.ERROR, message))

    need(bool(offer.title.strip()), "title.missing", "title", "A title is required.")
    need(
        len(offer.title) <= TITLE_MAX,
        "title.too_long",
        "title",
        f"Title is {len(offer.title)} characters; eBay allows {TITLE_MAX}.",
    )
    need(bool(offer.images), "images.missing", "images", "eBay needs at least one photo.")
    need(
        all(url.startswith("https://") for url in offer.images),
        "images.not_https",
        "images",
        "eBay takes photos from https:// addresses only.",
    )
    need(offer.price > 0, "price.missing", "price", "A price above zero is required.")
    need(
        bool(offer.attributes.get("category_id") or offer.category),
        "category.missing",
        "category",
        "An eBay category id is required.",
    )
    return issues
