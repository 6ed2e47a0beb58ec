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
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
import structlog

from listingflow.integrations.marketplaces.base import (
    Issue,
    Offer,
    PermanentError,
    PublishResult,
    PublishStatus,
    Severity,
    TokenStore,
)
from listingflow.integrations.marketplaces.common import missing_credentials
from listingflow.integrations.marketplaces.ebay_items import (
    EXPORT_FILENAME,
    EXPORT_MEDIA_TYPE,
    NOT_AVAILABLE,
    EbayMarketplace,
    SellerSetup,
    create_offer_body,
    existing_offer_id,
    export_file,
    inventory_item,
    issues_from,
    money,
    offer_details,
    publish_requirements,
    resolve_marketplace,
)
from listingflow.integrations.marketplaces.http import (
    AccessTokenCache,
    MarketplaceHTTP,
    token_grant,
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

API_URL = "https://api.ebay.com/sell/inventory/v1"
SANDBOX_API_URL = "https://api.sandbox.ebay.com/sell/inventory/v1"
TOKEN_URL = "https://api.ebay.com/identity/v1/oauth2/token"  # noqa: S105 (a URL)
SANDBOX_TOKEN_URL = "https://api.sandbox.ebay.com/identity/v1/oauth2/token"  # noqa: S105
SCOPES = ("https://api.ebay.com/oauth/api_scope/sell.inventory",)
BULK_LIMIT = 25
# eBay's Inventory quota is a daily call count per app (about 2,000,000 commonly cited), no
# per-second plan is published: pace each account evenly well inside it.
DEFAULT_RATE = 10.0


def _json(response: httpx.Response) -> Any:
    try:
        return response.json() if response.content else {}
    except ValueError:
        return None


def _ok(status: Any) -> bool:
    return isinstance(status, int) and 200 <= status < 300


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
        body = await token_grant(
            self.http,
            self._auth_url,
            {
                "grant_type": "refresh_token",
                "refresh_token": self._refresh_token,
                "scope": self._scopes,
            },
            headers={
                "Authorization": f"Basic {basic}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            broken=("invalid_grant", "invalid_client", "unauthorized_client", "invalid_scope"),
            refused="eBay refused the token request",
        )
        log.info("ebay.token_exchanged", marketplace_id=self.market.id)
        return str(body["access_token"]), float(body.get("expires_in") or 7200)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        auth, refresh = self.tokens.hooks("Authorization", "Bearer ")
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
        issues = publish_requirements(offer)
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
                named = existing_offer_id(answer.get("errors") or [])
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
            change["price"] = {"value": money(price), "currency": currency or self.market.currency}
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
    missing = missing_credentials(credentials, CREDENTIAL_FIELDS)
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
