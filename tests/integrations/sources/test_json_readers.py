"""JSON arrays and JSON Lines files of products."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from listingflow.importing.schemas import ProductIn
from listingflow.integrations.sources.base import SourceReaderError, SourceRow
from listingflow.integrations.sources.jsonl import read_json, read_jsonl
from listingflow.integrations.sources.mapping import ColumnMapping

MUG = {"source_id": "A", "title": "Mug", "price": 19.99, "images": ["https://i.example/a.jpg"]}


def _json(data: bytes | str, **options: Any) -> list[SourceRow]:
    raw = data.encode() if isinstance(data, str) else data
    return list(read_json(io.BytesIO(raw), **options))


def _jsonl(data: bytes | str) -> list[SourceRow]:
    raw = data.encode() if isinstance(data, str) else data
    return list(read_jsonl(io.BytesIO(raw)))


def test_json_array_keeps_types_and_positions() -> None:
    rows = _json(json.dumps([MUG, {**MUG, "source_id": 7, "attributes": {"size": "L"}}]))

    assert [row.index for row in rows] == [1, 2]
    assert rows[0].data == MUG
    assert rows[1].data["source_id"] == 7
    assert rows[1].data["attributes"] == {"size": "L"}
    assert ProductIn.model_validate(rows[1].data).source_id == "7"


def test_products_key_after_other_keys() -> None:
    body = json.dumps({"shop": {"name": "x", "tags": [1, 2]}, "count": 1, "products": [MUG]})

    (row,) = _json(body)

    assert row.data["title"] == "Mug"


def test_synonyms_unknown_keys_and_defaults_apply_to_json_items() -> None:
    mapping = ColumnMapping(defaults={"currency": "EUR"})
    item = {"sku": "B", "name": "Cup", "cena": "5,50", "color": "red"}

    (row,) = _json(json.dumps([item]), mapping=mapping, source_platform="myshop")

    assert row.data == {
        "source_id": "B",
        "title": "Cup",
        "price": "5,50",
        "attributes": {"color": "red"},
        "currency": "EUR",
        "source_platform": "myshop",
    }


def test_items_that_are_not_objects_are_error_rows() -> None:
    rows = _json(json.dumps([MUG, "oops", [1], MUG]))

    assert [row.error is None for row in rows] == [True, False, False, True]
    assert rows[1].error is not None and rows[1].error.index == 2


def test_syntax_error_mid_array_ends_with_an_error_row() -> None:
    body = json.dumps([MUG, MUG])[:-1] + ', {"title": oops}, {"title": "never"}]'

    rows = _json(body)

    assert [row.error is None for row in rows] == [True, True, False]
    assert rows[2].index == 3
    assert rows[2].error is not None and "rest of the file was not read" in rows[2].error.message


def test_items_spanning_many_read_chunks_are_decoded() -> None:
    items = [{**MUG, "source_id": str(i), "description": "ż" * 5000 + str(i)} for i in range(60)]

    rows = _json(json.dumps(items, ensure_ascii=False, indent=2))

    assert len(rows) == 60
    assert rows[-1].data["description"].endswith("59")
    assert all(row.error is None for row in rows)


def test_empty_array_has_no_rows_and_bom_is_accepted() -> None:
    assert _json(b"\xef\xbb\xbf [ ] ") == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ('"products"', "expected a JSON array"),
        ('{"items": []}', 'no "products"'),
        ('{"products": {}}', "must be an array"),
        ("{oops", "not valid JSON"),
    ],
)
def test_whole_file_problems_raise(body: str, message: str) -> None:
    with pytest.raises(SourceReaderError, match=message):
        read_json(io.BytesIO(body.encode()))


def test_jsonl_reads_lines_and_reports_bad_ones_by_line_number() -> None:
    body = (
        "\ufeff"
        + json.dumps(MUG)
        + "\n\n"
        + "{bad json}\n"
        + "[1, 2]\n"
        + json.dumps({**MUG, "source_id": "Z"})
        + "\r\n"
    )

    rows = _jsonl(body)

    assert [row.index for row in rows] == [1, 3, 4, 5]
    assert rows[0].data == MUG
    assert rows[1].error is not None and "line 3" in rows[1].error.message
    assert rows[2].error is not None and "line 4" in rows[2].error.message
    assert rows[3].data["source_id"] == "Z"


def test_jsonl_invalid_utf8_line_is_an_error_row() -> None:
    rows = _jsonl(json.dumps(MUG).encode() + b'\n{"title": "\xff"}\n')

    assert rows[1].error is not None
    assert "UTF-8" in rows[1].error.message


def test_jsonl_without_objects_raises() -> None:
    with pytest.raises(SourceReaderError, match="empty"):
        read_jsonl(io.BytesIO(b"\n  \n"))
