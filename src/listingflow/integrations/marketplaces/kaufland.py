"""Kaufland Marketplace Seller API v2 client: HMAC-signed requests, EAN-keyed product data
(`PUT /product-data`) and units (the seller's offer per storefront, prices in integer cents),
and the product-data CSV file.

Facts from shared/reference/marketplace-apis.md section 4 and the file rules of
marketplace-rules.md. Idempotent by SKU: our SKU is the unit's `id_offer`; a SKU that already
has a unit on the storefront (known id, or found with `GET /units?id_offer=`) is PATCHed, never
given a second unit.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import io
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import httpx
import structlog

from listingflow.integrations.marketplaces.base import (
    ConnectionBrokenError,
    Issue,
    MarketplaceError,
    Offer,
    PermanentError,
    PublishResult,
    PublishStatus,
    RetryableError,
    Severity,
    TokenStore,
)
from listingflow.integrations.marketplaces.http import MarketplaceHTTP, OutcomeUnknownError
from listingflow.rules.markup import escape, looks_like_html, sanitize, to_blocks
from listingflow.rules.rulebooks import RULEBOOKS

__all__ = [
    "CREDENTIAL_FIELDS",
    "EXPORT_FILENAME",
    "EXPORT_MEDIA_TYPE",
    "SECRET_FIELDS",
    "STOREFRONTS",
    "KauflandClient",
    "create_client",
    "export_file",
    "product_data_body",
    "sign",
    "to_cents",
    "unit_body",
]

log = structlog.get_logger()

MARKETPLACE = "kaufland"
CREDENTIAL_FIELDS: tuple[str, ...] = ("client_key", "secret_key", "storefront")
SECRET_FIELDS: tuple[str, ...] = ("secret_key",)

API_URL = "https://sellerapi.kaufland.com/v2"
# 111 requests a second per seller across all endpoints; a small burst stays under it.
DEFAULT_RATE = 100.0
DEFAULT_BURST = 10
DEFAULT_CONCURRENCY = 16
DEFAULT_HANDLING_TIME = 1  # business days
USER_AGENT = "ListingFlow/0.1"


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


def _storefront(offer: Offer, default: str) -> str:
    return str(offer.attributes.get("storefront") or default).lower()


def _ean(offer: Offer) -> str | None:
    value = offer.ean or offer.attributes.get("ean")
    return str(value).strip() if value else None


def _condition(offer: Offer) -> str:
    key = offer.condition.strip().lower().replace(" ", "_").replace("-", "_")
    return _CONDITIONS.get(key, offer.condition.upper())


def description_html(description: str, bullets: Sequence[str] = ()) -> str:
    """Kaufland takes HTML descriptions: the allowed tags only, plain text as paragraphs."""
    if looks_like_html(description):
        body = sanitize(description, _DESCRIPTION_TAGS)
    else:
        pieces: list[str] = []
        items: list[str] = []
        for block in to_blocks(description):
            if block.kind == "item":
                items.append(f"<li>{escape(block.text)}</li>")
                continue
            if items:
                pieces.append("<ul>" + "".join(items) + "</ul>")
                items = []
            tag = "h3" if block.kind == "heading" else "p"
            pieces.append(f"<{tag}>{escape(block.text)}</{tag}>")
        if items:
            pieces.append("<ul>" + "".join(items) + "</ul>")
        body = "".join(pieces)
    if bullets:
        body += "<ul>" + "".join(f"<li>{escape(b)}</li>" for b in bullets if b.strip()) + "</ul>"
    return sanitize(body, _DESCRIPTION_TAGS)


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
    return {"ean": [_ean(offer) or ""], "attributes": product_attributes(offer)}


def unit_body(offer: Offer, *, handling_time: int = DEFAULT_HANDLING_TIME) -> dict[str, Any]:
    """The `POST /units` body; prices in integer cents of the storefront's currency.

    `minimum_price` (repricing floor) is `attributes.minimum_price` or the listing price.
    """
    attrs = offer.attributes
    listing = to_cents(offer.price)
    minimum = to_cents(attrs["minimum_price"]) if attrs.get("minimum_price") else listing
    body: dict[str, Any] = {
        "ean": _ean(offer),
        "condition": _condition(offer),
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


def _patch_body(unit: Mapping[str, Any]) -> dict[str, Any]:
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
    ean = _ean(offer)
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


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}


def _error_text(response: httpx.Response) -> str:
    issues = issues_from(_json(response), response.status_code)
    return "; ".join(i.message for i in issues) if issues else response.text[:300]


# ------------------------------------------------------------------------------ the client


class KauflandClient:
    """One Kaufland seller account on one default storefront (an offer may name another)."""

    marketplace = MARKETPLACE
    batch_size = 1  # no JSON bulk endpoint: one unit per request

    def __init__(
        self,
        *,
        client_key: str,
        secret_key: str,
        storefront: str = "de",
        token_store: TokenStore | None = None,
        base_url: str = API_URL,
        rate: float = DEFAULT_RATE,
        burst: int = DEFAULT_BURST,
        concurrency: int = DEFAULT_CONCURRENCY,
        handling_time: int = DEFAULT_HANDLING_TIME,
        user_agent: str = USER_AGENT,
        clock: Callable[[], float] = time.time,
        http_client: httpx.AsyncClient | None = None,
        **http_options: Any,
    ) -> None:
        self.client_key = client_key
        self._secret = secret_key
        self.storefront = storefront.lower()
        self.store = token_store  # not needed: Kaufland signs every request, no tokens
        self.handling_time = handling_time
        self._clock = clock
        self.http = MarketplaceHTTP(
            MARKETPLACE,
            base_url,
            rate=rate,
            burst=burst,
            user_agent=user_agent,
            client=http_client,
            **http_options,
        )
        self._gate = asyncio.Semaphore(concurrency)
        self._sku_locks: dict[tuple[str, str], asyncio.Lock] = {}
        # what we know of our units: (sku, storefront) -> id_unit, ean, condition
        self._units: dict[tuple[str, str], dict[str, Any]] = {}

    async def aclose(self) -> None:
        await self.http.aclose()

    # -------------------------------------------------------------------------- requests

    async def _sign(self, request: httpx.Request) -> None:
        timestamp = str(int(self._clock()))
        body = request.content.decode() if request.content else ""
        request.headers["Accept"] = "application/json"
        request.headers["Shop-Client-Key"] = self.client_key
        request.headers["Shop-Timestamp"] = timestamp
        request.headers["Shop-Signature"] = sign(
            self._secret, request.method, str(request.url), body, timestamp
        )

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        response = await self.http.request(
            method,
            path,
            json_body=json_body,
            params=params,
            auth=self._sign,
            idempotent=idempotent,
        )
        if response.status_code == 401:
            raise ConnectionBrokenError(
                MARKETPLACE, f"the client key or secret key was refused: {_error_text(response)}"
            )
        if response.status_code == 403:
            raise PermanentError(
                f"kaufland: not allowed: {_error_text(response)}",
                marketplace=MARKETPLACE,
                status=403,
            )
        return response

    def _lock_for(self, key: tuple[str, str]) -> asyncio.Lock:
        lock = self._sku_locks.get(key)
        if lock is None:
            lock = self._sku_locks[key] = asyncio.Lock()
        return lock

    async def find_unit(self, sku: str, storefront: str) -> dict[str, Any] | None:
        """Our unit for the SKU on the storefront (`GET /units?id_offer=`), if there is one."""
        response = await self._call(
            "GET", "/units", params={"storefront": storefront, "id_offer": sku, "limit": 100}
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise PermanentError(
                f"kaufland: unit lookup failed ({response.status_code}): {_error_text(response)}",
                marketplace=MARKETPLACE,
                status=response.status_code,
            )
        for unit in _json(response).get("data") or []:
            if str(unit.get("id_offer")) == sku:
                self._remember(sku, storefront, unit)
                return dict(unit)
        return None

    def _remember(self, sku: str, storefront: str, unit: Mapping[str, Any]) -> None:
        known = {key: unit[key] for key in ("id_unit", "ean", "condition") if key in unit}
        known["id_unit"] = str(known["id_unit"])
        self._units[(sku, storefront)] = known

    async def _known_unit(
        self, sku: str, storefront: str, remote_id: str | None = None
    ) -> dict[str, Any] | None:
        """What we know of the SKU's unit (at least its id_unit), looking it up if need be."""
        known = self._units.get((sku, storefront))
        if known and (remote_id is None or known["id_unit"] == remote_id):
            return known
        if remote_id:
            return {"id_unit": remote_id}
        return await self.find_unit(sku, storefront)

    async def _unit_id(self, sku: str, storefront: str) -> str | None:
        unit = await self._known_unit(sku, storefront)
        return str(unit["id_unit"]) if unit else None

    # -------------------------------------------------------------------------- publishing

    async def publish(self, offer: Offer, *, dry_run: bool = False) -> PublishResult:
        storefront = _storefront(offer, self.storefront)
        issues = local_issues(offer, storefront)
        if dry_run or issues:
            return PublishResult(
                offer.sku,
                PublishStatus.REJECTED if issues else PublishStatus.VALID,
                issues=issues,
                request_summary={"dry_run": dry_run, "storefront": storefront},
            )
        locale = str(offer.attributes.get("locale") or STOREFRONTS[storefront][1])
        key = (offer.sku, storefront)
        async with self._gate, self._lock_for(key):
            summary: dict[str, Any] = {"storefront": storefront, "ean": _ean(offer)}
            response = await self._call(
                "PUT",
                "/product-data",
                json_body=product_data_body(offer),
                params={"locale": locale},
            )
            if response.status_code not in (200, 201, 202, 204):
                return self._refused(offer.sku, response, summary | {"step": "product-data"})
            unit = unit_body(offer, handling_time=self.handling_time)
            existing = await self._known_unit(offer.sku, storefront, offer.remote_id)
            if existing and existing.get("ean", unit["ean"]) != unit["ean"]:
                # Kaufland ties a SKU (id_offer) to one EAN in every storefront.
                return PublishResult(
                    offer.sku,
                    PublishStatus.REJECTED,
                    remote_id=existing["id_unit"],
                    issues=[
                        Issue(
                            "kaufland.sku_ean_changed",
                            "sku",
                            Severity.ERROR,
                            f"On Kaufland the SKU {offer.sku} is already used for EAN "
                            f"{existing['ean']}; a SKU cannot change its EAN.",
                        )
                    ],
                    request_summary=summary,
                )
            if existing:
                result = await self._patch(
                    offer.sku, storefront, existing["id_unit"], _patch_body(unit), summary
                )
                if result is not None:
                    return result
            return await self._create(offer.sku, storefront, unit, summary)

    async def _patch(
        self,
        sku: str,
        storefront: str,
        unit_id: str,
        body: dict[str, Any],
        summary: dict[str, Any],
    ) -> PublishResult | None:
        """PATCH the unit; None when it is gone (deleted meanwhile), so the caller creates it."""
        response = await self._call(
            "PATCH", f"/units/{unit_id}", json_body=body, params={"storefront": storefront}
        )
        if response.status_code == 404:
            self._units.pop((sku, storefront), None)
            return None
        return self._outcome(sku, storefront, response, summary | {"method": "PATCH"})

    async def _create(
        self, sku: str, storefront: str, unit: dict[str, Any], summary: dict[str, Any]
    ) -> PublishResult:
        for _ in range(3):
            try:
                response = await self._call(
                    "POST",
                    "/units",
                    json_body=unit,
                    params={"storefront": storefront},
                    idempotent=False,
                )
            except OutcomeUnknownError:
                found = await self.find_unit(sku, storefront)  # created after all?
                if found is None:
                    continue
                result = await self._patch(
                    sku, storefront, str(found["id_unit"]), _patch_body(unit), summary
                )
                if result is not None:
                    return result
                continue
            return self._outcome(sku, storefront, response, summary | {"method": "POST"})
        raise RetryableError(
            "kaufland: the unit could not be created (server errors)", marketplace=MARKETPLACE
        )

    def _outcome(
        self, sku: str, storefront: str, response: httpx.Response, summary: dict[str, Any]
    ) -> PublishResult:
        summary = summary | {"path": "/units"}
        if response.status_code in (200, 201):
            data = _json(response).get("data") or {}
            unit_id = str(data.get("id_unit") or "") or None
            if unit_id:
                self._remember(sku, storefront, data)
            return PublishResult(
                sku,
                PublishStatus.PUBLISHED,
                remote_id=unit_id,
                http_status=response.status_code,
                request_summary=summary | {"id_unit": unit_id},
                remote_data={
                    "id_unit": unit_id,
                    "storefront": storefront,
                    "status": data.get("status"),
                },
            )
        if response.status_code == 204:
            return PublishResult(
                sku,
                PublishStatus.PUBLISHED,
                remote_id=(self._units.get((sku, storefront)) or {}).get("id_unit"),
                http_status=204,
                request_summary=summary,
            )
        return self._refused(sku, response, summary)

    def _refused(
        self, sku: str, response: httpx.Response, summary: dict[str, Any]
    ) -> PublishResult:
        if response.status_code in (400, 404, 409, 422):
            issues = issues_from(_json(response), response.status_code) or [
                Issue("kaufland.refused", "offer", Severity.ERROR, response.text[:300] or "refused")
            ]
            return PublishResult(
                sku,
                PublishStatus.REJECTED,
                issues=issues,
                http_status=response.status_code,
                request_summary=summary,
            )
        raise PermanentError(
            f"kaufland: unexpected answer {response.status_code}: {_error_text(response)}",
            marketplace=MARKETPLACE,
            status=response.status_code,
        )

    async def publish_many(self, offers: Sequence[Offer]) -> list[PublishResult]:
        """Every offer concurrently under the account's token bucket; results in order.

        A refused offer is a REJECTED result; a dead connection raises ConnectionBrokenError and
        a transient failure raises RetryableError (publishing again is safe: idempotent by SKU).
        """
        outcomes = await asyncio.gather(
            *(self.publish(offer) for offer in offers), return_exceptions=True
        )
        return _results(offers, outcomes)

    async def update_price_stock(
        self,
        sku: str,
        *,
        price: Decimal | None = None,
        quantity: int | None = None,
        currency: str | None = None,
        storefront: str | None = None,
    ) -> PublishResult:
        where = (storefront or self.storefront).lower()
        body: dict[str, Any] = {}
        if price is not None:
            expected = STOREFRONTS.get(where, ("", "", None))[0]
            if currency and expected and currency.upper() != expected:
                raise PermanentError(
                    f"kaufland: {where} sells in {expected}, not {currency}",
                    marketplace=MARKETPLACE,
                )
            body["listing_price"] = body["minimum_price"] = to_cents(price)
        if quantity is not None:
            body["amount"] = int(quantity)
        if not body:
            raise ValueError("update_price_stock needs a price or a quantity")
        async with self._gate, self._lock_for((sku, where)):
            unit_id = await self._unit_id(sku, where)
            if unit_id is None:
                return PublishResult(sku, PublishStatus.NOT_FOUND)
            result = await self._patch(sku, where, unit_id, body, {"storefront": where})
            return result or PublishResult(sku, PublishStatus.NOT_FOUND, http_status=404)

    async def withdraw(self, sku: str, *, storefront: str | None = None) -> PublishResult:
        """Delete the unit (the shared product data stays, as Kaufland keeps it per EAN)."""
        where = (storefront or self.storefront).lower()
        async with self._gate, self._lock_for((sku, where)):
            unit_id = await self._unit_id(sku, where)
            if unit_id is None:
                return PublishResult(sku, PublishStatus.NOT_FOUND)
            response = await self._call("DELETE", f"/units/{unit_id}", params={"storefront": where})
            self._units.pop((sku, where), None)
            summary = {"method": "DELETE", "path": "/units", "id_unit": unit_id}
            if response.status_code in (200, 202, 204):
                return PublishResult(
                    sku,
                    PublishStatus.WITHDRAWN,
                    remote_id=unit_id,
                    http_status=response.status_code,
                    request_summary=summary,
                )
            if response.status_code == 404:
                return PublishResult(sku, PublishStatus.NOT_FOUND, http_status=404)
            return self._refused(sku, response, summary)

    async def remote_status(self, sku: str, *, storefront: str | None = None) -> PublishResult:
        where = (storefront or self.storefront).lower()
        unit = await self.find_unit(sku, where)
        if unit is None:
            return PublishResult(sku, PublishStatus.NOT_FOUND)
        unit_id = str(unit["id_unit"])
        return PublishResult(
            sku,
            PublishStatus.PUBLISHED,
            remote_id=unit_id,
            http_status=200,
            remote_data={
                "id_unit": unit_id,
                "storefront": where,
                "status": unit.get("status"),
                "listing_price": unit.get("listing_price"),
                "amount": unit.get("amount"),
            },
        )

    async def check_connection(self) -> None:
        response = await self._call("GET", "/info/storefront")
        if response.status_code != 200:
            raise PermanentError(
                f"kaufland: /info/storefront answered {response.status_code}",
                marketplace=MARKETPLACE,
                status=response.status_code,
            )


