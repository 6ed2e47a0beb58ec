"""The LLM engine contract: what an optimizer gets (limits), returns (LLMResult) and raises.

Engines know nothing of the database or of rulebooks: the caller turns a marketplace's rulebook
into `ListingLimits` (or passes the same fields as a plain dict).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from listingflow.rules.types import Listing, SourceProduct


@dataclass(frozen=True, slots=True)
class ListingLimits:
    """A marketplace's hard limits, as far as an engine must respect them."""

    title_max: int
    bullets_max: int = 5
    bullet_max_chars: int = 500
    search_terms_max_bytes: int = 249  # UTF-8 bytes of the keywords joined by single spaces
    banned_terms: tuple[str, ...] = ()
    language: str | None = None  # the marketplace's language ("pl" on Allegro), if it has one
    description_max: int | None = None
    keywords_max: int | None = None  # e.g. Etsy: 13 tags
    keyword_max_chars: int | None = None  # e.g. Etsy: 20 characters a tag

    @classmethod
    def coerce(cls, value: ListingLimits | Mapping[str, Any]) -> ListingLimits:
        """Accept the dataclass or a plain dict with the same keys (unknown keys are ignored)."""
        if isinstance(value, ListingLimits):
            return value
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in value.items() if k in known}
        if "banned_terms" in data:
            data["banned_terms"] = tuple(str(t) for t in data["banned_terms"] or ())
        return cls(**data)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)} | {
            "banned_terms": list(self.banned_terms)
        }


@dataclass(slots=True)
class LLMResult:
    """One optimized listing and how it was made (for the result cache and the audit trail)."""

    listing: Listing
    engine: str
    model: str
    prompt_version: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    flagged: list[str] = field(default_factory=list)  # invented facts removed from the text
    repaired: list[str] = field(default_factory=list)  # limit repairs, one sentence each
    attempts: int = 1  # HTTP calls made, retries included

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class LLMError(Exception):
    """Base of every engine failure."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status  # the provider's HTTP status, if there was a response
        self.code = code  # the provider's error code ("rate_limit_exceeded", ...)


class LLMRetryable(LLMError):
    """Try again later: 429, 5xx, network errors, timeouts, invalid JSON from the model.

    `retry_in` is the provider's or the limiter's hint in seconds, when there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_in: float | None = None,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_in = retry_in


class LLMQuotaExhausted(LLMRetryable):
    """The daily budget is spent; `retry_in` is the seconds until it allows a call again.

    A subclass of LLMRetryable so a task that retries later does the right thing, as long as it
    waits `retry_in` first.
    """

    def __init__(self, message: str, *, retry_in: float) -> None:
        super().__init__(message, retry_in=retry_in)


class LLMPermanent(LLMError):
    """Retrying cannot help: invalid key (401), unknown model or URL (404), bad request (400)."""


class LLMEngine(Protocol):
    """Turns a product's facts into one marketplace's listing."""

    async def optimize(
        self,
        product: SourceProduct,
        marketplace: str,
        limits: ListingLimits,
        *,
        target_language: str,
    ) -> LLMResult: ...
