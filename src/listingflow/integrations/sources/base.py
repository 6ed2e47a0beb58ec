"""The reader contract: every source yields SourceRow records keyed by v1 Product field names.

Readers only map and stream; validation into a Product happens in the import service, so that
every path (webhook, batch, file, URL) applies the same rules and reports errors the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

# The v1 Product fields a reader may fill (see shared/reference/v1-api.md).
PRODUCT_FIELDS: tuple[str, ...] = (
    "source_platform",
    "source_id",
    "source_url",
    "title",
    "description",
    "category",
    "brand",
    "price",
    "currency",
    "images",
    "attributes",
)


@dataclass(slots=True)
class SourceRow:
    """One product as read from a source, before validation.

    index: where it came from, 1-based and in the seller's terms: the line number of a CSV data
    row (header is line 1), the sheet row of an XLSX file, the position in a JSON list, the line
    of a JSON Lines file.
    data: v1 Product field names to raw values (strings from CSV are fine; validation coerces).
    error: set when the reader itself could not make sense of the row (bad JSON line, ...);
    then data may be partial and the row is reported, never imported.
    """

    index: int
    data: dict[str, Any] = field(default_factory=dict)
    error: RowError | None = None


@dataclass(slots=True, frozen=True)
class RowError:
    """Why one row failed: its index, the field (dotted path, or None for the whole row), why."""

    index: int
    field: str | None
    message: str


class SourceReaderError(Exception):
    """The whole source is unreadable (not a CSV, empty file, unknown format...)."""


class SourceReader(Protocol):
    """Streams rows; must not hold the whole file in memory."""

    def __call__(self, stream: Any, /) -> Iterator[SourceRow]: ...
