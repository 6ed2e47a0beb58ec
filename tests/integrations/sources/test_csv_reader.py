"""Plain CSV files: encodings, delimiters, row numbers, mapping files and bad rows."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from listingflow.importing.schemas import ProductIn
from listingflow.integrations.sources.base import SourceReaderError, SourceRow
from listingflow.integrations.sources.csv import SAMPLE_SIZE, open_csv, read_csv, sniff
from listingflow.integrations.sources.mapping import ColumnMapping, load_mapping
from listingflow.integrations.sources.tabular import map_header

POLISH = (
    "Nazwa;Cena;Waluta;Kolor;SKU\n"
    "Słuchawki bezprzewodowe;129,99;PLN;Żółty;SL-1\n"
    "Ładowarka sieciowa;49,00;PLN;Czarny;LD-2\n"
)


def _rows(data: bytes, **options: Any) -> list[SourceRow]:
    return list(read_csv(io.BytesIO(data), **options))


def test_windows_1250_polish_file_is_decoded() -> None:
    rows = _rows(POLISH.encode("cp1250"))

    assert rows[0].data["title"] == "Słuchawki bezprzewodowe"
    assert rows[0].data["attributes"] == {"kolor": "Żółty"}
    assert rows[1].data["title"] == "Ładowarka sieciowa"
    product = ProductIn.model_validate(rows[0].data)
    assert product.price == Decimal("129.99")
    assert product.source_id == "SL-1"
    assert product.currency == "PLN"


def test_semicolon_delimiter_is_sniffed() -> None:
    assert sniff(POLISH.encode("cp1250")).delimiter == ";"
    assert sniff(b"a\tb\n1\t2\n").delimiter == "\t"
    assert sniff(b"a|b\n1|2\n").delimiter == "|"
    assert sniff(b'"x;y",b\n').delimiter == ","  # delimiters inside quotes do not count


def test_utf8_bom_does_not_leak_into_the_first_column() -> None:
    (row,) = _rows(b"\xef\xbb\xbfsku,title,price\nA-1,Kubek,12.50\n")

    assert row.data["source_id"] == "A-1"
    assert row.data["title"] == "Kubek"


def test_utf16_excel_unicode_text_is_read() -> None:
    (row,) = _rows("sku\ttitle\tprice\nA-1\tŻółw\t9,99\n".encode("utf-16"))

    assert row.data == {"source_id": "A-1", "title": "Żółw", "price": "9,99"}


def test_cp1250_after_an_ascii_only_start_is_still_decoded() -> None:
    filler = "".join(f"SKU-{i},Plain item {i},10\n" for i in range(SAMPLE_SIZE // 20))
    data = ("sku,title,price\n" + filler + "PL-1,Żółta kaczka,5\n").encode("cp1250")
    assert len(data) > SAMPLE_SIZE

    rows = _rows(data)

    assert rows[-1].data["title"] == "Żółta kaczka"
    assert all(row.error is None for row in rows)


def test_western_cp1252_is_not_read_as_polish() -> None:
    text = "sku,title,price\nF-1,Crème brûlée à la française,5\nF-2,Pâté très élégant,6\n"

    rows = _rows(text.encode("cp1252"))

    assert rows[0].data["title"] == "Crème brûlée à la française"


def test_undecodable_bytes_make_an_error_row_naming_the_column() -> None:
    data = "sku,title,price\nA,Żółw,1\n".encode() + b"B,bad \xff\xfe,2\nC,ok,3\n"

    rows = _rows(data)

    assert rows[1].error is not None
    assert rows[1].error.field == "title"
    assert rows[1].index == 3
    assert rows[2].data["title"] == "ok"


def test_index_counts_records_as_a_spreadsheet_does() -> None:
    data = b'sku,title,description,price\n\nA,One,"two\nline",1\nB,Two,,2\n'

    rows = _rows(data)

    assert [(row.index, row.data["source_id"]) for row in rows] == [(3, "A"), (4, "B")]
    assert rows[0].data["description"] == "two\nline"


def test_excel_sep_hint_line_sets_the_delimiter() -> None:
    (row,) = _rows(b"sep=;\r\nsku;title;price\r\nA;Mug, blue;1\r\n")

    assert row.data["title"] == "Mug, blue"
    assert row.index == 2


def test_plain_synonyms_and_unknown_columns() -> None:
    data = (
        "ID,Nazwa produktu,Opis,Kategoria,Marka,Link,Zdjęcia,Cena,EAN,Rozmiar buta,Empty\n"
        "77,But,Skórzany,Obuwie,Acme,https://shop.example/p/77,"
        '"https://i.example/1.jpg https://i.example/2.jpg",199,5901234123457,42,\n'
    ).encode()

    (row,) = _rows(data)

    assert row.data == {
        "source_id": "77",
        "title": "But",
        "description": "Skórzany",
        "category": "Obuwie",
        "brand": "Acme",
        "source_url": "https://shop.example/p/77",
        "images": ["https://i.example/1.jpg", "https://i.example/2.jpg"],
        "price": "199",
        "attributes": {"ean": "5901234123457", "rozmiar_buta": "42"},
    }
    ProductIn.model_validate(row.data)


def test_several_image_columns_and_a_json_attributes_column() -> None:
    data = (
        b"sku,title,price,image_1,image_2,attributes,colour\n"
        b'A,Mug,5,https://i.example/a.jpg,"https://i.example/b,c.jpg","{""size"": ""XL""}",red\n'
    )

    (row,) = _rows(data)

    assert row.data["images"] == ["https://i.example/a.jpg", "https://i.example/b,c.jpg"]
    assert row.data["attributes"] == {"colour": "red", "size": "XL"}


def test_invalid_attributes_json_is_an_error_row() -> None:
    (row,) = _rows(b"sku,title,price,attributes\nA,Mug,5,not json\n")

    assert row.error is not None
    assert row.error.field == "attributes"


def test_mangled_numeric_id_is_an_error_row_not_a_made_up_id() -> None:
    (row,) = _rows(b"id,title,price\n5.90123E+12,Mug,5\n")

    assert row.error is not None
    assert row.error.field == "source_id"


def test_wrong_cell_count_is_an_error_row_and_reading_goes_on() -> None:
    data = b"sku,title,price\nA,Mug,5\nB,Too,many,cells\nC,Short\nD,Plate,7,,\n"

    rows = _rows(data)

    assert [row.index for row in rows] == [2, 3, 4, 5]
    assert rows[1].error is not None and "4 cells" in rows[1].error.message
    assert rows[2].error is not None and rows[2].error.index == 4
    assert rows[3].error is None  # empty trailing cells are only trailing delimiters
    assert rows[3].data["title"] == "Plate"


@pytest.mark.parametrize("data", [b"", b"   \n\n", b"\xef\xbb\xbf", b",,,\n,,\n"])
def test_empty_file_raises(data: bytes) -> None:
    with pytest.raises(SourceReaderError, match="empty"):
        read_csv(io.BytesIO(data))


def test_header_only_file_has_no_rows() -> None:
    assert _rows(b"sku,title,price\n") == []


def test_workbook_uploaded_as_csv_is_refused() -> None:
    with pytest.raises(SourceReaderError, match="xlsx"):
        read_csv(io.BytesIO(b"PK\x03\x04" + b"\x00" * 100))


def test_source_platform_argument_fills_rows_without_one() -> None:
    data = b"sku,title,price,platform\nA,Mug,5,\nB,Cup,6,ebay\n"

    rows = _rows(data, source_platform="myshop")

    assert [row.data["source_platform"] for row in rows] == ["myshop", "ebay"]


def _mapping_file(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "mapping.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_mapping_file_overrides_detection(tmp_path: Path) -> None:
    mapping = load_mapping(
        _mapping_file(
            tmp_path,
            {
                "columns": {
                    "Our Column": "title",
                    "Preis": "price",
                    "Farbe": "attributes.color",
                    "Artikel": "source_id",
                    "Name": None,
                },
                "defaults": {"currency": "EUR", "source_platform": "myshop"},
            },
        )
    )
    data = "Artikel;Our column;Preis;Farbe;Name;Gewicht\nX1;Tasse;4,50;Blau;ignored;300 g\n"

    (row,) = _rows(data.encode(), mapping=mapping)

    assert row.data == {
        "source_id": "X1",
        "title": "Tasse",
        "price": "4,50",
        "attributes": {"color": "Blau", "gewicht": "300 g"},
        "source_platform": "myshop",
        "currency": "EUR",
    }
    preview = map_header(["Artikel", "Our column", "Name", "Gewicht"], mapping)
    assert preview.layout == "custom"
    assert dict(preview.columns) == {
        "Artikel": "source_id",
        "Our column": "title",
        "Name": None,
        "Gewicht": "attributes.gewicht",
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ([1, 2], "JSON object"),
        ({"columns": {"A": "nonsense"}}, "maps to 'nonsense'"),
        ({"columns": {}, "defaults": {"colour": "red"}}, "unknown field 'colour'"),
        ({"colums": {"A": "title"}}, "unknown keys"),
        ({}, "empty"),
    ],
)
def test_bad_mapping_files_are_explained(tmp_path: Path, content: object, message: str) -> None:
    with pytest.raises(SourceReaderError, match=message):
        load_mapping(_mapping_file(tmp_path, content))


def test_missing_mapping_file_is_a_reader_error(tmp_path: Path) -> None:
    with pytest.raises(SourceReaderError, match="cannot be read"):
        load_mapping(tmp_path / "nope.json")


def test_mapping_defaults_do_not_override_row_values() -> None:
    mapping = ColumnMapping(defaults={"currency": "EUR"})

    rows = _rows(b"sku,title,price,currency\nA,Mug,5,\nB,Cup,6,USD\n", mapping=mapping)

    assert [row.data["currency"] for row in rows] == ["EUR", "USD"]


def test_open_csv_exposes_header_and_layout() -> None:
    table = open_csv(io.BytesIO(POLISH.encode("cp1250")))

    assert table.header == ["Nazwa", "Cena", "Waluta", "Kolor", "SKU"]
    assert table.layout == "plain"
    assert len(list(table)) == 2


def test_caller_stream_stays_open() -> None:
    stream = io.BytesIO(b"sku,title,price\nA,Mug,5\n")

    list(read_csv(stream))

    assert not stream.closed
