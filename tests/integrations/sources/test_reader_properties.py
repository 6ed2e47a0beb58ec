"""Property tests: whatever a file holds, readers yield rows or raise SourceReaderError."""

from __future__ import annotations

import contextlib
import csv
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from listingflow.importing.schemas import ProductIn
from listingflow.integrations.sources.base import SourceReaderError, SourceRow
from listingflow.integrations.sources.csv import read_csv
from listingflow.integrations.sources.jsonl import read_json, read_jsonl
from listingflow.integrations.sources.xlsx import read_xlsx

# Known headers make rows that reach validation; random ones exercise attributes and layouts.
KNOWN = [
    "source_id", "sku", "title", "nazwa", "price", "cena", "currency", "images", "image_1",
    "attributes", "description", "source_url", "platform", "Handle", "Variant Price",
    "Image Src", "Type", "SKU", "Name", "Regular price", "Parent",
]  # fmt: skip
text = st.text(st.characters(codec="utf-8"), max_size=25)  # no lone surrogates
cell = st.one_of(
    text,
    st.sampled_from(["", " ", '"', "129,99", "1e400", "NaN", "https://x.example/a.jpg", "{}"]),
)
header = st.lists(st.one_of(st.sampled_from(KNOWN), text), min_size=1, max_size=7)
rows = st.lists(st.lists(cell, max_size=8), max_size=8)


def _check(result: list[SourceRow]) -> None:
    for row in result:
        assert isinstance(row, SourceRow)
        if row.error is not None:
            continue
        with contextlib.suppress(ValidationError):
            ProductIn.model_validate(row.data)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=header,
    rows=rows,
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1250", "utf-16"]),
)
def test_any_csv_yields_rows_or_a_reader_error(
    header: list[str], rows: list[list[str]], delimiter: str, encoding: str
) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows([header, *rows])
    data = buffer.getvalue().encode(encoding, errors="replace")
    try:
        result = list(read_csv(io.BytesIO(data)))
    except SourceReaderError:
        return
    _check(result)


@settings(deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash_the_csv_reader(data: bytes) -> None:
    try:
        result = list(read_csv(io.BytesIO(data)))
    except SourceReaderError:
        return
    _check(result)


@settings(deadline=None)
@given(st.one_of(st.binary(max_size=200), text.map(str.encode)))
def test_arbitrary_bytes_never_crash_the_json_readers(data: bytes) -> None:
    for reader in (read_json, read_jsonl):
        try:
            result = list(reader(io.BytesIO(data)))
        except SourceReaderError:
            continue
        _check(result)


@settings(deadline=None, max_examples=60)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_crash_the_xlsx_reader(data: bytes) -> None:
    try:
        result = list(read_xlsx(io.BytesIO(data)))
    except SourceReaderError:
        return
    _check(result)


@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(header=header, rows=rows)
def test_any_spreadsheet_yields_rows_or_a_reader_error(
    header: list[str], rows: list[list[str]]
) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for values in [header, *rows]:
        # openpyxl refuses control characters in cells: a spreadsheet cannot hold them either
        sheet.append(["".join(ch for ch in v if ch.isprintable()) for v in values])
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    try:
        result = list(read_xlsx(buffer))
    except SourceReaderError:
        return
    _check(result)
