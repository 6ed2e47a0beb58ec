"""One Rulebook per marketplace: the limits and policies validation checks and the optimizer obeys.

Values come from shared/reference/marketplace-rules.md. Fields the reference marks unverified
are listed in `Rulebook.unverified` and can be replaced at run time through
`get_rulebook(marketplace, overrides)` (the app feeds overrides from settings). Category-specific
required attributes come from a JSON file (`load_category_requirements`), since marketplaces
change them per category far more often than code ships.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from listingflow.rules.marketplaces import MARKETPLACES, UnknownMarketplaceError, resolve
from listingflow.rules.types import Severity

__all__ = [
    "MARKETPLACES",
    "RULEBOOKS",
    "Rulebook",
    "category_required_attributes",
    "get_rulebook",
    "load_category_requirements",
]

TitleOrder = Literal["brand_first", "type_first"]
DescriptionFormat = Literal["plain", "html"]
KeywordKind = Literal["search_terms", "tags"]

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

# Active content that every marketplace rejects (eBay: "Disallowed JavaScript/HTML Syntax").
ACTIVE_CONTENT_TAGS: frozenset[str] = frozenset(
    (
        *("script", "style", "iframe", "frame", "frameset", "object", "embed", "applet"),
        *("form", "input", "button", "select", "textarea", "link", "meta", "base"),
        *("svg", "math", "noscript", "template"),
    )
)
_BASIC_TAGS = frozenset({"p", "br", "ul", "ol", "li", "b", "strong", "i", "em", "h2", "h3"})


@dataclass(frozen=True, slots=True)
class Rulebook:
    marketplace: str
    name: str  # as sellers write it, for messages: "eBay"
    # Title
    title_max: int
    title_recommended_min: int | None = None
    title_recommended_max: int | None = None
    title_forbidden_chars: frozenset[str] = frozenset()
    title_restricted_chars: frozenset[str] = frozenset()  # only inside identifiers/measurements
    title_once_chars: frozenset[str] = frozenset()  # may appear at most once each
    title_symbols: Severity = WARNING  # emojis and odd symbols
    title_max_word_repeats: int | None = None  # stopwords excepted
    title_order: TitleOrder = "brand_first"
    title_attribute_keys: tuple[str, ...] = ("color", "size")
    title_attribute_separator: str = " "
    shouting: Severity = WARNING  # ALL CAPS words other than brands and identifiers
    promotional_in_title: Severity = WARNING  # promotional and subjective terms
    time_bound_in_title: Severity = WARNING
    seller_info_in_title: Severity = WARNING
    # Bullets (0 = the marketplace has no bullet field)
    bullets_max: int = 0
    bullet_max_length: int | None = None
    bullet_recommended_length: int | None = None
    bullet_forbidden_chars: frozenset[str] = frozenset()
    bullet_symbols: Severity | None = None  # emojis and symbols in bullets
    bullet_placeholders: bool = False  # "N/A", "TBD" banned
    # Description
    description_max: int | None = None
    description_format: DescriptionFormat = "html"
    description_tags: frozenset[str] = _BASIC_TAGS  # allow-list for sanitizing (html only)
    description_required: bool = False
    seller_info_in_description: Severity | None = None
    # Keywords: Amazon search terms or Etsy/Shopify tags
    keyword_kind: KeywordKind | None = None
    search_terms_max_bytes: int | None = None
    tags_max: int | None = None
    tag_max_length: int | None = None
    tag_bad_starts: frozenset[str] = frozenset()  # Etsy's checker rejects "-tag", "'tag"
    # Attributes
    requires_brand: bool = False
    requires_gtin: bool = False
    gtin_exemption_allowed: bool = False
    requires_category: bool = False
    condition_default: str | None = None  # eBay: a missing condition defaults to this
    required_attributes: tuple[str, ...] = ()
    # Images (pixel rules need image I/O: kept as data for the image checker to come)
    images_min: int = 0
    images_min_severity: Severity = WARNING
    images_max: int | None = None
    images_recommended: int = 1
    min_image_px: int | None = None
    image_url_severity: Severity = WARNING  # an image that is not a full http(s) URL
    unverified: frozenset[str] = frozenset()  # fields no official source confirmed

    @property
    def has_bullets(self) -> bool:
        return self.bullets_max > 0


AMAZON_TITLE_FORBIDDEN = frozenset("!$?_{}^¬¦")
AMAZON_BULLET_FORBIDDEN = frozenset("™®©€")
ETSY_TITLE_FORBIDDEN = frozenset("$^\\`")

RULEBOOKS: dict[str, Rulebook] = {
    "amazon": Rulebook(
        marketplace="amazon",
        name="Amazon",
        title_max=200,
        title_recommended_max=80,
        title_forbidden_chars=AMAZON_TITLE_FORBIDDEN,
        title_restricted_chars=frozenset("~#<>*"),
        title_max_word_repeats=2,
        title_attribute_keys=("color", "size", "material", "capacity"),
        title_attribute_separator=", ",
        promotional_in_title=ERROR,
        bullets_max=5,
        bullet_max_length=500,
        bullet_recommended_length=250,
        bullet_forbidden_chars=AMAZON_BULLET_FORBIDDEN,
        bullet_symbols=ERROR,
        bullet_placeholders=True,
        description_max=2000,
        description_format="plain",
        description_tags=frozenset({"br"}),
        seller_info_in_description=WARNING,
        keyword_kind="search_terms",
        search_terms_max_bytes=249,
        requires_brand=True,
        requires_gtin=True,
        gtin_exemption_allowed=True,
        images_min=1,
        images_max=9,
        images_recommended=7,
        min_image_px=500,  # 1,000 px enables zoom
    ),
    "ebay": Rulebook(
        marketplace="ebay",
        name="eBay",
        title_max=80,
        description_max=500_000,
        description_tags=_BASIC_TAGS
        | {"h4", "u", "span", "div", "table", "thead", "tbody", "tr", "td", "th"},
        condition_default="New",
        images_min=1,
        images_min_severity=ERROR,
        images_max=24,
        images_recommended=8,
        min_image_px=500,
        unverified=frozenset({"description_max"}),
    ),
    "allegro": Rulebook(
        marketplace="allegro",
        name="Allegro",
        title_max=75,
        title_order="type_first",
        promotional_in_title=ERROR,
        seller_info_in_title=ERROR,  # delivery, warranty and seller info have their own tabs
        # Section-based descriptions accept a restricted tag set (Allegro API text sections).
        description_tags=frozenset({"h1", "h2", "p", "ul", "ol", "li", "b"}),
        seller_info_in_description=WARNING,
        requires_category=True,
        images_min=1,
        images_max=16,
        images_recommended=8,
        unverified=frozenset({"title_max", "description_tags", "description_max"}),
    ),
    "kaufland": Rulebook(
        marketplace="kaufland",
        name="Kaufland",
        # Kaufland recommends 50-80; longer titles get cut in search, so 80 is our hard cap.
        title_max=80,
        title_recommended_min=50,
        title_recommended_max=80,
        title_symbols=ERROR,
        shouting=ERROR,
        promotional_in_title=ERROR,
        time_bound_in_title=ERROR,  # no condition advertising
        description_required=True,
        seller_info_in_description=WARNING,
        requires_brand=True,  # as `manufacturer`
        requires_gtin=True,  # as `ean`
        images_min=1,
        images_min_severity=ERROR,
        images_recommended=5,
        min_image_px=1024,
        image_url_severity=ERROR,
        unverified=frozenset({"description_max", "description_tags"}),
    ),
    "etsy": Rulebook(
        marketplace="etsy",
        name="Etsy",
        title_max=140,
        title_recommended_max=70,
        title_forbidden_chars=ETSY_TITLE_FORBIDDEN,
        title_once_chars=frozenset("%:&"),
        description_format="plain",
        description_tags=frozenset(),
        keyword_kind="tags",
        tags_max=13,
        tag_max_length=20,
        tag_bad_starts=frozenset("-'"),
        images_min=1,
        images_max=10,
        images_recommended=5,
        min_image_px=2000,
    ),
    "shopify": Rulebook(
        marketplace="shopify",
        name="Shopify",
        title_max=255,
        title_recommended_max=70,  # the SEO page title shows up to 70
        keyword_kind="tags",
        tags_max=250,
        tag_max_length=255,
        images_max=250,
        images_recommended=3,
    ),
}


def get_rulebook(marketplace: str, overrides: Mapping[str, Any] | None = None) -> Rulebook:
    """The rulebook for a marketplace ("amazon" or a site such as "amazon.de"), with overrides.

    Overrides replace fields by name (e.g. {"description_max": 40000} once Allegro's limit is
    confirmed); an unknown name raises ValueError so a typo in settings fails loudly.
    """
    book = RULEBOOKS.get(marketplace)
    if book is None:
        book = RULEBOOKS[resolve(marketplace)[0].id]
    if not overrides:
        return book
    names = {f.name for f in dataclasses.fields(Rulebook)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"Unknown rulebook field(s) for {book.name}: {', '.join(unknown)}.")
    return dataclasses.replace(
        book, **{key: _coerce(getattr(book, key), value) for key, value in overrides.items()}
    )


def _coerce(current: Any, value: Any) -> Any:
    # Settings arrive as JSON: lists stand for the frozensets and tuples the rulebook holds.
    if isinstance(current, frozenset) and not isinstance(value, frozenset):
        return frozenset(value)
    if isinstance(current, tuple) and not isinstance(value, tuple):
        return tuple(value)
    if isinstance(current, Severity) and isinstance(value, str):
        return Severity(value)
    return value


def load_category_requirements(path: str | Path) -> dict[str, dict[str, list[str]]]:
    """Read `{marketplace: {category: [required attribute names]}}` from a JSON file."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected an object of marketplaces.")
    result: dict[str, dict[str, list[str]]] = {}
    for marketplace, categories in data.items():
        try:
            resolve(str(marketplace))
        except UnknownMarketplaceError as exc:
            raise ValueError(f"{path}: {exc}") from exc
        if not isinstance(categories, dict):
            raise ValueError(f"{path}: '{marketplace}' must map categories to attribute lists.")
        result[str(marketplace)] = {}
        for category, names in categories.items():
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ValueError(f"{path}: '{marketplace}' / '{category}' must be a string list.")
            result[str(marketplace)][str(category)] = list(names)
    return result


def category_required_attributes(
    requirements: Mapping[str, Mapping[str, list[str]]], marketplace: str, category: str | None
) -> list[str]:
    """Extra required attributes for a product's category (exact path or its leaf)."""
    if not category:
        return []
    by_category = requirements.get(marketplace) or requirements.get(resolve(marketplace)[0].id)
    if not by_category:
        return []
    found = by_category.get(category)
    if found is None:
        leaf = category.rsplit(">", 1)[-1].strip()
        found = by_category.get(leaf, [])
    return list(found)
