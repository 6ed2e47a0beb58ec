"""Rows of cells (from CSV or a spreadsheet) to SourceRows: header, layout, cell checks, defaults.

Both readers hand over records as (row number, cells); everything after that is shared here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from listingflow.integrations.sources import shopify_export, woocommerce_export
from listingflow.integrations.sources.base import RowError, SourceReaderError, SourceRow
from listingflow.integrations.sources.mapping import (
    ColumnMapping,
    Layout,
    PlainRow,
    Target,
    detect_layout,
    finish_row,
    plain_targets,
)

# Lone surrogates are how undecodable bytes survive decoding ("surrogateescape"); a cell that
# holds one was not valid text in the file's encoding.
_UNDECODABLE = re.compile("[\udc80-\udcff]")


@dataclass(frozen=True, slots=True)
class Record:
    """One parsed record: its row number as a spreadsheet shows it, and its cells."""

    index: int
    cells: Sequence[str]


@dataclass(frozen=True, slots=True)
class HeaderMapping:
    """What a header was recognised as, and each column's target (None: ignored)."""

    layout: Layout | Literal["custom"]
    columns: tuple[tuple[str, Target], ...]


def map_header(header: Sequence[str], mapping: ColumnMapping | None = None) -> HeaderMapping:
    """The column-to-field mapping the readers will apply to this header (for previews)."""
    if mapping is not None:
        return HeaderMapping(
            "custom", tuple(zip(header, plain_targets(header, mapping), strict=True))
        )
    layout = detect_layout(header)
    if layout == "shopify":
        targets = shopify_export.targets(header)
    elif layout == "woocommerce":
        targets = woocommerce_export.targets(header)
    else:
        targets = plain_targets(header)
    return HeaderMapping(layout, tuple(zip(header, targets, strict=True)))


class _Assembler(Protocol):
    @property
    def platform(self) -> str | None: ...

    def feed(self, index: int, cells: Sequence[str]) -> Iterator[SourceRow]: ...

    def finish(self) -> Iterator[SourceRow]: ...


class _PlainAssembler:
    platform: str | None = None

    def __init__(self, header: Sequence[str], mapping: ColumnMapping | None) -> None:
        self.row = PlainRow(header, plain_targets(header, mapping))

    def feed(self, index: int, cells: Sequence[str]) -> Iterator[SourceRow]:
        data, error = self.row.build(index, cells)
        yield SourceRow(index=index, data=data, error=error)

    def finish(self) -> Iterator[SourceRow]:
        return iter(())


class Table:
    """A table whose header has been read; iterate it for the products."""

    def __init__(
        self,
        records: Iterable[Record | RowError],
        *,
        mapping: ColumnMapping | None,
        source_platform: str | None,
        pad_short_rows: bool = False,
    ) -> None:
        self._records = iter(records)
        self.header = self._read_header()
        self.mapping = mapping
        self.source_platform = source_platform
        # Spreadsheets have no "missing" cells, only empty ones; CSV rows must match the header.
        self.pad_short_rows = pad_short_rows
        self.layout: Layout = "plain" if mapping else detect_layout(self.header)
        self._assembler: _Assembler
        if self.layout == "shopify":
            self._assembler = shopify_export.ShopifyAssembler(self.header)
        elif self.layout == "woocommerce":
            self._assembler = woocommerce_export.WooCommerceAssembler(self.header)
        else:
            self._assembler = _PlainAssembler(self.header, mapping)

    def _read_header(self) -> list[str]:
        for record in self._records:
            if isinstance(record, RowError):
                raise SourceReaderError(f"the header row could not be read: {record.message}")
            if any(cell.strip() for cell in record.cells):
                return [cell.strip() for cell in record.cells]
        raise SourceReaderError("the file is empty: no header row with column names")

    def __iter__(self) -> Iterator[SourceRow]:
        for record in self._records:
            if isinstance(record, RowError):
                yield SourceRow(index=record.index, error=record)
                continue
            if not any(cell.strip() for cell in record.cells):
                continue
            error = self._check(record)
            if error is not None:
                yield SourceRow(index=record.index, error=error)
                continue
            cells = list(record.cells[: len(self.header)])
            cells.extend("" for _ in range(len(self.header) - len(cells)))
            for row in self._assembler.feed(record.index, cells):
                yield self._finish(row)
        for row in self._assembler.finish():
            yield self._finish(row)

    def _check(self, record: Record) -> RowError | None:
        width, cells = len(self.header), record.cells
        extra = [cell for cell in cells[width:] if cell.strip()]
        if extra or (len(cells) < width and not self.pad_short_rows):
            return RowError(
                index=record.index,
                field=None,
                message=f"row has {len(cells)} cells but the header has {width} columns",
            )
        # One search over the whole row; the per-cell pass only runs to name the column.
        if not _UNDECODABLE.search("\x00".join(cells)):
            return None
        for column, cell in zip(self.header, cells, strict=False):
            if _UNDECODABLE.search(cell):
                return RowError(
                    index=record.index,
                    field=column or None,
                    message="cell holds bytes that are not valid text in the file's encoding",
                )
        return None

    def _finish(self, row: SourceRow) -> SourceRow:
        if row.error is None:
            row.error = finish_row(
                row.index,
                row.data,
                mapping=self.mapping,
                source_platform=self.source_platform,
                layout_platform=self._assembler.platform,
            )
        return row
