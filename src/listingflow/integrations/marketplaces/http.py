"""The HTTP layer every marketplace client shares: a token bucket per account, exact request
bytes, retries on 429 (honouring Retry-After), 5xx and network errors, and one refresh of the
access token on a 401.

Clients build requests and map responses; this module decides when to send and when to try
again. What is left after the retries is raised as RetryableError, so a job retries the item
later instead of losing it. Other 4xx answers are returned for the client to map into Issues.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any
from urllib.parse import urlencode

import httpx
import stamina
import structlog

from listingflow.integrations.marketplaces.base import (
    ConnectionBrokenError,
    PermanentError,
    RetryableError,
    TokenStore,
)

log = structlog.get_logger()

AuthHook = Callable[[httpx.Request], Awaitable[None]]
RefreshHook = Callable[[], Awaitable[None]]
UnauthorizedTest = Callable[[httpx.Response], bool]


class OutcomeUnknownError(RetryableError):
    """A call that is not safe to repeat (`idempotent=False`) got a 5xx or lost its connection
    after the request went out: the marketplace may have applied it. The client reconciles
    (looks the SKU up) before trying again, instead of creating a duplicate."""


class TokenBucket:
    """At most `rate` requests a second on average, bursts of up to `burst`.

    One bucket per marketplace account, shared by every request of that account in this process
    (the marketplaces count per account). `pause()` stops everyone after a 429.
    """

    def __init__(self, rate: float, burst: int | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = float(burst if burst is not None else max(1, int(rate)))
        self._tokens = self.capacity
        self._updated = time.monotonic()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                if now < self._paused_until:
                    await asyncio.sleep(self._paused_until - now)
                    continue
                self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)
        self._tokens = 0


def parse_retry_after(value: str | None, *, default: float | None = None) -> float | None:
    """Retry-After as seconds (a number or an HTTP date), or `default`."""
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - time.time())


def _is_401(response: httpx.Response) -> bool:
    return response.status_code == 401


def encode_json(body: Any) -> bytes:
    """The exact bytes sent (and signed): compact, UTF-8, stable key order as given."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class MarketplaceHTTP:
    """One account's connection to one marketplace host."""

    def __init__(
        self,
        marketplace: str,
        base_url: str,
        *,
        rate: float,
        burst: int | None = None,
        timeout: float = 30.0,
        attempts: int = 5,
        max_retry_wait: float = 60.0,
        backoff: float = 0.5,
        user_agent: str = "ListingFlow/0.1 (Language=Python)",
        client: httpx.AsyncClient | None = None,
        bucket: TokenBucket | None = None,
    ) -> None:
        self.marketplace = marketplace
        self.base_url = base_url.rstrip("/")
        self.bucket = bucket or TokenBucket(rate, burst)
        self.attempts = attempts
        self.max_retry_wait = max_retry_wait
        self.backoff = backoff
        self.user_agent = user_agent
        self._owns_client = client is None
        self.client = client or httpx.AsyncClient(
            timeout=timeout, limits=httpx.Limits(max_connections=50, max_keepalive_connections=20)
        )
        self.calls = 0  # requests sent, retries included (for metrics and tests)

    async def aclose(self) -> None:
        if self._owns_client:
            await self.client.aclose()

    def _url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    def _backoff_for(self, exc: Exception) -> bool | float:
        if not isinstance(exc, RetryableError) or isinstance(exc, OutcomeUnknownError):
            return False
        if exc.retry_after is not None:
            return min(exc.retry_after, self.max_retry_wait)
        return True  # stamina's exponential backoff with jitter

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        auth: AuthHook | None = None,
        on_unauthorized: RefreshHook | None = None,
        is_unauthorized: UnauthorizedTest | None = None,
        rate_limited: bool = True,
        idempotent: bool = True,
    ) -> httpx.Response:
        """Send with retries; return the final response unless it was 429/5xx/network.

        `auth` adds credentials to each attempt (a signature with a fresh timestamp, the current
        access token); `on_unauthorized` refreshes the token once after a 401, or after whatever
        answer `is_unauthorized` recognises (SP-API says an access token expired with a 403).
        With `idempotent=False` (a create without an idempotency key) only 429 and connections
        that never reached the server are retried; a 5xx or a lost response raises
        OutcomeUnknownError at once, so the caller can look up what happened before trying again.
        """
        expired = is_unauthorized or _is_401
        if json_body is not None:
            content = encode_json(json_body)
        base_headers = {"User-Agent": self.user_agent, **(headers or {})}
        if json_body is not None:
            base_headers.setdefault("Content-Type", "application/json")
        refreshed = False

        async def attempt() -> httpx.Response:
            nonlocal refreshed
            while True:
                if rate_limited:
                    await self.bucket.acquire()
                request = self.client.build_request(
                    method,
                    self._url(path),
                    content=content,
                    data=data,
                    headers=base_headers,
                    params=params,
                )
                if auth is not None:
                    await auth(request)
                self.calls += 1
                try:
                    response = await self.client.send(request)
                except httpx.TransportError as exc:
                    unsent = isinstance(
                        exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
                    )
                    error = RetryableError if idempotent or unsent else OutcomeUnknownError
                    raise error(
                        f"{self.marketplace}: network error: {exc.__class__.__name__}",
                        marketplace=self.marketplace,
                    ) from exc
                if on_unauthorized is not None and not refreshed and expired(response):
                    refreshed = True
                    await on_unauthorized()
                    continue
                if response.status_code == 429:
                    wait = parse_retry_after(response.headers.get("Retry-After"))
                    if wait is not None:
                        self.bucket.pause(min(wait, self.max_retry_wait))
                    log.info(
                        "marketplace.throttled",
                        marketplace=self.marketplace,
                        path=request.url.path,
                        retry_after=wait,
                    )
                    raise RetryableError(
                        f"{self.marketplace}: too many requests (429)",
                        marketplace=self.marketplace,
                        status=429,
                        retry_after=wait,
                    )
                if response.status_code >= 500:
                    error = RetryableError if idempotent else OutcomeUnknownError
                    raise error(
                        f"{self.marketplace}: server error {response.status_code}",
                        marketplace=self.marketplace,
                        status=response.status_code,
                        retry_after=parse_retry_after(response.headers.get("Retry-After")),
                    )
                return response

        async for try_ in stamina.retry_context(
            on=self._backoff_for,
            attempts=self.attempts,
            timeout=None,
            wait_initial=self.backoff,
            wait_max=self.max_retry_wait,
        ):
            with try_:
                return await attempt()
        raise AssertionError("stamina ends by returning or raising")  # pragma: no cover


