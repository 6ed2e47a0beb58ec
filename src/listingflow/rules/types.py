"""The value types the rules, the optimizers and the scorer share (plain data, no I/O).

SourceProduct is what an optimizer may use as facts; Listing is what it produces for one
marketplace; Issue is one finding of validation. Kept free of the database and of pydantic so
that rules/ stays pure and fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"  # the marketplace will refuse it: blocks publishing
    WARNING = "warning"  # accepted, but hurts ranking or may be edited by the marketplace
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Issue:
    code: str  # stable, machine-readable: "title.too_long", "keywords.brand"
    field: str  # "title", "description", "bullets[2]", "keywords", "images", "attributes.ean"
    severity: Severity
    message: str  # one sentence a seller understands: "Title is 93 characters; eBay allows 80."


@dataclass(frozen=True, slots=True)
class SourceProduct:
    """The facts: everything an optimizer may say must come from here."""

    title: str
    description: str | None = None
    category: str | None = None
    brand: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    images: tuple[str, ...] = ()
    attributes: dict[str, Any] = field(default_factory=dict)
    language: str | None = None  # ISO 639-1 if known ("pl", "de", "en"); None = detect


@dataclass(slots=True)
class Listing:
    """One marketplace's version of a product."""

    marketplace: str
    title: str
    description: str
    bullets: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)  # Amazon search terms, Etsy/Shopify tags
    attributes: dict[str, Any] = field(default_factory=dict)
    images: list[str] = field(default_factory=list)
    language: str | None = None
    notes: list[str] = field(default_factory=list)  # e.g. "translation to English needs the LLM"
