"""Allegro OAuth: the device flow a person confirms on Allegro's page (RFC 8628), and the
token-endpoint call every grant shares (Basic client credentials, form body).

Facts from shared/reference/marketplace-apis.md section 3.2.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from listingflow.integrations.marketplaces.allegro_offers import error_text
from listingflow.integrations.marketplaces.base import PermanentError, RetryableError
from listingflow.integrations.marketplaces.common import response_json
from listingflow.integrations.marketplaces.http import parse_retry_after

MARKETPLACE = "allegro"
API_URL = "https://api.allegro.pl"
AUTH_URL = "https://allegro.pl"
SANDBOX_API_URL = "https://api.allegro.pl.allegrosandbox.pl"
SANDBOX_AUTH_URL = "https://allegro.pl.allegrosandbox.pl"


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


def hosts(sandbox: bool) -> tuple[str, str]:
    return (SANDBOX_API_URL, SANDBOX_AUTH_URL) if sandbox else (API_URL, AUTH_URL)


def _basic(client_id: str, client_secret: str) -> str:
    raw = f"{client_id}:{client_secret}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def tokens_from(body: Mapping[str, Any]) -> AllegroTokens:
    return AllegroTokens(
        access_token=str(body["access_token"]),
        refresh_token=str(body.get("refresh_token") or ""),
        expires_in=float(body.get("expires_in") or 43200),
        token_type=str(body.get("token_type") or "bearer"),
        scope=str(body.get("scope") or ""),
    )


async def token_request(
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
    base = (auth_url or hosts(sandbox)[1]).rstrip("/")
    client = http_client or httpx.AsyncClient(timeout=30.0)
    try:
        response = await token_request(
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
        raise PermanentError(
            f"Allegro refused the client id or client secret: {error_text(response)}",
            marketplace=MARKETPLACE,
            status=response.status_code,
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
    base = (auth_url or hosts(sandbox)[1]).rstrip("/")
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
            response = await token_request(
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
                return tokens_from(response.json())
            body = response_json(response)
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
                    raise PermanentError(
                        "Allegro refused the client id or client secret",
                        marketplace=MARKETPLACE,
                        status=response.status_code,
                    )
                raise PermanentError(
                    f"allegro: device flow failed: {error_text(response)}",
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
