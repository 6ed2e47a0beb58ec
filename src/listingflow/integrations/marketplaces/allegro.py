"""Allegro REST API client: rotating refresh tokens kept in the TokenStore, offers through
`/sale/product-offers` (201, or 202 and an operation to poll), ending offers with publication
commands. The device flow is in allegro_auth.py, payloads and the bulk file in allegro_offers.py
(their public names are re-exported here).

Facts from shared/reference/marketplace-apis.md section 3. Idempotent by SKU: our SKU travels as
`external.id`, and a SKU that already has an offer (known id, or found with
`GET /sale/offers?external.id=`) is updated with PATCH instead of getting a second offer.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urljoin

import httpx
import structlog

from listingflow.integrations.marketplaces.allegro_auth import (
    API_URL,
    AUTH_URL,
    SANDBOX_API_URL,
    SANDBOX_AUTH_URL,
    AllegroTokens,
    DeviceCode,
    DeviceFlowDeniedError,
    DeviceFlowExpiredError,
    hosts,
    poll_device_flow,
    start_device_flow,
    token_request,
    tokens_from,
)
from listingflow.integrations.marketplaces.allegro_offers import (
    EXPORT_FILENAME,
    EXPORT_MEDIA_TYPE,
    description_html,
    error_text,
    export_file,
    field_for,
    issues_from,
    local_issues,
    money,
    offer_body,
)
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
from listingflow.integrations.marketplaces.http import (
    AccessTokenCache,
    MarketplaceHTTP,
    OutcomeUnknownError,
    parse_retry_after,
)

__all__ = [
    "API_URL",
    "AUTH_URL",
    "CREDENTIAL_FIELDS",
    "EXPORT_FILENAME",
    "EXPORT_MEDIA_TYPE",
    "MEDIA_TYPE",
    "SANDBOX_API_URL",
    "SANDBOX_AUTH_URL",
    "SECRET_FIELDS",
    "AllegroClient",
    "AllegroTokens",
    "DeviceCode",
    "DeviceFlowDeniedError",
    "DeviceFlowExpiredError",
    "create_client",
    "description_html",
    "export_file",
    "field_for",
    "issues_from",
    "offer_body",
    "poll_device_flow",
    "start_device_flow",
]

log = structlog.get_logger()

MARKETPLACE = "allegro"
CREDENTIAL_FIELDS: tuple[str, ...] = ("client_id", "client_secret", "refresh_token")
SECRET_FIELDS: tuple[str, ...] = ("client_secret", "refresh_token")
MEDIA_TYPE = "application/vnd.allegro.public.v1+json"

# 9,000 requests a minute per Client ID; a small burst keeps any minute under the limit.
DEFAULT_RATE = 9000 / 60
DEFAULT_BURST = 10
DEFAULT_CONCURRENCY = 16  # too many parallel requests trip the per-user leaky bucket (429)
ACCESS_TOKEN_MARGIN = 60.0  # seconds before expiry at which a cached access token is not used


class AllegroClient:
    """One Allegro seller account (one OAuth application and its refresh token)."""

    marketplace = MARKETPLACE
    batch_size = 1  # one offer per request: Allegro has no bulk create for product offers

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        token_store: TokenStore,
        base_url: str = API_URL,
        auth_url: str = AUTH_URL,
        rate: float = DEFAULT_RATE,
        burst: int = DEFAULT_BURST,
        concurrency: int = DEFAULT_CONCURRENCY,
        accept_language: str = "pl-PL",
        account: str | None = None,
        operation_timeout: float = 120.0,
        max_poll_wait: float = 10.0,
        http_client: httpx.AsyncClient | None = None,
        **http_options: Any,
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self._initial_refresh = refresh_token
        self.store = token_store
        self.auth_url = auth_url.rstrip("/")
        self.accept_language = accept_language
        self.operation_timeout = operation_timeout
        self.max_poll_wait = max_poll_wait
        # The account in store keys: the client id plus a digest of the refresh token the
        # account was connected with, so reconnecting (a new token in the credentials) starts a
        # fresh rotation chain and one store serves many accounts.
        digest = hashlib.sha256(refresh_token.encode()).hexdigest()[:16]
        self.account = account or f"{client_id}:{digest}"
        self._refresh_key = f"allegro:{self.account}:refresh_token"
        # The access token is also held in this process for a minute after reading it from the
        # store (the store may be a shared cache: no round trip per request).
        self.tokens = AccessTokenCache(
            token_store,
            f"allegro:{self.account}:access_token",
            self._exchange,
            margin=ACCESS_TOKEN_MARGIN,
            hold=ACCESS_TOKEN_MARGIN,
        )
        self.http = MarketplaceHTTP(
            MARKETPLACE, base_url, rate=rate, burst=burst, client=http_client, **http_options
        )
        self._gate = asyncio.Semaphore(concurrency)
        self._lock_for: KeyedLocks[str] = KeyedLocks()
        self._offer_ids: dict[str, str] = {}

    @property
    def refreshes(self) -> int:
        """Token refreshes made by this client (tests, metrics)."""
        return self.tokens.exchanges

    async def aclose(self) -> None:
        await self.http.aclose()

    # -------------------------------------------------------------------------- tokens

    async def _refresh_token(self) -> str:
        return await self.store.get(self._refresh_key) or self._initial_refresh

    async def _exchange(self) -> tuple[str, float]:
        """Exchange the refresh token; store the rotated one before anything else happens.

        Runs under the token cache's lock. If Allegro says invalid_grant but the store now holds
        a different refresh token, another process rotated it first: use that one.
        """
        used = await self._refresh_token()
        for _ in range(2):
            response = await token_request(
                self.http.client,
                f"{self.auth_url}/auth/oauth/token",
                client_id=self.client_id,
                client_secret=self._client_secret,
                data={"grant_type": "refresh_token", "refresh_token": used},
            )
            if response.status_code == 200:
                tokens = tokens_from(response.json())
                if tokens.refresh_token:
                    await self.store.set(self._refresh_key, tokens.refresh_token)
                log.info("allegro.token_refreshed", account=self.client_id)
                return tokens.access_token, tokens.expires_in
            body = response_json(response)
            error = str(body.get("error") or "") if isinstance(body, dict) else ""
            if error == "invalid_grant":
                latest = await self._refresh_token()
                if latest != used:
                    used = latest
                    continue
                raise ConnectionBrokenError(MARKETPLACE, "the refresh token was revoked or expired")
            if response.status_code == 401 or error in ("invalid_client", "unauthorized"):
                raise ConnectionBrokenError(MARKETPLACE, "the client id or secret was refused")
            raise PermanentError(
                f"allegro: token refresh failed ({response.status_code}): {error_text(response)}",
                marketplace=MARKETPLACE,
                status=response.status_code,
            )
        raise ConnectionBrokenError(MARKETPLACE, "the refresh token was revoked or expired")

    # -------------------------------------------------------------------------- requests

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        auth, refresh = self.tokens.hooks("Authorization", "Bearer ")
        headers = {"Accept": MEDIA_TYPE, "Accept-Language": self.accept_language}
        if json_body is not None:
            headers["Content-Type"] = MEDIA_TYPE
        response = await self.http.request(
            method,
            path,
            json_body=json_body,
            params=params,
            headers=headers,
            auth=auth,
            on_unauthorized=refresh,
            idempotent=idempotent,
        )
        if response.status_code == 401:
            raise ConnectionBrokenError(MARKETPLACE, "a fresh access token was refused")
        if response.status_code == 403:
            raise PermanentError(
                f"allegro: not allowed ({error_text(response)}); the connection may lack a scope",
                marketplace=MARKETPLACE,
                status=403,
            )
        if response.status_code in (406, 415):
            raise PermanentError(
                f"allegro: media type refused ({response.status_code}): {error_text(response)}",
                marketplace=MARKETPLACE,
                status=response.status_code,
            )
        return response

    async def find_offer_id(self, sku: str) -> str | None:
        """The id of the offer carrying our SKU as external.id, if Allegro has one."""
        response = await self._call("GET", "/sale/offers", params={"external.id": sku, "limit": 10})
        if response.status_code != 200:
            raise PermanentError(
                f"allegro: offer lookup failed ({response.status_code}): {error_text(response)}",
                marketplace=MARKETPLACE,
                status=response.status_code,
            )
        offers = [
            o
            for o in response_json(response).get("offers") or []
            if (o.get("external") or {}).get("id") == sku
        ]
        if not offers:
            return None
        # More than one means someone created duplicates outside ListingFlow: keep the oldest.
        return str(offers[0]["id"])

    async def _known_offer_id(self, sku: str, remote_id: str | None = None) -> str | None:
        known = remote_id or self._offer_ids.get(sku)
        if known:
            return known
        found = await self.find_offer_id(sku)
        if found:
            self._offer_ids[sku] = found
        return found

    # -------------------------------------------------------------------------- publishing

    async def publish(self, offer: Offer, *, dry_run: bool = False) -> PublishResult:
        body = offer_body(offer)
        if dry_run:
            issues = local_issues(offer)
            status = PublishStatus.REJECTED if issues else PublishStatus.VALID
            return PublishResult(
                offer.sku, status, issues=issues, request_summary={"dry_run": True}
            )
        async with self._gate, self._lock_for(offer.sku):
            offer_id = await self._known_offer_id(offer.sku, offer.remote_id)
            if offer_id:
                response = await self._call(
                    "PATCH", f"/sale/product-offers/{offer_id}", json_body=body
                )
                if response.status_code == 404:  # ended and removed, or a stale id: look again
                    self._offer_ids.pop(offer.sku, None)
                    offer_id = await self._known_offer_id(offer.sku)
                    if offer_id:
                        response = await self._call(
                            "PATCH", f"/sale/product-offers/{offer_id}", json_body=body
                        )
                if offer_id and response.status_code != 404:
                    return await self._outcome(offer.sku, response, "PATCH", offer_id)
            return await self._create(offer.sku, body)

    async def _create(self, sku: str, body: dict[str, Any]) -> PublishResult:
        for _ in range(3):
            try:
                response = await self._call(
                    "POST", "/sale/product-offers", json_body=body, idempotent=False
                )
            except OutcomeUnknownError:
                # The offer may exist now: look before sending it again.
                offer_id = await self.find_offer_id(sku)
                if offer_id is None:
                    continue
                self._offer_ids[sku] = offer_id
                response = await self._call(
                    "PATCH", f"/sale/product-offers/{offer_id}", json_body=body
                )
                return await self._outcome(sku, response, "PATCH", offer_id)
            return await self._outcome(sku, response, "POST", None)
        raise RetryableError(
            "allegro: the offer could not be created (server errors)", marketplace=MARKETPLACE
        )

    async def _outcome(
        self, sku: str, response: httpx.Response, method: str, offer_id: str | None
    ) -> PublishResult:
        summary: dict[str, Any] = {"method": method, "path": "/sale/product-offers"}
        if offer_id:
            summary["offer_id"] = offer_id
        status = response.status_code
        if status in (200, 201):
            return self._from_offer(sku, response_json(response), status, summary)
        if status == 202:
            body = response_json(response)
            new_id = str(body.get("id") or offer_id or "")
            if new_id:
                self._offer_ids[sku] = new_id
            location = response.headers.get("Location")
            if not location:
                return PublishResult(
                    sku,
                    PublishStatus.ACCEPTED,
                    remote_id=new_id or None,
                    http_status=202,
                    request_summary=summary,
                )
            summary["operation"] = location
            return await self._follow(sku, location, response, summary, new_id or None)
        if status in (400, 409, 422):
            issues = issues_from(response_json(response)) or [
                Issue("allegro.refused", "offer", Severity.ERROR, error_text(response))
            ]
            return PublishResult(
                sku,
                PublishStatus.REJECTED,
                remote_id=offer_id,
                issues=issues,
                http_status=status,
                request_summary=summary,
            )
        raise PermanentError(
            f"allegro: unexpected answer {status}: {error_text(response)}",
            marketplace=MARKETPLACE,
            status=status,
        )

    async def _follow(
        self,
        sku: str,
        location: str,
        response: httpx.Response,
        summary: dict[str, Any],
        offer_id: str | None,
    ) -> PublishResult:
        """Poll a 202's operation (honouring Retry-After) until it redirects to the offer."""
        url = urljoin(self.http.base_url + "/", location)
        deadline = time.monotonic() + self.operation_timeout
        polls = 0
        while True:
            wait = parse_retry_after(response.headers.get("Retry-After"), default=1.0) or 0.0
            if time.monotonic() + wait > deadline:
                summary["polls"] = polls
                return PublishResult(
                    sku,
                    PublishStatus.ACCEPTED,
                    remote_id=offer_id,
                    http_status=202,
                    request_summary=summary,
                    remote_data={"operation": location},
                )
            await asyncio.sleep(min(wait, self.max_poll_wait))
            response = await self._call("GET", url)
            polls += 1
            if response.status_code == 202:
                continue
            summary["polls"] = polls
            if response.status_code in (301, 302, 303, 307, 308):
                target = urljoin(url, response.headers.get("Location", ""))
                final = await self._call("GET", target)
                if final.status_code == 200:
                    return self._from_offer(sku, response_json(final), final.status_code, summary)
                response = final
            if response.status_code == 200 and "operation" not in response_json(response):
                return self._from_offer(sku, response_json(response), 200, summary)
            if response.status_code in (400, 422):
                return PublishResult(
                    sku,
                    PublishStatus.REJECTED,
                    remote_id=offer_id,
                    issues=issues_from(response_json(response)),
                    http_status=response.status_code,
                    request_summary=summary,
                )
            raise PermanentError(
                f"allegro: operation answered {response.status_code}: {error_text(response)}",
                marketplace=MARKETPLACE,
                status=response.status_code,
            )

    def _from_offer(
        self, sku: str, body: Mapping[str, Any], http_status: int, summary: dict[str, Any]
    ) -> PublishResult:
        offer_id = str(body.get("id") or summary.get("offer_id") or "") or None
        if offer_id:
            self._offer_ids[sku] = offer_id
        validation = body.get("validation") or {}
        errors = issues_from(validation)
        warnings = issues_from({"errors": validation.get("warnings")}, severity=Severity.WARNING)
        publication = str((body.get("publication") or {}).get("status") or "")
        remote = {"offer_id": offer_id, "publication_status": publication}
        if errors:
            status = PublishStatus.REJECTED
        elif publication == "ENDED":
            status = PublishStatus.WITHDRAWN
        elif publication in ("ACTIVE", "ACTIVATING", ""):
            status = PublishStatus.PUBLISHED
        else:  # INACTIVE without errors: a draft
            status = PublishStatus.ACCEPTED
        return PublishResult(
            sku,
            status,
            remote_id=offer_id,
            issues=errors + warnings,
            http_status=http_status,
            request_summary=summary,
            remote_data=remote,
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
    ) -> PublishResult:
        body: dict[str, Any] = {}
        if price is not None:
            body["sellingMode"] = {"price": {"amount": money(price), "currency": currency or "PLN"}}
        if quantity is not None:
            body["stock"] = {"available": int(quantity), "unit": "UNIT"}
        if not body:
            raise ValueError("update_price_stock needs a price or a quantity")
        async with self._gate, self._lock_for(sku):
            offer_id = await self._known_offer_id(sku)
            if offer_id is None:
                return PublishResult(sku, PublishStatus.NOT_FOUND)
            response = await self._call("PATCH", f"/sale/product-offers/{offer_id}", json_body=body)
            if response.status_code == 404:
                self._offer_ids.pop(sku, None)
                return PublishResult(sku, PublishStatus.NOT_FOUND, http_status=404)
            return await self._outcome(sku, response, "PATCH", offer_id)

    async def withdraw(self, sku: str) -> PublishResult:
        """End the offer with a publication command (`action: END`), then read its report."""
        async with self._gate, self._lock_for(sku):
            offer_id = await self._known_offer_id(sku)
            if offer_id is None:
                return PublishResult(sku, PublishStatus.NOT_FOUND)
            command_id = str(uuid.uuid4())
            path = f"/sale/offer-publication-commands/{command_id}"
            body = {
                "publication": {"action": "END"},
                "offerCriteria": [{"type": "CONTAINS_OFFERS", "offers": [{"id": offer_id}]}],
            }
            response = await self._call("PUT", path, json_body=body)  # our UUID: safe to repeat
            summary = {"method": "PUT", "path": path, "offer_id": offer_id}
            if response.status_code not in (200, 201):
                return await self._outcome(sku, response, "PUT", offer_id)
            report = response_json(response)
            deadline = time.monotonic() + self.operation_timeout
            while True:
                counts = report.get("taskCount") or {}
                total = int(counts.get("total") or 0)
                done = int(counts.get("success") or 0) + int(counts.get("failed") or 0)
                if total and done >= total:
                    break
                if time.monotonic() > deadline:
                    return PublishResult(
                        sku,
                        PublishStatus.ACCEPTED,
                        remote_id=offer_id,
                        request_summary=summary,
                        remote_data={"command_id": command_id},
                    )
                await asyncio.sleep(0.5)
                report = response_json(await self._call("GET", path))
            if int(counts.get("failed") or 0):
                tasks = response_json(await self._call("GET", f"{path}/tasks"))
                messages = [str(t.get("message") or "") for t in tasks.get("tasks") or []]
                raise PermanentError(
                    f"allegro: the offer could not be ended: {'; '.join(m for m in messages if m)}",
                    marketplace=MARKETPLACE,
                )
            return PublishResult(
                sku,
                PublishStatus.WITHDRAWN,
                remote_id=offer_id,
                http_status=response.status_code,
                request_summary=summary,
                remote_data={"command_id": command_id},
            )

    async def remote_status(self, sku: str) -> PublishResult:
        offer_id = await self._known_offer_id(sku)
        if offer_id is None:
            return PublishResult(sku, PublishStatus.NOT_FOUND)
        response = await self._call("GET", f"/sale/product-offers/{offer_id}")
        if response.status_code == 404:
            self._offer_ids.pop(sku, None)
            return PublishResult(sku, PublishStatus.NOT_FOUND, http_status=404)
        summary = {"method": "GET", "path": "/sale/product-offers", "offer_id": offer_id}
        if response.status_code != 200:
            return await self._outcome(sku, response, "GET", offer_id)
        result = self._from_offer(sku, response_json(response), 200, summary)
        if (
            result.status is PublishStatus.PUBLISHED
            and result.remote_data.get("publication_status") == "ACTIVATING"
        ):
            result.status = PublishStatus.ACCEPTED
        return result

    async def check_connection(self) -> None:
        response = await self._call("GET", "/me")
        if response.status_code != 200:
            raise PermanentError(
                f"allegro: /me answered {response.status_code}",
                marketplace=MARKETPLACE,
                status=response.status_code,
            )


def create_client(
    credentials: Mapping[str, str],
    *,
    token_store: TokenStore,
    sandbox: bool = False,
    base_url: str | None = None,
    auth_url: str | None = None,
    rate: float | None = None,
    http_client: httpx.AsyncClient | None = None,
    **options: Any,
) -> AllegroClient:
    """An AllegroClient from stored credentials (client_id, client_secret, refresh_token).

    `options` go to AllegroClient (accept_language, concurrency, account, attempts, backoff...).
    """
    missing = missing_credentials(credentials, CREDENTIAL_FIELDS)
    if missing:
        raise PermanentError(
            f"allegro: credentials lack {', '.join(missing)}", marketplace=MARKETPLACE
        )
    api, auth = hosts(sandbox)
    return AllegroClient(
        client_id=credentials["client_id"],
        client_secret=credentials["client_secret"],
        refresh_token=credentials["refresh_token"],
        token_store=token_store,
        base_url=base_url or api,
        auth_url=auth_url or auth,
        rate=rate or DEFAULT_RATE,
        http_client=http_client,
        **options,
    )


def _implements_the_contract(client: AllegroClient) -> MarketplaceClient:
    return client  # mypy proves AllegroClient satisfies MarketplaceClient