def _results(offers: Sequence[Offer], outcomes: Sequence[Any]) -> list[PublishResult]:
    broken = next((o for o in outcomes if isinstance(o, ConnectionBrokenError)), None)
    if broken is not None:
        raise broken
    retry = next((o for o in outcomes if isinstance(o, RetryableError)), None)
    if retry is not None:
        raise retry
    results: list[PublishResult] = []
    for offer, outcome in zip(offers, outcomes, strict=True):
        if isinstance(outcome, MarketplaceError):
            results.append(
                PublishResult(
                    offer.sku,
                    PublishStatus.REJECTED,
                    http_status=outcome.status,
                    issues=outcome.issues
                    or [Issue("kaufland.refused", "offer", Severity.ERROR, outcome.message)],
                )
            )
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            results.append(outcome)
    return results


# ------------------------------------------------------------------------------ the CSV file


def export_file(offers: Sequence[Offer], **options: Any) -> bytes:
    """Kaufland's product-data CSV: comma-separated, one header row, UTF-8 by default.

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
    missing = [offer.sku for offer in offers if not _ean(offer)]
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
        line = [_ean(offer) or ""]
        for name in columns:
            values = row.get(name, [])
            line += values + [""] * (widths[name] - len(values))
        if with_offer:
            currency = STOREFRONTS.get(storefront, (offer.currency,))[0]
            line += [
                offer.sku,
                str(to_cents(offer.price)),
                currency,
                _FILE_CONDITIONS.get(_condition(offer), "100"),
                str(int(offer.quantity)),
                str(int(offer.attributes.get("handling_time", handling))),
            ]
        writer.writerow(line)
    return out.getvalue().encode(encoding)


def create_client(
    credentials: Mapping[str, str],
    *,
    token_store: TokenStore | None = None,
    sandbox: bool = False,
    base_url: str | None = None,
    auth_url: str | None = None,
    rate: float | None = None,
    http_client: httpx.AsyncClient | None = None,
    **options: Any,
) -> KauflandClient:
    """A KauflandClient from stored credentials (client_key, secret_key, storefront).

    Kaufland has no confirmed sandbox and no OAuth: `sandbox` and `auth_url` change nothing
    (they are accepted so every marketplace is created alike). `options` go to KauflandClient
    (handling_time, concurrency, user_agent, attempts, backoff ...).
    """
    del sandbox, auth_url
    missing = [name for name in ("client_key", "secret_key") if not credentials.get(name)]
    if missing:
        raise PermanentError(
            f"kaufland: credentials lack {', '.join(missing)}", marketplace=MARKETPLACE
        )
    storefront = (credentials.get("storefront") or "de").lower()
    if storefront not in STOREFRONTS:
        raise PermanentError(
            f"kaufland: unknown storefront {storefront!r}; one of {', '.join(STOREFRONTS)}",
            marketplace=MARKETPLACE,
        )
    return KauflandClient(
        client_key=credentials["client_key"],
        secret_key=credentials["secret_key"],
        storefront=storefront,
        token_store=token_store,
        base_url=base_url or API_URL,
        rate=rate or DEFAULT_RATE,
        http_client=http_client,
        **options,
    )
