"""JSON product files: a JSON array (or {"products": [...]}) read item by item, and JSON Lines
read line by line. Keys go through the same mapping as spreadsheet columns (mapping.py).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any, BinaryIO

from listingflow.integrations.sources.base import RowError, SourceReaderError, SourceRow
from listingflow.integrations.sources.csv import replay_stream
from listingflow.integrations.sources.mapping import (
    ColumnMapping,
    PlainRow,
    finish_row,
    plain_targets,
)

MAX_ITEM_BYTES = 10 * 1024 * 1024
_CHUNK = 64 * 1024
_WHITESPACE = " \t\r\n"


def read_json(
    stream: BinaryIO,
    *,
    mapping: ColumnMapping | None = None,
    source_platform: str | None = None,
) -> Iterator[SourceRow]:
    """Stream products from a JSON array, or from the "products" array of a JSON object.

    Items are decoded one at a time, so memory holds one item (at most 10 MB) plus a read
    buffer. A syntax error ends the file: it is reported as an error row at that item, because
    nothing after it can be trusted. The outer structure is checked here, before iterating.
    """
    scanner = _Scanner(stream)
    _open_products_array(scanner)
    return _items(scanner, _KeyMapper(mapping, source_platform))


def read_jsonl(
    stream: BinaryIO,
    *,
    mapping: ColumnMapping | None = None,
    source_platform: str | None = None,
) -> Iterator[SourceRow]:
    """Stream products from JSON Lines: one object per line, blank lines skipped, a bad line is
    an error row naming its line number. A file without any object raises SourceReaderError."""
    lines = _numbered_lines(stream)
    for number, line in lines:
        if line.strip():
            return _jsonl_rows(number, line, lines, _KeyMapper(mapping, source_platform))
    raise SourceReaderError("the file is empty: no JSON object on any line")


def _jsonl_rows(
    number: int, line: bytes, rest: Iterator[tuple[int, bytes]], mapper: _KeyMapper
) -> Iterator[SourceRow]:
    yield _jsonl_row(number, line, mapper)
    for number, line in rest:
        if line.strip():
            yield _jsonl_row(number, line, mapper)


def _jsonl_row(number: int, line: bytes, mapper: _KeyMapper) -> SourceRow:
    if len(line) > MAX_ITEM_BYTES:
        return _error(number, f"line {number} is longer than {MAX_ITEM_BYTES // 2**20} MB")
    try:
        text = line.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError:
        return _error(number, f"line {number} is not valid UTF-8 text")
    try:
        item = json.loads(text)
    except json.JSONDecodeError as exc:
        return _error(number, f"line {number} is not valid JSON (column {exc.colno}: {exc.msg})")
    except RecursionError:
        return _error(number, f"line {number} is nested too deeply")
    return mapper.row(number, item, "line")


def _numbered_lines(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    number = 0
    while True:
        line = stream.readline(MAX_ITEM_BYTES + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_ITEM_BYTES and not line.endswith(b"\n"):
            while (more := stream.readline(_CHUNK)) and not more.endswith(b"\n"):
                pass  # skip the rest of an oversized line; it is reported, not held
        yield number, line


class _KeyMapper:
    """Maps an item's keys like spreadsheet columns; the plan is cached per key set."""

    def __init__(self, mapping: ColumnMapping | None, source_platform: str | None) -> None:
        self.mapping = mapping
        self.source_platform = source_platform
        self.plans: dict[tuple[str, ...], PlainRow] = {}

    def row(self, index: int, item: Any, unit: str) -> SourceRow:
        if not isinstance(item, dict):
            kind = "a list" if isinstance(item, list) else f"a {type(item).__name__}"
            return _error(index, f"{unit} {index} is {kind}, not a product object")
        keys = tuple(str(key) for key in item)
        plan = self.plans.get(keys)
        if plan is None:
            if len(self.plans) > 1000:
                self.plans.clear()  # items with ever-new key sets must not grow memory
            plan = self.plans[keys] = PlainRow(keys, plain_targets(keys, self.mapping))
        data, error = plan.build(index, item.values())
        if error is None:
            error = finish_row(
                index, data, mapping=self.mapping, source_platform=self.source_platform
            )
        return SourceRow(index=index, data=data, error=error)


def _error(index: int, message: str) -> SourceRow:
    return SourceRow(index=index, error=RowError(index=index, field=None, message=message))


