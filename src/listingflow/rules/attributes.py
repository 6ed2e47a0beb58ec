"""Reading product and listing attributes: key matching, displayable values, GTIN checks.

Attribute keys arrive in any spelling ("Color", "colour", "kolor", "EAN-13"); rules compare
normalised keys. Only scalar values (and lists of them) are shown to buyers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

from listingflow.rules.terms import (
    ATTRIBUTE_SYNONYMS,
    GTIN_EXEMPTION_KEYS,
    GTIN_KEYS,
    LABELS,
    NON_DISPLAY_KEYS,
    PLACEHOLDERS,
)
from listingflow.rules.text import capitalize_first, squash


@lru_cache(maxsize=4096)
def normalize_key(key: object) -> str:
    return "_".join(str(key).strip().lower().replace("-", " ").split())


@lru_cache(maxsize=4096)
def canonical_key(key: object) -> str:
    """The rule-level name of a key: "Colour" and "kolor" are both "color"."""
    normalized = normalize_key(key)
    return ATTRIBUTE_SYNONYMS.get(normalized, normalized)


def value_text(value: Any) -> str | None:
    """A displayable value, or None for empty, placeholder, boolean or nested values."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int | float | Decimal):
        text = squash(str(value))
        if not text or text.casefold() in PLACEHOLDERS:
            return None
        return text
    if isinstance(value, list | tuple):
        parts = [t for t in (value_text(v) for v in value if not isinstance(v, list | tuple)) if t]
        return ", ".join(parts) or None
    return None


def get(attributes: Mapping[str, Any], *keys: str) -> str | None:
    """The first present value among keys (compared normalised and by synonym)."""
    wanted = {canonical_key(k) for k in keys} | {normalize_key(k) for k in keys}
    for key, value in attributes.items():
        if normalize_key(key) in wanted or canonical_key(key) in wanted:
            text = value_text(value)
            if text is not None:
                return text
    return None


def has(attributes: Mapping[str, Any], key: str) -> bool:
    return get(attributes, key) is not None


def gtin_values(attributes: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(key, value) for every GTIN-like attribute that has a value."""
    for key, value in attributes.items():
        if normalize_key(key).replace("_", "") in GTIN_KEYS:
            text = value_text(value)
            if text is not None:
                yield str(key), text


def gtin_exempt(attributes: Mapping[str, Any]) -> bool:
    for key, value in attributes.items():
        if normalize_key(key) in GTIN_EXEMPTION_KEYS and value not in (None, False, "", 0):
            text = str(value).strip().lower()
            if text not in ("false", "no", "0", "n"):
                return True
    return False


def valid_gtin(value: str) -> bool:
    """GTIN-8/12/13/14 (EAN, UPC, ISBN-13) with a correct check digit, or an ISBN-10."""
    digits = value.replace(" ", "").replace("-", "")
    if len(digits) == 10 and digits[:9].isdigit() and (digits[9].isdigit() or digits[9] in "Xx"):
        total = sum((10 - i) * int(d) for i, d in enumerate(digits[:9]))
        check = 10 if digits[9] in "Xx" else int(digits[9])
        return (total + check) % 11 == 0
    if len(digits) not in (8, 12, 13, 14) or not digits.isascii() or not digits.isdigit():
        return False
    body = [int(d) for d in digits[:-1]]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == int(digits[-1])


def label_for(key: object, language: str | None) -> str:
    """What a buyer reads before the value: a known label in the listing's language, else
    the key itself made readable ("colour_name" -> "Colour name")."""
    canonical = canonical_key(key)
    labels = LABELS.get(canonical)
    if labels is not None:
        return labels.get(language or "en", labels["en"])
    return capitalize_first(squash(str(key).replace("_", " ")))


def display_attributes(attributes: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, value) pairs a buyer should see, in the source's order, identifiers left out."""
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for key, value in attributes.items():
        normalized = normalize_key(key)
        if normalized in NON_DISPLAY_KEYS or normalized.replace("_", "") in GTIN_KEYS:
            continue
        canonical = canonical_key(key)
        if canonical in seen:
            continue
        text = value_text(value)
        if text is None:
            continue
        seen.add(canonical)
        pairs.append((str(key), text))
    return pairs
