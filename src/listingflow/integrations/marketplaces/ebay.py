"""The eBay Sell Inventory API client: inventory items, offers and listings in bulk calls of 25,
with a user access token refreshed from the connection's refresh token.

Publishing is three bulk calls: createOrReplace the inventory items (keyed by SKU, so repeating
is safe), create the offers (or update the SKU's existing offer: eBay allows one offer per SKU,
marketplace and format, and refuses a second with "Offer entity already exists"), publish them.
Every item keeps its own outcome: eBay answers bulk calls per item with a statusCode.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import structlog

from listingflow.integrations.marketplaces.base import (
    ConnectionBrokenError,
    Issue,
    Offer,
    PermanentError,
    PublishResult,
    PublishStatus,
    Severity,
    TokenStore,
)
from listingflow.integrations.marketplaces.http import (
    AccessTokenCache,
    MarketplaceHTTP,
)

__all__ = [
    "CREDENTIAL_FIELDS",
    "EXPORT_FILENAME",
    "EXPORT_MEDIA_TYPE",
    "SECRET_FIELDS",
    "EbayClient",
    "create_client",
    "export_file",
]

log = structlog.get_logger()

MARKETPLACE = "ebay"
CREDENTIAL_FIELDS: tuple[str, ...] = (
    "client_id",
    "client_secret",
    "refresh_token",
    "marketplace_id",  # EBAY_DE, EBAY_US, ...
    "merchant_location_key",
    "payment_policy_id",
    "return_policy_id",
    "fulfillment_policy_id",
)
SECRET_FIELDS: tuple[str, ...] = ("client_secret", "refresh_token")
EXPORT_FILENAME = "ebay-bulk-inventory-items.json"
EXPORT_MEDIA_TYPE = "application/json"

API_URL = "https://api.ebay.com/sell/inventory/v1"
SANDBOX_API_URL = "https://api.sandbox.ebay.com/sell/inventory/v1"
TOKEN_URL = "https://api.ebay.com/identity/v1/oauth2/token"  # noqa: S105 (a URL)
SANDBOX_TOKEN_URL = "https://api.sandbox.ebay.com/identity/v1/oauth2/token"  # noqa: S105
SCOPES = ("https://api.ebay.com/oauth/api_scope/sell.inventory",)
BULK_LIMIT = 25
# eBay's Inventory quota is a daily call count per app (about 2,000,000 commonly cited), no
# per-second plan is published: pace each account evenly well inside it.
DEFAULT_RATE = 10.0
TITLE_MAX = 80
OFFER_EXISTS = 25002
NOT_AVAILABLE = 25713


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


def _money(value: Decimal) -> str:
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
            "price": {"value": _money(offer.price), "currency": offer.currency or m.currency}
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


def _json(response: httpx.Response) -> Any:
    try:
        return response.json() if response.content else {}
    except ValueError:
        return None


def _ok(status: Any) -> bool:
    return isinstance(status, int) and 200 <= status < 300


def _existing_offer_id(errors: Sequence[Mapping[str, Any]]) -> str | None:
    """The offer id eBay names when it refuses a second offer for a SKU ("" if not named)."""
    for error in errors:
        text = f"{error.get('message', '')} {error.get('longMessage', '')}".lower()
        if error.get("errorId") == OFFER_EXISTS and "already exists" in text:
            for parameter in error.get("parameters") or []:
                if parameter.get("name") == "offerId" and parameter.get("value"):
                    return str(parameter["value"])
            return ""
    return None


class EbayClient:
    """One seller account on one eBay marketplace."""

    marketplace = MARKETPLACE
    batch_size = BULK_LIMIT

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        market: EbayMarketplace,
        setup: SellerSetup,
        token_store: TokenStore,
        base_url: str,
        auth_url: str,
        scopes: Sequence[str] = SCOPES,
        rate: float = DEFAULT_RATE,
        http_client: httpx.AsyncClient | None = None,
        attempts: int = 5,
        backoff: float = 0.5,
    ) -> None:
        self.market = market
        self.setup = setup
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._scopes = " ".join(scopes)
        self._auth_url = auth_url
        self.http = MarketplaceHTTP(
            MARKETPLACE,
            base_url,
            rate=rate,
            burst=max(1, int(rate)),
            client=http_client,
            attempts=attempts,
            backoff=backoff,
        )
        account = hashlib.sha256(f"{client_id}\0{refresh_token}".encode()).hexdigest()[:24]
        self.tokens = AccessTokenCache(token_store, f"ebay:{account}:access", self._exchange)
        self._offer_ids: dict[str, str] = {}  # sku -> offerId learned from eBay

    # -- auth --------------------------------------------------------------------------------

    async def _exchange(self) -> tuple[str, float]:
        """OAuth refresh_token grant with the app's Basic credentials and the same scopes."""
        basic = base64.b64encode(f"{self._client_id}:{self._client_secret}".encode()).decode()
        form = urlencode(
            {
                "grant_type": "refresh_token",
                "refresh_token": self._refresh_token,
                "scope": self._scopes,
            }
        ).encode()
        response = await self.http.request(
            "POST",
            self._auth_url,
            content=form,
            headers={
                "Authorization": f"Basic {basic}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            rate_limited=False,
        )
        body = _json(response)
        if response.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
            log.info("ebay.token_exchanged", marketplace_id=self.market.id)
            return str(body["access_token"]), float(body.get("expires_in") or 7200)
        error = body.get("error") if isinstance(body, dict) else None
        detail = body.get("error_description") if isinstance(body, dict) else None
        if error in ("invalid_grant", "invalid_client", "unauthorized_client", "invalid_scope"):
            log.warning("ebay.connection_broken", error=error)
            raise ConnectionBrokenError(MARKETPLACE, str(detail or error))
        raise PermanentError(
            f"eBay refused the token request ({response.status_code}: {error or 'no code'})",
            marketplace=MARKETPLACE,
            status=response.status_code,
        )

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        used: list[str] = []

        async def auth(request: httpx.Request) -> None:
            token = await self.tokens.get()
            used.append(token)
            request.headers["Authorization"] = f"Bearer {token}"

        async def refresh() -> None:
            await self.tokens.refresh(used[-1] if used else None)

        response = await self.http.request(
            method,
            path,
            json_body=json_body,
            params=params,
            headers={
                "Accept": "application/json",
                "Content-Language": self.market.content_language,
            },
            auth=auth,
            on_unauthorized=refresh,
        )
        if response.status_code in (401, 403):
            body = _json(response)
            raise PermanentError(
                "; ".join(i.message for i in issues_from(body))
                or f"eBay refused access ({response.status_code})",
                marketplace=MARKETPLACE,
                status=response.status_code,
                issues=issues_from(body),
            )
        return response

    def _refused(self, response: httpx.Response, operation: str) -> PermanentError:
        body = _json(response)
        issues = issues_from(body if isinstance(body, dict) else None)
        text = "; ".join(i.message for i in issues) or "no error text"
        return PermanentError(
            f"eBay {operation} answered {response.status_code}: {text}",
            marketplace=MARKETPLACE,
            status=response.status_code,
            issues=issues,
        )

    async def _bulk(self, path: str, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A bulk call; its per-item answers (200 when all passed, 207 when some failed)."""
        response = await self._call("POST", path, json_body={"requests": requests})
        body = _json(response)
        if response.status_code in (200, 207) and isinstance(body, dict):
            return list(body.get("responses") or [])
        raise self._refused(response, path)

    # -- publishing --------------------------------------------------------------------------

    async def publish(self, offer: Offer, *, dry_run: bool = False) -> PublishResult:
        if dry_run:
            return self.check_offer(offer)
        return (await self.publish_many([offer]))[0]

    def check_offer(self, offer: Offer) -> PublishResult:
        """A dry run: the Inventory API has no validation-only call, so check locally what
        publishing needs (eBay's own checks still run on publish)."""
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
        status = PublishStatus.REJECTED if issues else PublishStatus.VALID
        return PublishResult(
            offer.sku, status, issues=issues, request_summary={"dry_run": True, "calls": 0}
        )

    async def publish_many(self, offers: Sequence[Offer]) -> list[PublishResult]:
        results: list[PublishResult] = []
        for start in range(0, len(offers), BULK_LIMIT):
            results += await self._publish_chunk(offers[start : start + BULK_LIMIT])
        return results

    async def _publish_chunk(self, offers: Sequence[Offer]) -> list[PublishResult]:
        skus = [o.sku for o in offers]
        if len(set(skus)) != len(skus):
            raise ValueError("a bulk call may name each SKU once")
        results: dict[str, PublishResult] = {}
        warnings: dict[str, list[Issue]] = {sku: [] for sku in skus}

        def fail(sku: str, step: str, answer: Mapping[str, Any], status: Any) -> None:
            results[sku] = PublishResult(
                sku,
                PublishStatus.REJECTED,
                issues=warnings[sku] + issues_from(answer),
                http_status=status if isinstance(status, int) else None,
                request_summary={"step": step, "marketplaceId": self.market.id},
            )

        # 1. inventory items (createOrReplace: keyed by SKU, safe to repeat)
        answers = await self._bulk(
            "/bulk_create_or_replace_inventory_item",
            [inventory_item(o, self.market) for o in offers],
        )
        for answer in answers:
            sku = str(answer.get("sku"))
            if sku not in warnings:
                continue
            if _ok(answer.get("statusCode")):
                warnings[sku] += issues_from({"warnings": answer.get("warnings")})
            else:
                fail(sku, "inventory_item", answer, answer.get("statusCode"))
        for sku in skus:
            if sku not in results and not any(str(a.get("sku")) == sku for a in answers):
                fail(sku, "inventory_item", {"errors": [{"message": "eBay did not answer."}]}, None)

        # 2. one offer per SKU: update the known one, create the others
        pending = [o for o in offers if o.sku not in results]
        offer_ids: dict[str, str] = {}
        to_create: list[Offer] = []
        for offer in pending:
            known = offer.remote_id or self._offer_ids.get(offer.sku)
            if known:
                offer_ids[offer.sku] = known
            else:
                to_create.append(offer)
        existing: dict[str, str] = {}
        if to_create:
            answers = await self._bulk(
                "/bulk_create_offer",
                [create_offer_body(o, self.market, self.setup) for o in to_create],
            )
            by_sku = {str(a.get("sku")): a for a in answers}
            for offer in to_create:
                answer = by_sku.get(offer.sku, {})
                if _ok(answer.get("statusCode")) and answer.get("offerId"):
                    offer_ids[offer.sku] = str(answer["offerId"])
                    warnings[offer.sku] += issues_from({"warnings": answer.get("warnings")})
                    continue
                named = _existing_offer_id(answer.get("errors") or [])
                if named is None:
                    fail(offer.sku, "offer", answer, answer.get("statusCode"))
                else:
                    existing[offer.sku] = named or await self._find_offer_id(offer.sku) or ""
        updates = [
            o for o in pending if o.sku in existing or (o.sku in offer_ids and o not in to_create)
        ]
        outcomes = await asyncio.gather(
            *(self._update_offer(o, existing.get(o.sku) or offer_ids[o.sku]) for o in updates)
        )
        for offer, (offer_id, answer, status) in zip(updates, outcomes, strict=True):
            if offer_id is None:
                offer_ids.pop(offer.sku, None)
                fail(offer.sku, "offer", answer, status)
            else:
                offer_ids[offer.sku] = offer_id
                warnings[offer.sku] += issues_from({"warnings": answer.get("warnings")})
        for sku, offer_id in offer_ids.items():
            self._offer_ids[sku] = offer_id

        # 3. publish every offer we have
        publish = [o.sku for o in offers if o.sku in offer_ids and o.sku not in results]
        if publish:
            answers = await self._bulk(
                "/bulk_publish_offer", [{"offerId": offer_ids[sku]} for sku in publish]
            )
            by_offer = {str(a.get("offerId")): a for a in answers}
            for sku in publish:
                answer = by_offer.get(offer_ids[sku], {})
                if _ok(answer.get("statusCode")) and answer.get("listingId"):
                    results[sku] = PublishResult(
                        sku,
                        PublishStatus.PUBLISHED,
                        remote_id=offer_ids[sku],
                        issues=warnings[sku] + issues_from({"warnings": answer.get("warnings")}),
                        http_status=answer.get("statusCode"),
                        request_summary={
                            "step": "publish",
                            "marketplaceId": self.market.id,
                            "offerId": offer_ids[sku],
                        },
                        remote_data={
                            "offer_id": offer_ids[sku],
                            "listing_id": str(answer["listingId"]),
                        },
                    )
                else:
                    fail(sku, "publish", answer, answer.get("statusCode"))
                    results[sku].remote_id = offer_ids[sku]
                    results[sku].remote_data = {"offer_id": offer_ids[sku]}
        log.info(
            "ebay.published",
            marketplace_id=self.market.id,
            offers=len(offers),
            published=sum(r.status is PublishStatus.PUBLISHED for r in results.values()),
        )
        return [results[sku] for sku in skus]

    async def _update_offer(
        self, offer: Offer, offer_id: str
    ) -> tuple[str | None, dict[str, Any], int | None]:
        """updateOffer (a full replace); a stale id is looked up again by SKU once."""
        for attempt in range(2):
            if not offer_id:
                offer_id = await self._find_offer_id(offer.sku) or ""
                if not offer_id:
                    break
            response = await self._call(
                "PUT",
                f"/offer/{quote(offer_id, safe='')}",
                json_body=offer_details(offer, self.market, self.setup),
            )
            body = _json(response)
            answer = body if isinstance(body, dict) else {}
            if response.status_code in (200, 201, 204):
                return offer_id, answer, response.status_code
            if response.status_code == 404 and attempt == 0:
                self._offer_ids.pop(offer.sku, None)
                offer_id = ""
                continue
            if response.status_code in (400, 404, 409, 422):
                return None, answer, response.status_code
            raise self._refused(response, "updateOffer")
        message = f"eBay has no offer for {offer.sku} although it refused to create one."
        return None, {"errors": [{"errorId": NOT_AVAILABLE, "message": message}]}, 404

    async def _offers_for(self, sku: str) -> list[dict[str, Any]]:
        response = await self._call(
            "GET", "/offer", params={"sku": sku, "marketplace_id": self.market.id}
        )
        if response.status_code == 404:
            return []
        body = _json(response)
        if response.status_code != 200 or not isinstance(body, dict):
            raise self._refused(response, "getOffers")
        return [
            o
            for o in body.get("offers") or []
            if o.get("marketplaceId") in (None, self.market.id) and o.get("sku") == sku
        ]

    async def _find_offer_id(self, sku: str) -> str | None:
        offers = await self._offers_for(sku)
        if offers and offers[0].get("offerId"):
            self._offer_ids[sku] = str(offers[0]["offerId"])
            return self._offer_ids[sku]
        return None

    # -- after publishing --------------------------------------------------------------------

    async def update_price_stock(
        self,
        sku: str,
        *,
        price: Decimal | None = None,
        quantity: int | None = None,
        currency: str | None = None,
    ) -> PublishResult:
        if price is None and quantity is None:
            raise ValueError("update_price_stock needs a price or a quantity")
        offers = await self._offers_for(sku)
        if not offers:
            return PublishResult(sku, PublishStatus.NOT_FOUND, http_status=404)
        offer_id = str(offers[0]["offerId"])
        change: dict[str, Any] = {"offerId": offer_id}
        request: dict[str, Any] = {"sku": sku, "offers": [change]}
        if quantity is not None:
            change["availableQuantity"] = max(0, quantity)
            request["shipToLocationAvailability"] = {"quantity": max(0, quantity)}
        if price is not None:
            change["price"] = {"value": _money(price), "currency": currency or self.market.currency}
        answers = await self._bulk("/bulk_update_price_quantity", [request])
        answer = next((a for a in answers if str(a.get("offerId")) == offer_id), {})
        published = offers[0].get("status") == "PUBLISHED"
        ok = _ok(answer.get("statusCode"))
        return PublishResult(
            sku,
            (PublishStatus.PUBLISHED if published else PublishStatus.ACCEPTED)
            if ok
            else PublishStatus.REJECTED,
            remote_id=offer_id,
            issues=issues_from(answer),
            http_status=answer.get("statusCode"),
            request_summary={"step": "bulkUpdatePriceQuantity", "offerId": offer_id},
        )

    async def withdraw(self, sku: str) -> PublishResult:
        offers = await self._offers_for(sku)
        if not offers:
            return PublishResult(sku, PublishStatus.NOT_FOUND, http_status=404)
        offer_id = str(offers[0]["offerId"])
        summary = {"step": "withdrawOffer", "offerId": offer_id}
        if offers[0].get("status") != "PUBLISHED":
            return PublishResult(
                sku, PublishStatus.WITHDRAWN, remote_id=offer_id, request_summary=summary
            )
        response = await self._call("POST", f"/offer/{quote(offer_id, safe='')}/withdraw")
        body = _json(response)
        if response.status_code != 200:
            raise self._refused(response, "withdrawOffer")
        return PublishResult(
            sku,
            PublishStatus.WITHDRAWN,
            remote_id=offer_id,
            issues=issues_from(body if isinstance(body, dict) else None),
            http_status=200,
            request_summary=summary,
            remote_data={"listing_id": (body or {}).get("listingId")},
        )

    async def remote_status(self, sku: str) -> PublishResult:
        offers = await self._offers_for(sku)
        if offers:
            offer = offers[0]
            offer_id = str(offer.get("offerId"))
            listing = offer.get("listing") or {}
            data = {"offer_id": offer_id, "listing_id": listing.get("listingId")}
            summary = {"step": "getOffers", "offerId": offer_id}
            issues: list[Issue] = []
            if offer.get("status") == "PUBLISHED":
                status = PublishStatus.PUBLISHED
            elif listing.get("listingId"):
                status = PublishStatus.WITHDRAWN
            else:
                status = PublishStatus.REJECTED
                issues = [
                    Issue(
                        "ebay.not_published",
                        "listing",
                        Severity.ERROR,
                        "The offer exists on eBay but was never published; publish it again.",
                    )
                ]
            return PublishResult(
                sku,
                status,
                remote_id=offer_id,
                issues=issues,
                http_status=200,
                request_summary=summary,
                remote_data=data,
            )
        response = await self._call("GET", f"/inventory_item/{quote(sku, safe='')}")
        if response.status_code == 404:
            return PublishResult(sku, PublishStatus.NOT_FOUND, http_status=404)
        if response.status_code != 200:
            raise self._refused(response, "getInventoryItem")
        return PublishResult(
            sku,
            PublishStatus.REJECTED,
            issues=[
                Issue(
                    "ebay.no_offer",
                    "listing",
                    Severity.ERROR,
                    "eBay has the inventory item but no offer for it; publish it again.",
                )
            ],
            http_status=200,
            request_summary={"step": "getInventoryItem"},
        )

    async def check_connection(self) -> None:
        await self.tokens.refresh()

    async def aclose(self) -> None:
        await self.http.aclose()


def create_client(
    credentials: Mapping[str, str],
    *,
    token_store: TokenStore,
    sandbox: bool = False,
    base_url: str | None = None,
    auth_url: str | None = None,
    rate: float | None = None,
    http_client: httpx.AsyncClient | None = None,
    attempts: int = 5,
    backoff: float = 0.5,
) -> EbayClient:
    """An EbayClient for one connection's credentials (see CREDENTIAL_FIELDS); `base_url` is the
    Inventory API root (…/sell/inventory/v1), `auth_url` the full token endpoint."""
    missing = [f for f in CREDENTIAL_FIELDS if not str(credentials.get(f) or "").strip()]
    if missing:
        raise ValueError(f"eBay credentials need {', '.join(missing)}")
    scopes = str(credentials.get("scopes") or "").split() or list(SCOPES)
    return EbayClient(
        client_id=credentials["client_id"].strip(),
        client_secret=credentials["client_secret"],
        refresh_token=credentials["refresh_token"],
        market=resolve_marketplace(credentials["marketplace_id"]),
        setup=SellerSetup(
            merchant_location_key=credentials["merchant_location_key"].strip(),
            payment_policy_id=credentials["payment_policy_id"].strip(),
            return_policy_id=credentials["return_policy_id"].strip(),
            fulfillment_policy_id=credentials["fulfillment_policy_id"].strip(),
        ),
        token_store=token_store,
        base_url=base_url or (SANDBOX_API_URL if sandbox else API_URL),
        auth_url=auth_url or (SANDBOX_TOKEN_URL if sandbox else TOKEN_URL),
        scopes=scopes,
        rate=rate or DEFAULT_RATE,
        http_client=http_client,
        attempts=attempts,
        backoff=backoff,
    )
