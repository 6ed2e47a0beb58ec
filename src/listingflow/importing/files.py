"""Uploaded files and mapping files turned into SourceRow streams (errors become 4xx)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson

from listingflow.exceptions import ValidationFailed
from listingflow.integrations.sources.base import SourceReaderError, SourceRow
from listingflow.integrations.sources.files import open_reader
from listingflow.integrations.sources.mapping import ColumnMapping


def mapping_from_bytes(data: bytes, origin: str = "mapping") -> ColumnMapping:
    try:
        parsed: Any = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValidationFailed(f"{origin} is not valid JSON: {exc}", field="mapping") from exc
    try:
        return ColumnMapping.from_dict(parsed, origin=origin)
    except SourceReaderError as exc:
        raise ValidationFailed(str(exc), field="mapping") from exc


def file_rows(
    filename: str, stream: BinaryIO, mapping_json: bytes | None = None
) -> Iterator[SourceRow]:
    """The rows of an uploaded file; the first row is read here so that an unreadable file is
    a 422 before any job starts."""
    mapping = mapping_from_bytes(mapping_json, "mapping file") if mapping_json else None
    try:
        rows = open_reader(None, filename=filename, stream=stream, mapping=mapping)
        first = next(rows, None)
    except SourceReaderError as exc:
        raise ValidationFailed(f"{filename}: {exc}", field="file") from exc
    if first is None:
        raise ValidationFailed(f"{filename} has no products", field="file")
    return _chain(first, rows)


def _chain(first: SourceRow, rest: Iterator[SourceRow]) -> Iterator[SourceRow]:
    yield first
    yield from rest
