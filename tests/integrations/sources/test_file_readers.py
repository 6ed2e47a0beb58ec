"""Choosing a reader by file extension or explicit format."""

from __future__ import annotations

import io
import json
from pathlib import Path

import openpyxl
import pytest

from listingflow.integrations.sources.base import SourceReaderError
from listingflow.integrations.sources.files import open_reader, reader_kind

MUG = {"source_id": "A", "title": "Mug", "price": "5"}


@pytest.mark.parametrize(
    ("filename", "kind"),
    [
        ("export.CSV", "csv"),
        ("export.tsv", "csv"),
        ("export.txt", "csv"),
        ("export.xlsx", "xlsx"),
        ("export.xlsm", "xlsx"),
        ("export.xls", "xlsx"),
        ("export.ods", "xlsx"),
        ("export.json", "json"),
        ("export.jsonl", "jsonl"),
        ("export.ndjson", "jsonl"),
    ],
)
def test_extension_picks_the_reader(filename: str, kind: str) -> None:
    assert reader_kind(filename) == kind


def test_unknown_extension_names_the_supported_formats() -> None:
    with pytest.raises(SourceReaderError, match=r"\.csv, .*\.xlsx.*\.jsonl"):
        open_reader(None, filename="products.pdf", stream=io.BytesIO(b""))


def test_explicit_format_wins_over_the_extension() -> None:
    stream = io.BytesIO(json.dumps(MUG).encode() + b"\n")

    (row,) = open_reader(None, filename="upload.bin", stream=stream, format="jsonl")

    assert row.data == MUG


def test_paths_of_every_kind(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("sku;title;price\nA;Mug;5\n", encoding="cp1250")
    (tmp_path / "p.json").write_text(json.dumps({"products": [MUG]}))
    (tmp_path / "p.jsonl").write_text(json.dumps(MUG) + "\n")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["sku", "title", "price"])
    sheet.append(["A", "Mug", "5"])
    workbook.save(tmp_path / "p.xlsx")

    for name in ("p.csv", "p.json", "p.jsonl", "p.xlsx"):
        rows = list(open_reader(tmp_path / name, filename=name, source_platform="myshop"))
        assert [row.data for row in rows] == [{**MUG, "source_platform": "myshop"}], name


def test_missing_file_is_a_reader_error(tmp_path: Path) -> None:
    rows = open_reader(tmp_path / "gone.csv", filename="gone.csv")

    with pytest.raises(SourceReaderError, match="cannot read"):
        list(rows)


def test_mapping_is_passed_through(tmp_path: Path) -> None:
    from listingflow.integrations.sources.mapping import ColumnMapping

    mapping = ColumnMapping(columns={"Bezeichnung": "title"}, defaults={"currency": "EUR"})
    stream = io.BytesIO(b"sku,Bezeichnung,price\nA,Tasse,5\n")

    (row,) = open_reader(None, filename="x.csv", stream=stream, mapping=mapping)

    assert row.data["title"] == "Tasse"
    assert row.data["currency"] == "EUR"
