"""What the marketplace client tests share: closing the clients a test made, EANs with a valid
check digit, and the thousand-offer run against a fake that throttles and fails on purpose."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from listingflow.integrations.marketplaces.base import MarketplaceClient, Offer, PublishStatus


@pytest.fixture
async def opened() -> AsyncIterator[list[MarketplaceClient]]:
    """Clients a test made (its make_client appends them); closed after the test."""
    clients: list[MarketplaceClient] = []
    yield clients
    for client in clients:
        await client.aclose()


def ean13(n: int) -> str:
    """A valid EAN-13 for a number (check digit computed)."""
    body = f"400{n:09d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


async def publish_despite_faults(
    server: Any, client: MarketplaceClient, offers: Sequence[Offer], *, match: str
) -> None:
    """Publish every offer concurrently while the server (a `Faults` fake) throttles at 600 a
    second and fails creates once each way: every offer is published once, results in order."""
    server.faults.rate_limit = 600
    server.faults.retry_after = 0.2
    server.plan("429", "500", "500_after", match=match)
    results = await client.publish_many(offers)
    assert [r.sku for r in results] == [o.sku for o in offers]
    assert all(r.status is PublishStatus.PUBLISHED for r in results)
    counts = server.skus()
    assert len(counts) == len(offers) and set(counts.values()) == {1}
    assert len({r.remote_id for r in results}) == len(offers)