async def token_grant(
    http: MarketplaceHTTP,
    url: str,
    form: Mapping[str, str],
    *,
    headers: Mapping[str, str],
    broken: Collection[str],
    refused: str,
) -> dict[str, Any]:
    """POST a form-encoded grant to an OAuth token endpoint (with the usual retries); the
    answer when it carries an access token.

    An error code in `broken` (the refresh token or the app is no longer accepted) raises
    ConnectionBrokenError; any other refusal PermanentError, "`refused` (status: code)".
    """
    response = await http.request(
        "POST",
        url,
        content=urlencode(form).encode(),
        headers=headers,
        rate_limited=False,
    )
    try:
        body = response.json() if response.content else {}
    except ValueError:
        body = None
    if response.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
        return body
    error = body.get("error") if isinstance(body, dict) else None
    detail = body.get("error_description") if isinstance(body, dict) else None
    if error in broken:
        log.warning("marketplace.connection_broken", marketplace=http.marketplace, error=error)
        raise ConnectionBrokenError(http.marketplace, str(detail or error))
    raise PermanentError(
        f"{refused} ({response.status_code}: {error or 'no error code'})",
        marketplace=http.marketplace,
        status=response.status_code,
    )


TokenExchange = Callable[[], Awaitable[tuple[str, float]]]


class AccessTokenCache:
    """One account's OAuth access token: read from the TokenStore while it is fresh, otherwise
    exchanged once (concurrent callers wait for that one exchange instead of each making theirs).

    `exchange()` returns (access_token, expires_in seconds) and raises ConnectionBrokenError for
    a dead refresh token. The token is kept until shortly before it expires (`margin` seconds, at
    most a tenth of its life), so a request never starts with a token about to lapse. With
    `hold` seconds, a token is also kept in this process (at most that long after reading it
    from the store; until its stored expiry after an exchange), sparing the store a read per
    request.
    """

    def __init__(
        self,
        store: TokenStore,
        key: str,
        exchange: TokenExchange,
        *,
        margin: float = 60.0,
        hold: float = 0.0,
    ) -> None:
        self.store = store
        self.key = key
        self._exchange = exchange
        self.margin = margin
        self.hold = hold
        self._lock = asyncio.Lock()
        self._held: str | None = None
        self._held_until = 0.0
        self.exchanges = 0  # token requests made by this cache (for tests and metrics)

    def _kept(self) -> str | None:
        return self._held if self._held and time.monotonic() < self._held_until else None

    def _keep(self, token: str, seconds: float) -> str:
        if self.hold:
            self._held, self._held_until = token, time.monotonic() + seconds
        return token

    async def _stored(self) -> str | None:
        token = await self.store.get(self.key)
        return self._keep(token, self.hold) if token else None

    async def get(self) -> str:
        token = self._kept() or await self._stored()
        if token:
            return token
        async with self._lock:
            token = self._kept() or await self._stored()
            if token:
                return token
            return await self._renew()

    async def refresh(self, stale: str | None = None) -> str:
        """A call was refused with `stale`: exchange again unless someone already did.
        Without `stale`, always exchange (proving the credentials work)."""
        async with self._lock:
            if stale is not None:
                kept = self._kept()
                if kept and kept != stale:
                    return kept
                current = await self._stored()
                if current and current != stale:
                    return current
            return await self._renew()

    def hooks(self, header: str, scheme: str = "") -> tuple[AuthHook, RefreshHook]:
        """MarketplaceHTTP.request's `auth` and `on_unauthorized` for one request: the current
        token in `header` (after `scheme`, e.g. "Bearer "), and after a refusal one refresh
        that names the token that was refused."""
        used: list[str] = []

        async def auth(request: httpx.Request) -> None:
            token = await self.get()
            used.append(token)
            request.headers[header] = f"{scheme}{token}"

        async def refresh() -> None:
            await self.refresh(used[-1] if used else None)

        return auth, refresh

    async def _renew(self) -> str:
        self.exchanges += 1
        token, expires_in = await self._exchange()
        ttl = max(0.5, expires_in - min(self.margin, expires_in / 10))
        await self.store.set(self.key, token, ttl=ttl)
        return self._keep(token, ttl)
