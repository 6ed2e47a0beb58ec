"""Helpers for the rules tests: catalog products, and the independent "invents nothing" check."""

from __future__ import annotations

import csv
import html
import re
import unicodedata
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from listingflow.rules.markup import html_to_text
from listingflow.rules.terms import LABEL_WORDS
from listingflow.rules.types import Listing, SourceProduct

CATALOG = Path(__file__).resolve().parents[2] / "examples" / "catalog.csv"
ATTRIBUTE_COLUMNS = ("color", "material", "size", "ean")
OPTIMIZED_MARKETPLACES = ("amazon", "ebay", "allegro", "kaufland")
_TOKEN = re.compile(r"[^\W_]+")


def catalog_products() -> Iterator[SourceProduct]:
    with CATALOG.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            yield SourceProduct(
                title=row["title"],
                description=row["description"] or None,
                category=row["category"] or None,
                brand=row["brand"] or None,
                price=Decimal(row["price"]) if row["price"] else None,
                currency=row["currency"] or None,
                images=tuple(url for url in row["images"].split("|") if url),
                attributes={k: row[k] for k in ATTRIBUTE_COLUMNS if row.get(k)},
            )


def tokens(text: str) -> set[str]:
    """Letter/digit runs of the case-folded NFC text (case-fold first: "İ" folds to two code
    points, and the split must see the same string on both sides)."""
    return set(_TOKEN.findall(unicodedata.normalize("NFC", text).casefold()))


def _value_texts(value: Any) -> Iterator[str]:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, list | tuple):
        for item in value:
            yield from _value_texts(item)
    elif isinstance(value, str | int | float | Decimal):
        yield str(value)


def source_vocabulary(product: SourceProduct) -> set[str]:
    """Every word the product's data contains, HTML entities and markup resolved."""
    texts: list[str] = []
    for text in (product.title, product.brand, product.category, product.description):
        if text:
            texts += [text, html.unescape(text), html_to_text(text)]
    for key, value in product.attributes.items():
        texts.append(str(key))
        texts.extend(_value_texts(value))
    vocabulary: set[str] = set()
    for text in texts:
        vocabulary |= tokens(text)
    return vocabulary


def invented_words(listing: Listing, product: SourceProduct) -> set[str]:
    """Words of the title, bullets, keywords and description text the source never says."""
    allowed = source_vocabulary(product) | {w for label in LABEL_WORDS for w in tokens(label)}
    description = listing.description
    if "<" in description:  # HTML descriptions; plain ones are read as the text they are
        description = html_to_text(description)
    written = [listing.title, *listing.bullets, *listing.keywords, description]
    found: set[str] = set()
    for text in written:
        found |= tokens(text)
    return found - allowed
