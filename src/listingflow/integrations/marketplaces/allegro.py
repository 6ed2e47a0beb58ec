"""Allegro REST API client: OAuth device flow and rotating refresh tokens, offers through
`/sale/product-offers` (201, or 202 and an operation to poll), ending offers with publication
commands, and the offer JSON bulk file.

Facts from shared/reference/marketplace-apis.md section 3. Idempotent by SKU: our SKU travels as
`external.id`, and a SKU that already has an offer (known id, or found with
`GET /sale/offers?external.id=`) is updated with PATCH instead of getting a second offer.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import urljoin

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
from listingflow.integrations.marketplaces.http import (
    MarketplaceHTTP,
    OutcomeUnknownError,
    parse_retry_after,
)
from listingflow.rules.markup import escape, looks_like_html, sanitize, to_blocks
from listingflow.rules.rulebooks import RULEBOOKS

__all__ = [
    "CREDENTIAL_FIELDS",
    "EXPORT_FILENAME",
    "EXPORT_MEDIA_TYPE",
    "MEDIA_TYPE",
    "SECRET_FIELDS",
    "AllegroClient",
    "AllegroTokens",
    "DeviceCode",
    "DeviceFlowDeniedError",
    "DeviceFlowExpiredError",
    "create_client",
    "export_file",
    "offer_body",
    "poll_device_flow",
    "start_device_flow",
]

log = structlog.get_logger()

MARKETPLACE = "allegro"
CREDENTIAL_FIELDS: tuple[str, ...] = ("client_id", "client_secret", "refresh_token")
SECRET_FIELDS: tuple[str, ...] = ("client_secret", "refresh_token")

API_URL = "https://api.allegro.pl"
AUTH_URL = "https://allegro.pl"
SANDBOX_API_URL = "https://api.allegro.pl.allegrosandbox.pl"
SANDBOX_AUTH_URL = "https://allegro.pl.allegrosandbox.pl"
MEDIA_TYPE = "application/vnd.allegro.public.v1+json"

# 9,000 requests a minute per Client ID; a small burst keeps any minute under the limit.
DEFAULT_RATE = 9000 / 60
DEFAULT_BURST = 10
DEFAULT_CONCURRENCY = 16  # too many parallel requests trip the per-user leaky bucket (429)
ACCESS_TOKEN_MARGIN = 60.0  # seconds before expiry at which a cached access token is not used

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


def _money(value: Decimal) -> str:
    try:
        return str(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    except InvalidOperation as exc:
        raise PermanentError(f"price {value!r} is not a number", marketplace=MARKETPLACE) from exc


def description_html(description: str, bullets: Sequence[str] = ()) -> str:
    """The description as Allegro section HTML: only its allowed tags, bullets as a list."""
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
            tag = "h2" if block.kind == "heading" else "p"
            pieces.append(f"<{tag}>{escape(block.text)}</{tag}>")
        if items:
            pieces.append("<ul>" + "".join(items) + "</ul>")
        body = "".join(pieces)
    if bullets:
        body += "<ul>" + "".join(f"<li>{escape(b)}</li>" for b in bullets if b.strip()) + "</ul>"
    return sanitize(body, _DESCRIPTION_TAGS)


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
        "price": {"amount": _money(offer.price), "currency": offer.currency},
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


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}


def _error_text(response: httpx.Response) -> str:
    body = _json(response)
    issues = issues_from(body)
    if issues:
        return "; ".join(i.message for i in issues)
    if isinstance(body, dict) and body.get("error"):
        return str(body.get("error_description") or body["error"])
    return response.text[:300]


# ------------------------------------------------------------------------------ OAuth


@dataclass(frozen=True, slots=True)
class DeviceCode:
    """What `start_device_flow` hands the person connecting: open the URI, confirm the code."""

    user_code: str
    verification_uri_complete: str
    device_code: str
    interval: float
    expires_in: float
    verification_uri: str = ""


@dataclass(frozen=True, slots=True)
class AllegroTokens:
    access_token: str
    refresh_token: str
    expires_in: float
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    scope: str = ""


class DeviceFlowDeniedError(PermanentError):
    """The person refused the connection on Allegro's page (access_denied)."""


