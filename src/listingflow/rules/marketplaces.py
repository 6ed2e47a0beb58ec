"""The marketplaces ListingFlow knows: ids, names, regions and the language each region shows.

A marketplace is named by its id ("amazon") or by a regional site ("amazon.de", "ebay.co.uk");
`resolve` turns either into the marketplace and its region, so rules look up one rulebook per
marketplace while the language follows the site. This registry backs `/api/export/marketplaces`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Region:
    code: str  # ISO 3166-1 alpha-2, lower case ("de"); "uk" is what sellers say for gb
    site: str  # "amazon.de"
    language: str  # ISO 639-1 the site shows
    currency: str


@dataclass(frozen=True, slots=True)
class Marketplace:
    id: str
    name: str
    regions: tuple[Region, ...]
    default_region: str
    has_offline_optimizer: bool = True

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(region.language for region in self.regions))

    @property
    def default_language(self) -> str:
        return self.region(self.default_region).language

    def region(self, code: str) -> Region:
        for region in self.regions:
            if region.code == code:
                return region
        raise UnknownMarketplaceError(f"{self.name} has no region '{code}'.")


class UnknownMarketplaceError(ValueError):
    """A marketplace or regional site the rules do not know."""


def _regions(base: str, *rows: tuple[str, str, str, str]) -> tuple[Region, ...]:
    return tuple(Region(code, f"{base}.{tld}", lang, cur) for code, tld, lang, cur in rows)


MARKETPLACES: dict[str, Marketplace] = {
    m.id: m
    for m in (
        Marketplace(
            "amazon",
            "Amazon",
            _regions(
                "amazon",
                ("us", "com", "en", "USD"),
                ("uk", "co.uk", "en", "GBP"),
                ("de", "de", "de", "EUR"),
                ("fr", "fr", "fr", "EUR"),
                ("it", "it", "it", "EUR"),
                ("es", "es", "es", "EUR"),
                ("nl", "nl", "nl", "EUR"),
                ("pl", "pl", "pl", "PLN"),
                ("se", "se", "sv", "SEK"),
            ),
            "us",
        ),
        Marketplace(
            "ebay",
            "eBay",
            _regions(
                "ebay",
                ("us", "com", "en", "USD"),
                ("uk", "co.uk", "en", "GBP"),
                ("de", "de", "de", "EUR"),
                ("fr", "fr", "fr", "EUR"),
                ("it", "it", "it", "EUR"),
                ("es", "es", "es", "EUR"),
                ("pl", "pl", "pl", "PLN"),
            ),
            "us",
        ),
        Marketplace(
            "allegro",
            "Allegro",
            _regions(
                "allegro",
                ("pl", "pl", "pl", "PLN"),
                ("cz", "cz", "cs", "CZK"),
                ("sk", "sk", "sk", "EUR"),
            ),
            "pl",
        ),
        Marketplace(
            "kaufland",
            "Kaufland",
            _regions(
                "kaufland",
                ("de", "de", "de", "EUR"),
                ("at", "at", "de", "EUR"),
                ("pl", "pl", "pl", "PLN"),
                ("cz", "cz", "cs", "CZK"),
                ("sk", "sk", "sk", "EUR"),
            ),
            "de",
        ),
        Marketplace("etsy", "Etsy", _regions("etsy", ("us", "com", "en", "USD")), "us", False),
        Marketplace(
            "shopify", "Shopify", _regions("myshopify", ("us", "com", "en", "USD")), "us", False
        ),
    )
}

_BY_SITE: dict[str, tuple[Marketplace, Region]] = {
    region.site: (marketplace, region)
    for marketplace in MARKETPLACES.values()
    for region in marketplace.regions
}


def resolve(marketplace: str) -> tuple[Marketplace, Region]:
    """The marketplace and region of an id or site: 'amazon' -> (Amazon, its default region),
    'amazon.de' -> (Amazon, de)."""
    key = marketplace.strip().lower()
    found = MARKETPLACES.get(key)
    if found is not None:
        return found, found.region(found.default_region)
    site = _BY_SITE.get(key)
    if site is not None:
        return site
    known = ", ".join(sorted(MARKETPLACES))
    raise UnknownMarketplaceError(f"Unknown marketplace '{marketplace}'; known: {known}.")


def marketplace_language(marketplace: str) -> str:
    """The language buyers on this marketplace (or regional site) read."""
    return resolve(marketplace)[1].language