class _Scanner:
    """Incremental JSON tokenizer over a byte stream: whitespace, punctuation, whole values."""

    def __init__(self, stream: BinaryIO) -> None:
        self.text = io.TextIOWrapper(replay_stream(b"", stream), encoding="utf-8-sig")
        self.buffer = ""
        self.pos = 0
        self.eof = False
        self.lines_before = 0  # newlines in text already dropped from the buffer
        self.decoder = json.JSONDecoder()

    def _fill(self, size: int = _CHUNK) -> bool:
        if self.eof:
            return False
        self.lines_before += self.buffer.count("\n", 0, self.pos)
        self.buffer = self.buffer[self.pos :]
        self.pos = 0
        chunk = self.text.read(size)  # UnicodeDecodeError propagates to the caller
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    def peek(self) -> str | None:
        """The next non-whitespace character, without consuming it; None at the end."""
        while True:
            while self.pos < len(self.buffer) and self.buffer[self.pos] in _WHITESPACE:
                self.pos += 1
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if not self._fill():
                return None

    def take(self) -> None:
        self.pos += 1

    def value(self) -> Any:
        """Decode the next whole value, reading more input until it is complete."""
        self.peek()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError as exc:
                if not _maybe_truncated(exc, len(self.buffer)):
                    raise
                if len(self.buffer) - self.pos > MAX_ITEM_BYTES:
                    raise _TooLarge from None
                # Read as much again as is buffered, so a big item costs O(n), not O(n^2).
                if self._fill(max(_CHUNK, len(self.buffer) - self.pos)):
                    continue
                raise
            # A number at the very end of the buffer may continue in the next chunk.
            if end == len(self.buffer) and not self.eof and self._fill():
                continue
            self.pos = end
            return value

    def line(self) -> int:
        return self.lines_before + self.buffer.count("\n", 0, self.pos) + 1


class _TooLarge(Exception):
    pass


def _maybe_truncated(error: json.JSONDecodeError, buffered: int) -> bool:
    """Whether the value may simply continue past the buffer (else it is a real syntax error)."""
    return error.pos >= buffered - 8 or error.msg.startswith("Unterminated string")


def _open_products_array(scanner: _Scanner) -> None:
    try:
        first = scanner.peek()
        if first is None:
            raise SourceReaderError("the file is empty: no JSON products")
        if first == "{":
            scanner.take()
            _seek_products_key(scanner)
        elif first != "[":
            raise SourceReaderError(
                'expected a JSON array of products or an object with a "products" array'
            )
        scanner.take()
    except UnicodeDecodeError:
        raise SourceReaderError("the file is not UTF-8 text") from None
    except (json.JSONDecodeError, _TooLarge, RecursionError) as exc:
        raise SourceReaderError(f"the file is not valid JSON near line {scanner.line()}") from exc


def _seek_products_key(scanner: _Scanner) -> None:
    while True:
        following = scanner.peek()
        if following in ("}", None):
            raise SourceReaderError('the JSON object has no "products" array')
        if following != '"':
            raise json.JSONDecodeError("expected a key", scanner.buffer, scanner.pos)
        key = scanner.value()
        if scanner.peek() != ":":
            raise json.JSONDecodeError("expected ':'", scanner.buffer, scanner.pos)
        scanner.take()
        if key == "products":
            if scanner.peek() != "[":
                raise SourceReaderError('"products" must be an array of product objects')
            return
        scanner.value()  # another top-level key (paging info, shop name): skipped
        following = scanner.peek()
        if following == ",":
            scanner.take()
        elif following != "}":
            raise json.JSONDecodeError("expected ',' or '}'", scanner.buffer, scanner.pos)


def _items(scanner: _Scanner, mapper: _KeyMapper) -> Iterator[SourceRow]:
    position = 0
    try:
        if scanner.peek() == "]":
            return
        while True:
            position += 1
            yield mapper.row(position, scanner.value(), "item")
            following = scanner.peek()
            if following == "]":
                return
            if following != ",":
                raise json.JSONDecodeError("expected ',' or ']'", scanner.buffer, scanner.pos)
            scanner.take()
    except UnicodeDecodeError:
        message = f"item {position}: the file is not valid UTF-8 text from here on"
    except _TooLarge:
        message = f"item {position} is larger than {MAX_ITEM_BYTES // 2**20} MB"
    except RecursionError:
        message = f"item {position} is nested too deeply"
    except json.JSONDecodeError as exc:
        message = (
            f"item {position}: invalid JSON near line {scanner.line()} ({exc.msg}); "
            "the rest of the file was not read"
        )
    yield _error(position, message)
