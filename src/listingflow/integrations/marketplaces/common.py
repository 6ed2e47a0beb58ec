"""What more than one marketplace client does the same way: reading a JSON answer, checking
credentials are there, a description as the marketplace's allowed HTML, per-key locks, and
publishing offers one request each, concurrently (Allegro, Kaufland).

Pure helpers without I/O of their own; each client keeps its protocol and its wording.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import httpx

from listingflow.integrations.marketplaces.base import (
    ConnectionBrokenError,
    Issue,
    MarketplaceError,
    Offer,
    PublishResult,
    PublishStatus,
    RetryableError,
    Severity,
)
from listingflow.rules.markup import escape, looks_like_html, sanitize, to_blocks


def response_json(response: httpx.Response) -> Any:
    """The answer's JSON, or {} when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return {}


def missing_credentials(credentials: Mapping[str, str], names: Sequence[str]) -> list[str]:
    """The credential fields in `names` that are absent or blank."""
    return [name for name in names if not str(credentials.get(name) or "").strip()]


def description_html(
    description: str, bullets: Sequence[str], *, tags: frozenset[str], heading: str
) -> str:
    """The description as HTML with only the marketplace's allowed `tags`: HTML is sanitized,
    plain text becomes paragraphs, lists and `heading` headings; bullets follow as a list."""
    if looks_like_html(description):
        body = sanitize(description, tags)
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
            tag = heading if block.kind == "heading" else "p"
            pieces.append(f"<{tag}>{escape(block.text)}</{tag}>")
        if items:
            pieces.append("<ul>" + "".join(items) + "</ul>")
        body = "".join(pieces)
    if bullets:
        body += "<ul>" + "".join(f"<li>{escape(b)}</li>" for b in bullets if b.strip()) + "</ul>"
    return sanitize(body, tags)


K = TypeVar("K", bound=Hashable)


class KeyedLocks(Generic[K]):
    """One asyncio.Lock per key (a SKU, a SKU on a storefront), made on first use, so two
    requests for the same listing never overlap."""

    def __init__(self) -> None:
        self._locks: dict[K, asyncio.Lock] = {}

    def __call__(self, key: K) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock


def gather_results(
    offers: Sequence[Offer], outcomes: Sequence[Any], *, marketplace: str
) -> list[PublishResult]:
    """Results in order from concurrent publishes: a dead connection or a transient failure
    raises (the whole batch is tried again, safe as publishing is idempotent by SKU); another
    marketplace error is a REJECTED result with its issues."""
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
                    or [Issue(f"{marketplace}.refused", "offer", Severity.ERROR, outcome.message)],
                )
            )
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            results.append(outcome)
    return results


async def publish_concurrently(
    publish: Callable[[Offer], Awaitable[PublishResult]],
    offers: Sequence[Offer],
    *,
    marketplace: str,
) -> list[PublishResult]:
    """Every offer at once (the client's token bucket and gate pace them); results in order.

    A refused offer is a REJECTED result; a dead connection raises ConnectionBrokenError and a
    transient failure raises RetryableError (publishing again is safe: idempotent by SKU).
    """
    outcomes = await asyncio.gather(*(publish(offer) for offer in offers), return_exceptions=True)
    return gather_results(offers, outcomes, marketplace=marketplace)
