"""Kaufland Marketplace Seller API v2 client: HMAC-signed requests, EAN-keyed product data
(`PUT /product-data`) and units (the seller's offer per storefront, prices in integer cents).
Payloads, signing and the product-data CSV are in kaufland_data.py (re-exported here).

Facts from shared/reference/marketplace-apis.md section 4 and the file rules of
marketplace-rules.md. Idempotent by SKU: our SKU is the unit's `id_offer`; a SKU that already
has a unit on the storefront (known id, or found with `GET /units?id_offer=`) is PATCHed, never
given a second unit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import httpx
import structlog

from listingflow.integrations.marketplaces.base import (
    ConnectionBrokenError,
    Issue,
    MarketplaceClient,
    Offer,
    PermanentError,
    PublishResult,
    PublishStatus,
    RetryableError,
    Severity,
    TokenStore,
)
from listingflow.integrations.marketplaces.common import (
    KeyedLocks,
    missing_credentials,
    publish_concurrently,
    response_json,
)
from listingflow.integrations.marketplaces.http import MarketplaceHTTP, OutcomeUnknownError
from listingflow.integrations.marketplaces.kaufland_data import (
    DEFAULT_HANDLING_TIME,
    EXPORT_FILENAME,
    EXPORT_MEDIA_TYPE,
    STOREFRONTS,
    description_html,
    error_text,
    export_file,
    field_for,
    issues_from,
    local_issues,
    offer_ean,
    offer_storefront,
    patch_body,
    product_attributes,
    product_data_body,
    sign,
    to_cents,
    unit_body,
)

__all__ = [
    "API_URL",
    "CREDENTIAL_FIELDS",
    "EXPORT_FILENAME",
    "EXPORT_MEDIA_TYPE",
    "SECRET_FIELDS",
    "STOREFRONTS",
    "KauflandClient",
    "create_client",
    "description_html",
    "export_file",
    "field_for",
    "issues_from",
    "product_attributes",
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
USER_AGENT = "ListingFlow/0.1"


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
        self._lock_for: KeyedLocks[tuple[str, str]] = KeyedLocks()
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
                MARKETPLACE, f"the client key or secret key was refused: {error_text(response)}"
            )
        if response.status_code == 403:
            raise PermanentError(
                f"kaufland: not allowed: {error_text(response)}",
                marketplace=MARKETPLACE,
                status=403,
            )
        return response

    async def find_unit(self, sku: str, storefront: str) -> dict[str, Any] | None:
        """Our unit for the SKU on the storefront (`GET /units?id_offer=`), if there is one."""
        response = await self._call(
            "GET", "/units", params={"storefront": storefront, "id_offer": sku, "limit": 100}
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise PermanentError(
                f"kaufland: unit lookup failed ({response.status_code}): {error_text(response)}",
                marketplace=MARKETPLACE,
                status=response.status_code,
            )
        for unit in response_json(response).get("data") or []:
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
        storefront = offer_storefront(offer, self.storefront)
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
            summary: dict[str, Any] = {"storefront": storefront, "ean": offer_ean(offer)}
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
                    offer.sku, storefront, existing["id_unit"], patch_body(unit), summary
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
                    sku, storefront, str(found["id_unit"]), patch_body(unit), summary
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
            data = response_json(response).get("data") or {}
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
            issues = issues_from(response_json(response), response.status_code) or [
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
            f"kaufland: unexpected answer {response.status_code}: {error_text(response)}",
            marketplace=MARKETPLACE,
            status=response.status_code,
        )

    async def publish_many(self, offers: Sequence[Offer]) -> list[PublishResult]:
        """Every offer concurrently under the account's token bucket (publish_concurrently)."""
        return await publish_concurrently(self.publish, offers, marketplace=MARKETPLACE)

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
    missing = missing_credentials(credentials, ("client_key", "secret_key"))
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


def _implements_the_contract(client: KauflandClient) -> MarketplaceClient:
    return client  # mypy proves KauflandClient satisfies MarketplaceClient
