"""Spreadsheet files written with openpyxl, read back through python-calamine."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from listingflow.importing.schemas import ProductIn
from listingflow.integrations.sources.base import SourceReaderError
from listingflow.integrations.sources.xlsx import cell_text, open_xlsx, read_xlsx


def _workbook(path: Path, rows: list[list[Any]], *, first_row: int = 1) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for offset, row in enumerate(rows):
        for column, value in enumerate(row, start=1):
            if value is not None:
                sheet.cell(row=first_row + offset, column=column, value=value)
    workbook.save(path)
    return path


def test_typed_cells_become_the_text_a_seller_sees(tmp_path: Path) -> None:
    path = _workbook(
        tmp_path / "products.xlsx",
        [
            ["id", "nazwa", "cena", "dostępny od", "aktywny", "ean"],
            [12345, "Kubek", 19.99, dt.datetime(2024, 5, 1, 8, 30), True, 5901234123457],
            [12346.0, "Talerz", 7, None, False, None],
        ],
    )

    first, second = read_xlsx(path)

    assert first.data == {
        "source_id": "12345",
        "title": "Kubek",
        "price": "19.99",
        "attributes": {
            "dostępny_od": "2024-05-01 08:30:00",
            "aktywny": "TRUE",
            "ean": "5901234123457",
        },
    }
    assert second.data["source_id"] == "12346"
    assert second.data["price"] == "7"
    assert ProductIn.model_validate(first.data).price == Decimal("19.99")


def test_index_is_the_sheet_row_even_when_the_table_starts_lower(tmp_path: Path) -> None:
    path = _workbook(
        tmp_path / "offset.xlsx",
        [["sku", "title", "price"], ["A", "Mug", 5], [None, None, None], ["B", "Cup", 6]],
        first_row=3,
    )

    rows = list(read_xlsx(path))

    assert [(row.index, row.data["source_id"]) for row in rows] == [(4, "A"), (6, "B")]


def test_cells_right_of_the_header_are_not_an_error(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "wide.xlsx", [["sku", "title", "price"], ["A", "Mug", 5, None]])

    (row,) = read_xlsx(path)

    assert row.error is None


def test_stream_and_non_seekable_stream(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "s.xlsx", [["sku", "title", "price"], ["A", "Mug", 5]])

    class OneWay(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, buffer: Any) -> int:
            return self.inner.readinto(buffer)

    from_stream = list(read_xlsx(io.BytesIO(path.read_bytes())))
    from_pipe = list(read_xlsx(io.BufferedReader(OneWay(path.read_bytes()))))

    assert (
        from_stream[0].data
        == from_pipe[0].data
        == {
            "source_id": "A",
            "title": "Mug",
            "price": "5",
        }
    )


def test_first_visible_sheet_is_read(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    hidden = workbook.active
    assert hidden is not None
    hidden.append(["notes"])
    hidden.sheet_state = "hidden"
    products = workbook.create_sheet("Produkty")
    products.append(["sku", "title", "price"])
    products.append(["A", "Mug", 5])
    workbook.save(tmp_path / "hidden.xlsx")

    (row,) = read_xlsx(tmp_path / "hidden.xlsx")

    assert row.data["title"] == "Mug"


def test_shopify_export_saved_as_xlsx_uses_the_same_layout(
    tmp_path: Path, shared_data: Path
) -> None:
    with (shared_data / "shopify-product-template.csv").open(encoding="utf-8", newline="") as fh:
        rows: list[list[Any]] = [[cell or None for cell in row] for row in csv.reader(fh)]
    path = _workbook(tmp_path / "shopify.xlsx", rows)

    table = open_xlsx(path)
    products = list(table)

    assert table.layout == "shopify"
    assert [p.data["source_id"] for p in products] == [
        "example-shirt",
        "example-pants",
        "example-hat",
    ]
    assert [p.index for p in products] == [2, 14, 18]
    assert [len(p.data["images"]) for p in products] == [6, 4, 1]


def test_not_a_workbook_raises(tmp_path: Path) -> None:
    path = tmp_path / "fake.xlsx"
    path.write_bytes(b"sku,title\n")

    with pytest.raises(SourceReaderError, match="could not be opened"):
        read_xlsx(path)


def test_empty_sheet_raises(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "empty.xlsx", [])

    with pytest.raises(SourceReaderError, match="empty"):
        read_xlsx(path)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (19.99, "19.99"),
        (12345.0, "12345"),
        (0.1 + 0.2, "0.3"),
        (5901234123457.0, "5901234123457"),
        (7, "7"),
        (False, "FALSE"),
        (dt.date(2024, 1, 2), "2024-01-02"),
        ("  text ", "  text "),
    ],
)
def test_cell_text(value: Any, text: str) -> None:
    assert cell_text(value) == text
