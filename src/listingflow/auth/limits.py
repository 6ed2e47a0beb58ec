"""Abuse limits: requests per API key and per client address, sign-in attempts per address and
a lockout of an email after repeated failed sign-ins.

Counted with the `limits` library (moving window): in Redis when LISTINGFLOW_REDIS_URL is set,
so every API replica shares one count, in this process's memory otherwise. If Redis cannot be
reached the limits let requests through (logged): an outage of the counter must not become an
outage of the API.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from listingflow.config import Settings

log = structlog.get_logger()

KEY_NAMESPACE = "listingflow"


def parse_limit(value: str | None) -> RateLimitItem | None:
    """`600/minute` -> a limit; "" or "0" -> None (that limit is off)."""
    value = (value or "").strip()
    if value in ("", "0"):
        return None
    return parse(value)


def describe(item: RateLimitItem) -> str:
    """`600 per 1 minute`, for messages."""
    unit = item.GRANULARITY.name
    if item.multiples == 1:
        return f"{item.amount} per {unit}"
    return f"{item.amount} per {item.multiples} {unit}s"


def fingerprint(value: str) -> str:
    """Raw API keys and emails never go into the counter's keys (Redis is not a secret store)."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def make_storage(redis_url: str | None) -> Storage:
    if redis_url:
        uri = redis_url if redis_url.startswith("async+") else f"async+{redis_url}"
        return RedisStorage(uri, implementation="redispy", key_prefix="LIMITS:listingflow")
    return MemoryStorage()


@dataclass(frozen=True)
class Refusal:
    """Which limit refused, in words, and when to try again (whole seconds, at least 1)."""

    limit: str
    message: str
    retry_after: int


class AbuseLimits:
    """Every abuse limit of one app, on one storage (one per app instance)."""

    def __init__(self, settings: Settings, storage: Storage | None = None) -> None:
        self.storage = storage if storage is not None else make_storage(settings.redis_url)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.per_key = parse_limit(settings.rate_limit_per_key)
        self.per_ip = parse_limit(settings.rate_limit_per_ip)
        self.login_per_ip = parse_limit(settings.login_rate_limit_per_ip)
        self.login_failures = (
            parse(f"{settings.login_max_failures}/{settings.login_lockout_seconds} second")
            if settings.login_max_failures > 0
            else None
        )

    async def _hit(
        self, item: RateLimitItem | None, scope: str, who: str, limit_name: str, message: str
    ) -> Refusal | None:
        if item is None:
            return None
        try:
            if await self.limiter.hit(item, KEY_NAMESPACE, scope, who):
                return None
            stats = await self.limiter.get_window_stats(item, KEY_NAMESPACE, scope, who)
        except Exception as exc:  # fail open: the counter's outage is not the API's
            log.warning("ratelimit.unavailable", scope=scope, error=str(exc))
            return None
        return Refusal(
            limit_name, message.format(limit=describe(item)), _retry_in(stats.reset_time)
        )

    async def check_request(self, *, api_key: str | None, client_ip: str | None) -> Refusal | None:
        """Counts one API request against the address, then the key; the first refusal wins."""
        if client_ip:
            refusal = await self._hit(
                self.per_ip,
                "api-ip",
                client_ip,
                "rate_limit_per_ip",
                "too many requests from this address: the limit is {limit}",
            )
            if refusal is not None:
                return refusal
        if api_key:
            return await self._hit(
                self.per_key,
                "api-key",
                fingerprint(api_key),
                "rate_limit_per_key",
                "too many requests with this API key: the limit is {limit}",
            )
        return None

    # --- sign-in ----------------------------------------------------------------------------

    async def check_login(self, *, client_ip: str | None, email: str) -> Refusal | None:
        """Before the password is checked: one attempt counted against the address; an email
        with too many recent failures is refused without looking at the password."""
        if client_ip:
            refusal = await self._hit(
                self.login_per_ip,
                "login-ip",
                client_ip,
                "login_rate_limit_per_ip",
                "too many sign-in attempts from this address: the limit is {limit}",
            )
            if refusal is not None:
                return refusal
        item = self.login_failures
        if item is None or not email:
            return None
        who = fingerprint(email.strip().lower())
        try:
            if await self.limiter.test(item, KEY_NAMESPACE, "login-failures", who):
                return None
            stats = await self.limiter.get_window_stats(item, KEY_NAMESPACE, "login-failures", who)
        except Exception as exc:
            log.warning("ratelimit.unavailable", scope="login-failures", error=str(exc))
            return None
        retry = _retry_in(stats.reset_time)
        return Refusal(
            "login_max_failures",
            f"this account is locked after {item.amount} failed sign-ins; "
            f"try again in {math.ceil(retry / 60)} minute{'s' if retry > 60 else ''}",
            retry,
        )

    async def login_failed(self, email: str) -> None:
        if self.login_failures is None or not email:
            return
        who = fingerprint(email.strip().lower())
        try:
            await self.limiter.hit(self.login_failures, KEY_NAMESPACE, "login-failures", who)
        except Exception as exc:
            log.warning("ratelimit.unavailable", scope="login-failures", error=str(exc))

    async def login_succeeded(self, email: str) -> None:
        """A correct password clears that email's failures."""
        if self.login_failures is None:
            return
        who = fingerprint(email.strip().lower())
        try:
            await self.limiter.clear(self.login_failures, KEY_NAMESPACE, "login-failures", who)
        except Exception as exc:
            log.warning("ratelimit.unavailable", scope="login-failures", error=str(exc))

    async def close(self) -> None:
        """Closes the Redis connection pool (limits keeps its client on `bridge.storage`)."""
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        if client is not None:
            await client.aclose()


def _retry_in(reset_time: float) -> int:
    return max(1, math.ceil(reset_time - time.time()))
