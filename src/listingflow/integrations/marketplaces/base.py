"""The marketplace client contract: what a publisher hands a client (Offer), what it gets back
(PublishResult with Issues), and the two kinds of failure (Retryable, Permanent).

Every client (Amazon SP-API, eBay Inventory API, Allegro, Kaufland) implements
`MarketplaceClient`; the publication service knows only this module. Clients know nothing of the
database: credentials come in as plain values, rotated tokens go out through a `TokenStore`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from listingflow.rules.types import Issue, Severity

__all__ = [
    "ConnectionBrokenError",
    "Issue",
    "MarketplaceClient",
    "MarketplaceError",
    "MemoryTokenStore",
    "Offer",
    "PermanentError",
    "PublishResult",
    "PublishStatus",
    "RetryableError",
    "Severity",
    "TokenStore",
]


class MarketplaceError(Exception):
    """A marketplace call failed. `status` is the HTTP status when there was a response."""

    def __init__(
        self,
        message: str,
        *,
        marketplace: str,
        status: int | None = None,
        issues: Sequence[Issue] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.marketplace = marketplace
        self.status = status
        self.issues = list(issues)


class RetryableError(MarketplaceError):
    """Worth trying again later: 429, 5xx, a network error, an operation still running."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class PermanentError(MarketplaceError):
    """Trying again changes nothing: a refused payload, a missing permission, a bad SKU."""


class ConnectionBrokenError(PermanentError):
    """The account's refresh token was revoked or expired: a person must reconnect it.

    Stops the rest of a job for this connection early, with "reconnect <marketplace>".
    """

    def __init__(self, marketplace: str, detail: str = "") -> None:
        text = f"The {marketplace} connection is no longer authorized: reconnect {marketplace}"
        super().__init__(f"{text} ({detail})" if detail else text, marketplace=marketplace)


class PublishStatus(StrEnum):
    PUBLISHED = "published"  # live on the marketplace
    ACCEPTED = "accepted"  # taken for processing (Amazon ACCEPTED, Allegro 202): not live yet
    VALID = "valid"  # a dry run (validation preview) found nothing blocking
    REJECTED = "rejected"  # refused with issues; the seller must change something
    WITHDRAWN = "withdrawn"  # ended / deleted on the marketplace
    NOT_FOUND = "not_found"  # the marketplace does not know the SKU


@dataclass(frozen=True, slots=True)
class Offer:
    """One listing ready to publish: the optimized text plus what the marketplace needs to sell.

    `price` is already converted by the pricing rules into `currency`. `attributes` carries
    marketplace-specific values (Amazon product_type and attributes, eBay category_id and
    aspects, Allegro category id and parameters, Kaufland ean and storefront).
    """

    sku: str
    title: str
    description: str
    price: Decimal
    currency: str
    quantity: int = 1
    bullets: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    brand: str | None = None
    category: str | None = None
    ean: str | None = None
    condition: str = "new"
    language: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    remote_id: str | None = None  # known offer/listing id from an earlier publication


@dataclass(slots=True)
class PublishResult:
    """The outcome for one SKU, as the publication service records it."""

    sku: str
    status: PublishStatus
    remote_id: str | None = None
    issues: list[Issue] = field(default_factory=list)
    http_status: int | None = None
    # a short, secret-free account of the call(s): method, path, ids, counts; for the history
    request_summary: dict[str, Any] = field(default_factory=dict)
    # whatever the marketplace said that we keep beside the listing (offer id, operation id...)
    remote_data: dict[str, Any] = field(default_factory=dict)

    @property
    def blocking(self) -> list[Issue]:
        return [i for i in self.issues if i.severity is Severity.ERROR]

    @property
    def ok(self) -> bool:
        return self.status in (PublishStatus.PUBLISHED, PublishStatus.ACCEPTED, PublishStatus.VALID)


class TokenStore(Protocol):
    """Where a client keeps access tokens (cache) and rotated refresh tokens (persistent).

    Keys are chosen by the client and include the account, so one store serves many accounts.
    """

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str, *, ttl: float | None = None) -> None: ...


class MemoryTokenStore:
    """A TokenStore in process memory: tests, the CLI, and clients without persistence."""

    def __init__(self, initial: Mapping[str, str] | None = None) -> None:
        import time

        self._clock = time.monotonic
        self._values: dict[str, tuple[str, float | None]] = {
            k: (v, None) for k, v in (initial or {}).items()
        }

    async def get(self, key: str) -> str | None:
        item = self._values.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= self._clock():
            self._values.pop(key, None)
            return None
        return value

    async def set(self, key: str, value: str, *, ttl: float | None = None) -> None:
        self._values[key] = (value, None if ttl is None else self._clock() + ttl)


class MarketplaceClient(Protocol):
    """One marketplace account. Every method maps the outcome to PublishResult / Issues and
    raises RetryableError or PermanentError (ConnectionBrokenError for a dead refresh token)."""

    marketplace: str  # "amazon", "ebay", "allegro", "kaufland"
    batch_size: int  # the most offers one publish_many call sends in one API request

    async def publish(self, offer: Offer, *, dry_run: bool = False) -> PublishResult:
        """Create or replace one listing, idempotent by SKU; `dry_run` validates only."""
        ...

    async def publish_many(self, offers: Sequence[Offer]) -> list[PublishResult]:
        """Publish up to `batch_size` offers; one result per offer, in order, per-item outcome."""
        ...

    async def update_price_stock(
        self,
        sku: str,
        *,
        price: Decimal | None = None,
        quantity: int | None = None,
        currency: str | None = None,
    ) -> PublishResult: ...

    async def withdraw(self, sku: str) -> PublishResult: ...

    async def remote_status(self, sku: str) -> PublishResult:
        """What the marketplace says now (Amazon's ACCEPTED becomes PUBLISHED or REJECTED)."""
        ...

    async def check_connection(self) -> None:
        """Prove the credentials work (token exchange or a cheap call); raise if not."""
        ...

    async def aclose(self) -> None: ...
