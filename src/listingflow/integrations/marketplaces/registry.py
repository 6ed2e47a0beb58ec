"""Which client, credential fields and bulk-upload file each publishable marketplace has.

One table, so the publication service, the API and the CLI never name a client module.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from listingflow.integrations.marketplaces.base import MarketplaceClient, Offer, TokenStore

_MODULES = {
    "amazon": "listingflow.integrations.marketplaces.amazon",
    "ebay": "listingflow.integrations.marketplaces.ebay",
    "allegro": "listingflow.integrations.marketplaces.allegro",
    "kaufland": "listingflow.integrations.marketplaces.kaufland",
}
PUBLISHABLE: tuple[str, ...] = tuple(_MODULES)
# Listings per job message: a bulk API's own call size (eBay 25 a call); Amazon sends a feed for
# 50 or more; one-at-a-time APIs (Allegro, Kaufland) get 25 to publish concurrently.
MESSAGE_BATCH = {"amazon": 100, "ebay": 25, "allegro": 25, "kaufland": 25}


class UnsupportedMarketplaceError(ValueError):
    def __init__(self, marketplace: str) -> None:
        super().__init__(
            f"ListingFlow cannot publish to {marketplace!r} yet; one of {', '.join(PUBLISHABLE)}"
        )


@dataclass(frozen=True, slots=True)
class ExportFile:
    content: bytes
    filename: str
    media_type: str


def _module(marketplace: str) -> ModuleType:
    name = _MODULES.get(marketplace)
    if name is None:
        raise UnsupportedMarketplaceError(marketplace)
    return importlib.import_module(name)


def credential_fields(marketplace: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(every credential field, the secret ones) for a marketplace."""
    module = _module(marketplace)
    return tuple(module.CREDENTIAL_FIELDS), tuple(module.SECRET_FIELDS)


def create_client(
    marketplace: str,
    credentials: Mapping[str, str],
    *,
    token_store: TokenStore,
    sandbox: bool = False,
    base_url: str | None = None,
    auth_url: str | None = None,
    rate: float | None = None,
    options: Mapping[str, Any] | None = None,
) -> MarketplaceClient:
    """A client for one account; raises ValueError naming missing or bad credentials."""
    client: MarketplaceClient = _module(marketplace).create_client(
        credentials,
        token_store=token_store,
        sandbox=sandbox,
        base_url=base_url,
        auth_url=auth_url,
        rate=rate,
        **dict(options or {}),
    )
    return client


def export_file(
    marketplace: str, offers: Sequence[Offer], options: Mapping[str, Any] | None = None
) -> ExportFile:
    """The marketplace's bulk-upload file for these offers; needs no credentials."""
    module = _module(marketplace)
    return ExportFile(
        content=module.export_file(offers, **dict(options or {})),
        filename=module.EXPORT_FILENAME,
        media_type=module.EXPORT_MEDIA_TYPE,
    )