class DeviceFlowExpiredError(PermanentError):
    """The device code expired before the person confirmed it: start again."""


def _hosts(sandbox: bool) -> tuple[str, str]:
    return (SANDBOX_API_URL, SANDBOX_AUTH_URL) if sandbox else (API_URL, AUTH_URL)


def _basic(client_id: str, client_secret: str) -> str:
    raw = f"{client_id}:{client_secret}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def _tokens(body: Mapping[str, Any]) -> AllegroTokens:
    return AllegroTokens(
        access_token=str(body["access_token"]),
        refresh_token=str(body.get("refresh_token") or ""),
        expires_in=float(body.get("expires_in") or 43200),
        token_type=str(body.get("token_type") or "bearer"),
        scope=str(body.get("scope") or ""),
    )


async def _auth_post(
    client: httpx.AsyncClient,
    url: str,
    *,
    client_id: str,
    client_secret: str,
    data: Mapping[str, str],
) -> httpx.Response:
    """One token-endpoint call (form body, Basic client credentials); network errors and 5xx
    become RetryableError."""
    try:
        response = await client.post(
            url,
            data=dict(data),
            headers={
                "Authorization": _basic(client_id, client_secret),
                "Accept": "application/json",
            },
        )
    except httpx.TransportError as exc:
        raise RetryableError(
            f"allegro: network error at the token endpoint: {exc.__class__.__name__}",
            marketplace=MARKETPLACE,
        ) from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise RetryableError(
            f"allegro: token endpoint answered {response.status_code}",
            marketplace=MARKETPLACE,
            status=response.status_code,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    return response


async def start_device_flow(
    client_id: str,
    client_secret: str,
    *,
    auth_url: str | None = None,
    sandbox: bool = False,
    http_client: httpx.AsyncClient | None = None,
) -> DeviceCode:
    """Ask Allegro for a device code (`POST /auth/oauth/device`)."""
    base = (auth_url or _hosts(sandbox)[1]).rstrip("/")
    client = http_client or httpx.AsyncClient(timeout=30.0)
    try:
        response = await _auth_post(
            client,
            f"{base}/auth/oauth/device",
            client_id=client_id,
            client_secret=client_secret,
            data={"client_id": client_id},
        )
    finally:
        if http_client is None:
            await client.aclose()
    if response.status_code in (400, 401, 403):
        raise ConnectionBrokenError(
            MARKETPLACE, f"client id or secret refused: {_error_text(response)}"
        )
    if response.status_code != 200:
        raise PermanentError(
            f"allegro: device code request failed ({response.status_code})",
            marketplace=MARKETPLACE,
            status=response.status_code,
        )
    body = response.json()
    return DeviceCode(
        user_code=str(body["user_code"]),
        verification_uri_complete=str(
            body.get("verification_uri_complete") or body.get("verification_uri", "")
        ),
        device_code=str(body["device_code"]),
        interval=float(body.get("interval") or 5),
        expires_in=float(body.get("expires_in") or 600),
        verification_uri=str(body.get("verification_uri") or ""),
    )


async def poll_device_flow(
    client_id: str,
    client_secret: str,
    device: DeviceCode | str,
    *,
    auth_url: str | None = None,
    sandbox: bool = False,
    interval: float | None = None,
    max_wait: float | None = None,
    slow_down_step: float = 5.0,
    http_client: httpx.AsyncClient | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AllegroTokens:
    """Poll the token endpoint until the person confirms the code (RFC 8628).

    authorization_pending: wait `interval` and ask again; slow_down: the interval grows by
    `slow_down_step` (5 s in the RFC); access_denied: DeviceFlowDeniedError; an expired or
    unknown code (expired_token, invalid_grant), or `max_wait` seconds passing (default: the
    code's expires_in): DeviceFlowExpiredError.
    """
    base = (auth_url or _hosts(sandbox)[1]).rstrip("/")
    code = device.device_code if isinstance(device, DeviceCode) else device
    wait = (
        interval
        if interval is not None
        else (device.interval if isinstance(device, DeviceCode) else 5.0)
    )
    limit = (
        max_wait
        if max_wait is not None
        else (device.expires_in if isinstance(device, DeviceCode) else 600.0)
    )
    deadline = time.monotonic() + limit
    client = http_client or httpx.AsyncClient(timeout=30.0)
    try:
        while True:
            response = await _auth_post(
                client,
                f"{base}/auth/oauth/token",
                client_id=client_id,
                client_secret=client_secret,
                data={
                    "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                    "device_code": code,
                },
            )
            if response.status_code == 200:
                return _tokens(response.json())
            body = _json(response)
            error = str(body.get("error") or "") if isinstance(body, dict) else ""
            if error == "slow_down":
                wait += slow_down_step
            elif error == "access_denied":
                raise DeviceFlowDeniedError(
                    "The Allegro connection was refused on Allegro's page", marketplace=MARKETPLACE
                )
            elif error in ("expired_token", "invalid_grant"):
                raise DeviceFlowExpiredError(
                    "The Allegro device code expired or is unknown: start the connection again",
                    marketplace=MARKETPLACE,
                )
            elif error != "authorization_pending":
                if response.status_code == 401 or error == "invalid_client":
                    raise ConnectionBrokenError(MARKETPLACE, "client id or secret refused")
                raise PermanentError(
                    f"allegro: device flow failed: {_error_text(response)}",
                    marketplace=MARKETPLACE,
                    status=response.status_code,
                )
            if time.monotonic() + wait > deadline:
                raise DeviceFlowExpiredError(
                    "The Allegro device code expired before it was confirmed",
                    marketplace=MARKETPLACE,
                )
            await sleep(wait)
    finally:
        if http_client is None:
            await client.aclose()


# ------------------------------------------------------------------------------ the client


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
        self._access_key = f"allegro:{self.account}:access_token"
        self.http = MarketplaceHTTP(
            MARKETPLACE, base_url, rate=rate, burst=burst, client=http_client, **http_options
        )
        self._token_lock = asyncio.Lock()
        self._access: str | None = None
        self._access_expires = 0.0
        self._gate = asyncio.Semaphore(concurrency)
        self._sku_locks: dict[str, asyncio.Lock] = {}
        self._offer_ids: dict[str, str] = {}
        self.refreshes = 0  # token refreshes made by this client (tests, metrics)

    async def aclose(self) -> None:
        await self.http.aclose()

    # -------------------------------------------------------------------------- tokens

    async def _refresh_token(self) -> str:
        return await self.store.get(self._refresh_key) or self._initial_refresh

    async def _access_token(self) -> str:
        if self._access and time.monotonic() < self._access_expires:
            return self._access
        async with self._token_lock:
            if self._access and time.monotonic() < self._access_expires:
                return self._access
            stored = await self.store.get(self._access_key)
            if stored:
                self._access = stored
                self._access_expires = time.monotonic() + ACCESS_TOKEN_MARGIN
                return stored
            return await self._refresh()

    async def _on_unauthorized(self, stale: str | None) -> None:
        async with self._token_lock:
            if self._access and self._access != stale and time.monotonic() < self._access_expires:
                return  # someone refreshed while this request was out
            stored = await self.store.get(self._access_key)
            if stored and stored != stale:
                self._access = stored
                self._access_expires = time.monotonic() + ACCESS_TOKEN_MARGIN
                return
            await self._refresh()

    async def _refresh(self) -> str:
        """Exchange the refresh token; store the rotated one before anything else happens.

        Runs under the token lock. If Allegro says invalid_grant but the store now holds a
        different refresh token, another process rotated it first: use that one.
        """
        used = await self._refresh_token()
        for _ in range(2):
            response = await _auth_post(
                self.http.client,
                f"{self.auth_url}/auth/oauth/token",
                client_id=self.client_id,
                client_secret=self._client_secret,
                data={"grant_type": "refresh_token", "refresh_token": used},
            )
            if response.status_code == 200:
                tokens = _tokens(response.json())
                if tokens.refresh_token:
                    await self.store.set(self._refresh_key, tokens.refresh_token)
                ttl = max(1.0, tokens.expires_in - ACCESS_TOKEN_MARGIN)
                await self.store.set(self._access_key, tokens.access_token, ttl=ttl)
                self._access = tokens.access_token
                self._access_expires = time.monotonic() + ttl
                self.refreshes += 1
                log.info("allegro.token_refreshed", account=self.client_id)
                return tokens.access_token
            body = _json(response)
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
                f"allegro: token refresh failed ({response.status_code}): {_error_text(response)}",
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
        used: list[str] = []

        async def auth(request: httpx.Request) -> None:
            token = await self._access_token()
            used.append(token)
            request.headers["Authorization"] = f"Bearer {token}"

        async def refresh() -> None:
            await self._on_unauthorized(used[-1] if used else None)

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
                f"allegro: not allowed ({_error_text(response)}); the connection may lack a scope",
                marketplace=MARKETPLACE,
                status=403,
            )
        if response.status_code in (406, 415):
            raise PermanentError(
                f"allegro: media type refused ({response.status_code}): {_error_text(response)}",
                marketplace=MARKETPLACE,
                status=response.status_code,
            )
        return response

    def _lock_for(self, sku: str) -> asyncio.Lock:
        lock = self._sku_locks.get(sku)
        if lock is None:
            lock = self._sku_locks[sku] = asyncio.Lock()
        return lock

    async def find_offer_id(self, sku: str) -> str | None:
        """The id of the offer carrying our SKU as external.id, if Allegro has one."""
        response = await self._call("GET", "/sale/offers", params={"external.id": sku, "limit": 10})
        if response.status_code != 200:
            raise PermanentError(
                f"allegro: offer lookup failed ({response.status_code}): {_error_text(response)}",
                marketplace=MARKETPLACE,
                status=response.status_code,
            )
        offers = [
            o
            for o in _json(response).get("offers") or []
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
            issues = _local_issues(offer)
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
            return self._from_offer(sku, _json(response), status, summary)
        if status == 202:
            body = _json(response)
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
            issues = issues_from(_json(response)) or [
                Issue("allegro.refused", "offer", Severity.ERROR, _error_text(response))
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
            f"allegro: unexpected answer {status}: {_error_text(response)}",
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
                    return self._from_offer(sku, _json(final), final.status_code, summary)
                response = final
            if response.status_code == 200 and "operation" not in _json(response):
                return self._from_offer(sku, _json(response), 200, summary)
            if response.status_code in (400, 422):
                return PublishResult(
                    sku,
                    PublishStatus.REJECTED,
                    remote_id=offer_id,
                    issues=issues_from(_json(response)),
                    http_status=response.status_code,
                    request_summary=summary,
                )
            raise PermanentError(
                f"allegro: operation answered {response.status_code}: {_error_text(response)}",
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
    ) -> PublishResult:
        body: dict[str, Any] = {}
        if price is not None:
            body["sellingMode"] = {
                "price": {"amount": _money(price), "currency": currency or "PLN"}
            }
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
            report = _json(response)
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
                report = _json(await self._call("GET", path))
            if int(counts.get("failed") or 0):
                tasks = _json(await self._call("GET", f"{path}/tasks"))
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
        result = self._from_offer(sku, _json(response), 200, summary)
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


def _local_issues(offer: Offer) -> list[Issue]:
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
                    or [Issue("allegro.refused", "offer", Severity.ERROR, outcome.message)],
                )
            )
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            results.append(outcome)
    return results


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
    missing = [name for name in CREDENTIAL_FIELDS if not credentials.get(name)]
    if missing:
        raise PermanentError(
            f"allegro: credentials lack {', '.join(missing)}", marketplace=MARKETPLACE
        )
    api, auth = _hosts(sandbox)
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
