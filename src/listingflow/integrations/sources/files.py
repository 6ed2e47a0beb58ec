"""Picks the reader for an uploaded or local product file by its format or extension."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path, PurePath
from typing import BinaryIO

from listingflow.integrations.sources.base import SourceReaderError, SourceRow
from listingflow.integrations.sources.csv import read_csv
from listingflow.integrations.sources.jsonl import read_json, read_jsonl
from listingflow.integrations.sources.mapping import ColumnMapping
from listingflow.integrations.sources.xlsx import read_xlsx

StreamReader = Callable[..., Iterator[SourceRow]]

# Explicit format names and extensions, each to the reader that handles it.
FORMATS: dict[str, str] = {
    "csv": "csv",
    "tsv": "csv",
    "txt": "csv",
    "xlsx": "xlsx",
    "xlsm": "xlsx",
    "xls": "xlsx",
    "ods": "xlsx",
    "excel": "xlsx",
    "json": "json",
    "jsonl": "jsonl",
    "ndjson": "jsonl",
}
_READERS: dict[str, StreamReader] = {"csv": read_csv, "json": read_json, "jsonl": read_jsonl}


def supported_formats() -> str:
    return ", ".join(f".{name}" for name in FORMATS if name != "excel")


def reader_kind(filename: str, format: str | None = None) -> str:
    """'csv', 'xlsx', 'json' or 'jsonl' for an explicit format or the file's extension."""
    key = (format or PurePath(filename).suffix).lower().lstrip(".")
    kind = FORMATS.get(key)
    if kind is None:
        shown = f"format {format!r}" if format else f"file {filename!r}"
        raise SourceReaderError(
            f"cannot import {shown}: supported formats are {supported_formats()}"
        )
    return kind


def open_reader(
    path: Path | None,
    *,
    filename: str,
    stream: BinaryIO | None = None,
    mapping: ColumnMapping | None = None,
    source_platform: str | None = None,
    format: str | None = None,
) -> Iterator[SourceRow]:
    """Rows of a product file given as a path or as an open binary stream (an upload).

    The format is checked at once; a file given by path is opened, read and closed during
    iteration, so file-level SourceReaderErrors (empty file, no header...) surface on the first
    next(). A given stream is read but not closed.
    """
    kind = reader_kind(filename, format)
    if stream is None and path is None:
        raise ValueError("open_reader needs a path or a stream")
    return _rows(kind, path, stream, mapping, source_platform)


def _rows(
    kind: str,
    path: Path | None,
    stream: BinaryIO | None,
    mapping: ColumnMapping | None,
    source_platform: str | None,
) -> Iterator[SourceRow]:
    if kind == "xlsx":
        source = stream if stream is not None else Path(str(path))
        yield from read_xlsx(source, mapping=mapping, source_platform=source_platform)
    elif stream is not None:
        yield from _READERS[kind](stream, mapping=mapping, source_platform=source_platform)
    else:
        try:
            with Path(str(path)).open("rb") as handle:
                yield from _READERS[kind](handle, mapping=mapping, source_platform=source_platform)
        except OSError as exc:
            raise SourceReaderError(f"cannot read {path}: {exc.strerror or exc}") from None
