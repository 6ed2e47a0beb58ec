"""A look at an uploaded file before importing it: the detected layout and column mapping, and
the first rows as the import would read and validate them (nothing is written)."""

from __future__ import annotations

import contextlib
import itertools
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, BinaryIO

from listingflow import config
from listingflow.exceptions import NotFound, ValidationFailed
from listingflow.importing.schemas import ItemError
from listingflow.importing.service import validate_row
from listingflow.integrations.sources.base import SourceReaderError, SourceRow
from listingflow.integrations.sources.csv import open_csv
from listingflow.integrations.sources.files import open_reader, reader_kind
from listingflow.integrations.sources.tabular import Table, map_header
from listingflow.integrations.sources.xlsx import open_xlsx


@dataclass(frozen=True)
class PreviewRow:
    index: int
    values: dict[str, Any]
    errors: list[ItemError]


@dataclass(frozen=True)
class FilePreview:
    kind: str  # csv, xlsx, json, jsonl
    layout: str  # shopify, woocommerce, plain, custom, or "json" (fields by name)
    columns: list[tuple[str, str | None]] = field(default_factory=list)  # header -> target
    rows: list[PreviewRow] = field(default_factory=list)


def preview_file(filename: str, stream: BinaryIO, *, limit: int = 10) -> FilePreview:
    """The first `limit` products of a file and how its columns map to product fields."""
    try:
        kind = reader_kind(filename)
        columns: list[tuple[str, str | None]] = []
        layout = "json"
        rows: Iterator[SourceRow]
        if kind in ("csv", "xlsx"):
            table: Table = open_csv(stream) if kind == "csv" else open_xlsx(stream)
            mapping = map_header(table.header)
            layout, columns = mapping.layout, list(mapping.columns)
            rows = iter(table)
        else:
            rows = open_reader(None, filename=filename, stream=stream)
        first = list(itertools.islice(rows, limit))
    except SourceReaderError as exc:
        raise ValidationFailed(f"{filename}: {exc}", field="file") from exc
    if not first:
        raise ValidationFailed(f"{filename} has no products", field="file")
    preview_rows = []
    for row in first:
        values, errors = validate_row(row, platform=None, override_platform=False)
        preview_rows.append(PreviewRow(row.index, values or dict(row.data), errors))
    return FilePreview(kind=kind, layout=layout, columns=columns, rows=preview_rows)


# --- staged uploads: the file previewed is the file imported, without a second upload --------

STAGE_TTL_SECONDS = 3600
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def _stage_dir() -> Path:
    path = config.settings.data_dir / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def stage_upload(workspace_id: int, filename: str, stream: BinaryIO) -> str:
    """Keep an upload on disk (under the data dir) for the import that follows its preview;
    returns the token that names it. Uploads older than an hour are removed."""
    directory = _stage_dir()
    cutoff = time.time() - STAGE_TTL_SECONDS
    for old in directory.iterdir():
        with contextlib.suppress(OSError):
            if old.stat().st_mtime < cutoff:
                old.unlink()
    token = secrets.token_urlsafe(24)
    suffix = PurePath(filename).suffix.lower()[:10]
    stream.seek(0)
    with (directory / f"{workspace_id}-{token}{suffix}").open("wb") as out:
        shutil.copyfileobj(stream, out)
    return token


def staged_upload(workspace_id: int, token: str) -> Path:
    """The staged file for this workspace and token, or a 404-style error."""
    if _TOKEN.match(token):
        for path in _stage_dir().glob(f"{workspace_id}-{token}*"):
            return path
    raise NotFound("the uploaded file has expired; upload it again", field="upload")
