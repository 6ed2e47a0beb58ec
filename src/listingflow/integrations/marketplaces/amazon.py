"""The Amazon Selling Partner API client: Listings Items 2021-08-01 for single listings and the
Feeds API (JSON_LISTINGS_FEED) for large batches, with Login with Amazon tokens.

A put is a full replace keyed by SKU, so publishing again updates. ACCEPTED means queued, not
live: `remote_status` (getListingsItem) later says PUBLISHED (BUYABLE) or REJECTED with the
issues Amazon found. Requests are paced per operation by the documented usage plans.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
import structlog

from listingflow.integrations.marketplaces.amazon_feeds import (
    EXPORT_FILENAME,
    EXPORT_MEDIA_TYPE,
    AmazonMarketplace,
    error_text,
    export_file,
    issue_from_amazon,
    issues_from_errors,
    price_attribute,
    product_type,
    put_body,
    quantity_attribute,
    resolve_marketplace,
    submit_feed,
)
from listingflow.integrations.marketplaces.base import (
    ConnectionBrokenError,
    Offer,
    PermanentError,
    PublishResult,
    PublishStatus,
    RetryableError,
    Severity,
    TokenStore,
)
from listingflow.integrations.marketplaces.common import missing_credentials
from listingflow.integrations.marketplaces.http import (
    AccessTokenCache,
    MarketplaceHTTP,
    TokenBucket,
    token_grant,
)

__all__ = [
    "CREDENTIAL_FIELDS",
    "EXPORT_FILENAME",
    "EXPORT_MEDIA_TYPE",
    "SECRET_FIELDS",
    "AmazonClient",
    "create_client",
    "export_file",
]

log = structlog.get_logger()

MARKETPLACE = "amazon"
CREDENTIAL_FIELDS: tuple[str, ...] = (
    "seller_id",
    "client_id",
    "client_secret",
    "refresh_token",
    "marketplace_id",  # a code ("DE") or an id ("A1PA6795UKMFR9")
    "region",  # optional for known marketplaces: na, eu or fe
)
SECRET_FIELDS: tuple[str, ...] = ("client_secret", "refresh_token")
REQUIRED_FIELDS = ("seller_id", "client_id", "client_secret", "refresh_token", "marketplace_id")

HOSTS = {
    "na": "https://sellingpartnerapi-na.amazon.com",
    "eu": "https://sellingpartnerapi-eu.amazon.com",
    "fe": "https://sellingpartnerapi-fe.amazon.com",
}
SANDBOX_HOSTS = {
    "na": "https://sandbox.sellingpartnerapi-na.amazon.com",
    "eu": "https://sandbox.sellingpartnerapi-eu.amazon.com",
    "fe": "https://sandbox.sellingpartnerapi-fe.amazon.com",
}
LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"  # noqa: S105 (a URL)
LISTINGS = "/listings/2021-08-01/items"

# The documented usage plans (requests a second, burst) of each operation we call.
RATE_PLANS: dict[str, tuple[float, int]] = {
    "listings": (5.0, 10),  # get/put/patch/delete listings item
    "preview": (1.0, 1),  # putListingsItem with mode=VALIDATION_PREVIEW
    "createFeedDocument": (0.5, 15),
    "createFeed": (0.0083, 15),
    "getFeed": (2.0, 15),
    "getFeedDocument": (0.0222, 10),
}
DEFAULT_FEED_THRESHOLD = 50  # publish_many sends this many offers or more as one feed


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _access_token_expired(response: httpx.Response) -> bool:
    """SP-API answers an expired, revoked or malformed access token with 403 "Unauthorized"."""
    if response.status_code == 401:
        return True
    if response.status_code != 403:
        return False
    body = _json(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    return any(e.get("code") == "Unauthorized" for e in errors or [])


class AmazonClient:
    """One seller account on one Amazon marketplace."""

    marketplace = MARKETPLACE

    def __init__(
        self,
        *,
        seller_id: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        market: AmazonMarketplace,
        token_store: TokenStore,
        base_url: str,
        auth_url: str = LWA_TOKEN_URL,
        rate: float | None = None,
        http_client: httpx.AsyncClient | None = None,
        feed_threshold: int = DEFAULT_FEED_THRESHOLD,
        batch_size: int = 1000,
        feed_poll_interval: float = 30.0,
        feed_timeout: float = 3600.0,
        attempts: int = 5,
        backoff: float = 0.5,
    ) -> None:
        self.seller_id = seller_id
        self.market = market
        self.feed_threshold = feed_threshold
        self.batch_size = batch_size
        self.feed_poll_interval = feed_poll_interval
        self.feed_timeout = feed_timeout
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._auth_url = auth_url
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(
            timeout=30.0,
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        )
        self._follow_plans = rate is None  # an explicit rate wins over the answers' headers
        self._http: dict[str, MarketplaceHTTP] = {}
        for operation, (plan_rate, plan_burst) in RATE_PLANS.items():
            bucket = (
                TokenBucket(rate, max(1, int(rate)))
                if rate is not None
                else TokenBucket(plan_rate, plan_burst)
            )
            self._http[operation] = MarketplaceHTTP(
                MARKETPLACE,
                base_url,
                rate=bucket.rate,
                client=self._client,
                bucket=bucket,
                attempts=attempts,
                backoff=backoff,
            )
        account = hashlib.sha256(f"{client_id}\0{seller_id}\0{refresh_token}".encode()).hexdigest()
        self._refresh_key = f"amazon:{account[:24]}:refresh_token"
        self.tokens = AccessTokenCache(token_store, f"amazon:{account[:24]}:access", self._exchange)
        self._token_store = token_store
        self._product_types: dict[str, str] = {}  # sku -> productType of our last put (for patch)

    # -- auth --------------------------------------------------------------------------------

    async def _exchange(self) -> tuple[str, float]:
        """LWA: trade the refresh token for an access token (form-encoded POST)."""
        refresh_token = await self._token_store.get(self._refresh_key) or self._refresh_token
        body = await token_grant(
            self._http["listings"],
            self._auth_url,
            {
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": self._client_id,
                "client_secret": self._client_secret,
            },
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"},
            broken=("invalid_grant", "invalid_client", "unauthorized_client"),
            refused="Login with Amazon refused the token request",
        )
        rotated = body.get("refresh_token")
        if rotated and rotated != refresh_token:
            await self._token_store.set(self._refresh_key, str(rotated))
        log.info("amazon.token_exchanged", seller_id=self.seller_id)
        return str(body["access_token"]), float(body.get("expires_in") or 3600)

    async def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        auth, refresh = self.tokens.hooks("x-amz-access-token")
        response = await self._http[operation].request(
            method,
            path,
            json_body=json_body,
            params=params,
            headers={"Accept": "application/json"},
            auth=auth,
            on_unauthorized=refresh,
            is_unauthorized=_access_token_expired,
        )
        if self._follow_plans:
            self._follow_plan(operation, response.headers.get("x-amzn-RateLimit-Limit"))
        if response.status_code in (401, 403):
            body = _json(response)
            raise PermanentError(
                error_text(body, f"Amazon refused access ({response.status_code})"),
                marketplace=MARKETPLACE,
                status=response.status_code,
                issues=issues_from_errors(body),
            )
        return response

    def _follow_plan(self, operation: str, header: str | None) -> None:
        """SP-API states the account's real usage plan of an operation in each answer: pace by
        it (plans differ by account and change over time)."""
        try:
            limit = float(header or "")
        except ValueError:
            return
        bucket = self._http[operation].bucket
        if limit > 0 and limit != bucket.rate:
            log.info("amazon.rate_plan", operation=operation, rate=limit, was=bucket.rate)
            bucket.rate = limit

    # -- listings items ----------------------------------------------------------------------

    def _item_path(self, sku: str) -> str:
        return f"{LISTINGS}/{quote(self.seller_id, safe='')}/{quote(sku, safe='')}"

    def _params(self, **extra: str) -> dict[str, str]:
        return {
            "marketplaceIds": self.market.id,
            "issueLocale": self.market.language_tag,
            **extra,
        }

    def _submission_result(
        self, sku: str, response: httpx.Response, *, operation: str, ok: PublishStatus
    ) -> PublishResult:
        body = _json(response)
        summary: dict[str, Any] = {
            "operation": operation,
            "method": response.request.method,
            "path": response.request.url.path,
            "marketplaceId": self.market.id,
        }
        if response.status_code == 404:
            return PublishResult(
                sku, PublishStatus.NOT_FOUND, http_status=404, request_summary=summary
            )
        if response.status_code != 200 or not isinstance(body, dict):
            if response.status_code in (400, 413, 422):
                return PublishResult(
                    sku,
                    PublishStatus.REJECTED,
                    issues=issues_from_errors(body),
                    http_status=response.status_code,
                    request_summary=summary,
                )
            raise PermanentError(
                error_text(body, f"Amazon answered {response.status_code}"),
                marketplace=MARKETPLACE,
                status=response.status_code,
                issues=issues_from_errors(body),
            )
        status_text = str(body.get("status", ""))
        issues = [issue_from_amazon(i) for i in body.get("issues") or []]
        status = {
            "ACCEPTED": ok,
            "VALID": PublishStatus.VALID,
            "INVALID": PublishStatus.REJECTED,
        }.get(status_text, PublishStatus.REJECTED)
        asin = next(
            (i.get("asin") for i in body.get("identifiers") or [] if i.get("asin")),
            None,
        )
        summary["submissionId"] = body.get("submissionId")
        return PublishResult(
            sku,
            status,
            remote_id=asin,
            issues=issues,
            http_status=200,
            request_summary=summary,
            remote_data={"submission_id": body.get("submissionId"), "status": status_text},
        )

    async def publish(self, offer: Offer, *, dry_run: bool = False) -> PublishResult:
        body = put_body(offer, self.market)
        params = self._params(includedData="issues")
        if dry_run:
            params = self._params(includedData="issues,identifiers", mode="VALIDATION_PREVIEW")
        response = await self._call(
            "preview" if dry_run else "listings",
            "PUT",
            self._item_path(offer.sku),
            json_body=body,
            params=params,
        )
        result = self._submission_result(
            offer.sku, response, operation="putListingsItem", ok=PublishStatus.ACCEPTED
        )
        if not dry_run and result.ok:
            self._product_types[offer.sku] = body["productType"]
        if dry_run:
            result.request_summary["mode"] = "VALIDATION_PREVIEW"
        log.info(
            "amazon.put",
            sku=offer.sku,
            status=result.status.value,
            dry_run=dry_run,
            issues=len(result.issues),
        )
        return result

    async def publish_many(self, offers: Sequence[Offer]) -> list[PublishResult]:
        if not offers:
            return []
        if len(offers) >= self.feed_threshold:
            return await self.publish_feed(offers)
        outcomes = await asyncio.gather(
            *(self.publish(offer) for offer in offers), return_exceptions=True
        )
        results: list[PublishResult] = []
        failures: list[BaseException] = []
        for outcome in outcomes:
            if isinstance(outcome, PublishResult):
                results.append(outcome)
            else:
                failures.append(outcome)
        if failures:
            # A broken connection stops everything; otherwise the first failure stands for the
            # batch (puts are full replaces by SKU, so trying the batch again is safe).
            broken = [f for f in failures if isinstance(f, ConnectionBrokenError)]
            raise (broken or failures)[0]
        return results

    async def update_price_stock(
        self,
        sku: str,
        *,
        price: Decimal | None = None,
        quantity: int | None = None,
        currency: str | None = None,
    ) -> PublishResult:
        patches = []
        if price is not None:
            value = price_attribute(price, currency or self.market.currency, self.market)
            patches.append(
                {"op": "replace", "path": "/attributes/purchasable_offer", "value": value}
            )
        if quantity is not None:
            patches.append(
                {
                    "op": "replace",
                    "path": "/attributes/fulfillment_availability",
                    "value": quantity_attribute(quantity),
                }
            )
        if not patches:
            raise ValueError("update_price_stock needs a price or a quantity")
        kind = self._product_types.get(sku)
        if kind is None:
            item = await self._get_item(sku, "summaries")
            if item is None:
                return PublishResult(sku, PublishStatus.NOT_FOUND, http_status=404)
            kind = next(
                (s.get("productType") for s in item.get("summaries") or [] if s.get("productType")),
                None,
            )
            if kind is None:
                raise RetryableError(
                    f"Amazon has not yet processed {sku} (no product type to patch)",
                    marketplace=MARKETPLACE,
                )
            self._product_types[sku] = kind
        response = await self._call(
            "listings",
            "PATCH",
            self._item_path(sku),
            json_body={"productType": kind, "patches": patches},
            params=self._params(includedData="issues"),
        )
        return self._submission_result(
            sku, response, operation="patchListingsItem", ok=PublishStatus.ACCEPTED
        )

    async def withdraw(self, sku: str) -> PublishResult:
        response = await self._call(
            "listings", "DELETE", self._item_path(sku), params=self._params()
        )
        self._product_types.pop(sku, None)
        return self._submission_result(
            sku, response, operation="deleteListingsItem", ok=PublishStatus.WITHDRAWN
        )

    async def _get_item(self, sku: str, included: str) -> dict[str, Any] | None:
        response = await self._call(
            "listings", "GET", self._item_path(sku), params=self._params(includedData=included)
        )
        if response.status_code == 404:
            return None
        body = _json(response)
        if response.status_code != 200 or not isinstance(body, dict):
            raise PermanentError(
                error_text(body, f"Amazon answered {response.status_code}"),
                marketplace=MARKETPLACE,
                status=response.status_code,
            )
        return body

    async def remote_status(self, sku: str) -> PublishResult:
        item = await self._get_item(sku, "summaries,issues")
        summary = {"operation": "getListingsItem", "marketplaceId": self.market.id}
        if item is None:
            return PublishResult(
                sku, PublishStatus.NOT_FOUND, http_status=404, request_summary=summary
            )
        issues = [issue_from_amazon(i) for i in item.get("issues") or []]
        summaries = [
            s
            for s in item.get("summaries") or []
            if s.get("marketplaceId") in (None, self.market.id)
        ]
        statuses = {status for s in summaries for status in s.get("status") or []}
        asin = next((s.get("asin") for s in summaries if s.get("asin")), None)
        if any(i.severity is Severity.ERROR for i in issues):
            status = PublishStatus.REJECTED
        elif "BUYABLE" in statuses:
            status = PublishStatus.PUBLISHED
        else:
            status = PublishStatus.ACCEPTED  # still being processed
        for s in summaries:
            if s.get("productType"):
                self._product_types[sku] = s["productType"]
        return PublishResult(
            sku,
            status,
            remote_id=asin,
            issues=issues,
            http_status=200,
            request_summary=summary,
            remote_data={"asin": asin, "status": sorted(statuses)},
        )

    async def check_connection(self) -> None:
        await self.tokens.refresh()

    # -- feeds -------------------------------------------------------------------------------

    async def publish_feed(self, offers: Sequence[Offer]) -> list[PublishResult]:
        """The offers as one JSON_LISTINGS_FEED; one result per SKU from its report."""
        results = await submit_feed(
            offers,
            self.market,
            seller_id=self.seller_id,
            call=self._call,
            presigned=self._presigned,
            poll_interval=self.feed_poll_interval,
            give_up_after=self.feed_timeout,
        )
        for offer in offers:
            self._product_types[offer.sku] = product_type(offer)
        return results

    async def _presigned(
        self, method: str, url: str, *, content: bytes | None = None, content_type: str = ""
    ) -> httpx.Response:
        """A presigned document URL: no SP-API token, no usage plan, the usual retries."""
        return await self._http["createFeedDocument"].request(
            method,
            url,
            content=content,
            headers={"Content-Type": content_type} if content_type else None,
            rate_limited=False,
        )

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()


def create_client(
    credentials: Mapping[str, str],
    *,
    token_store: TokenStore,
    sandbox: bool = False,
    base_url: str | None = None,
    auth_url: str | None = None,
    rate: float | None = None,
    http_client: httpx.AsyncClient | None = None,
    feed_threshold: int = DEFAULT_FEED_THRESHOLD,
    feed_poll_interval: float = 30.0,
    feed_timeout: float = 3600.0,
    attempts: int = 5,
    backoff: float = 0.5,
) -> AmazonClient:
    """An AmazonClient for one connection's credentials (see CREDENTIAL_FIELDS).

    `rate` replaces every operation's documented plan with one rate (tests, special plans);
    `feed_threshold` is the batch size from which publish_many uses the Feeds API.
    """
    missing = missing_credentials(credentials, REQUIRED_FIELDS)
    if missing:
        raise ValueError(f"Amazon credentials need {', '.join(missing)}")
    market = resolve_marketplace(
        credentials["marketplace_id"],
        region=credentials.get("region") or None,
        language_tag=credentials.get("language_tag") or None,
        currency=credentials.get("currency") or None,
    )
    hosts = SANDBOX_HOSTS if sandbox else HOSTS
    if base_url is None and market.region not in hosts:
        raise ValueError(f"region '{market.region}' is not one of {', '.join(hosts)}")
    return AmazonClient(
        seller_id=credentials["seller_id"].strip(),
        client_id=credentials["client_id"].strip(),
        client_secret=credentials["client_secret"],
        refresh_token=credentials["refresh_token"],
        market=market,
        token_store=token_store,
        base_url=base_url or hosts[market.region],
        auth_url=auth_url or LWA_TOKEN_URL,
        rate=rate,
        http_client=http_client,
        feed_threshold=feed_threshold,
        feed_poll_interval=feed_poll_interval,
        feed_timeout=feed_timeout,
        attempts=attempts,
        backoff=backoff,
    )
