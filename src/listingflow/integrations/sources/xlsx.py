"""Spreadsheet product files (XLSX, XLSM, XLS, ODS) read with python-calamine, first visible
sheet, rows streamed through the same table logic as CSV (tabular.py).
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from python_calamine import CalamineError, CalamineWorkbook, SheetVisibleEnum

from listingflow.integrations.sources.base import RowError, SourceReaderError, SourceRow
from listingflow.integrations.sources.mapping import ColumnMapping
from listingflow.integrations.sources.tabular import Record, Table

# Uploads that cannot seek are spooled to disk past this size; calamine needs random access.
_SPOOL_BYTES = 16 * 1024 * 1024


def read_xlsx(
    path_or_stream: Path | str | IO[bytes],
    *,
    mapping: ColumnMapping | None = None,
    source_platform: str | None = None,
) -> Iterator[SourceRow]:
    """Stream products from the first visible sheet; the index is the sheet's row number.

    calamine parses a sheet's cells when the sheet is opened, so memory grows with the sheet
    (about what the cell values take); rows are then converted one at a time.
    """
    return iter(open_xlsx(path_or_stream, mapping=mapping, source_platform=source_platform))


def open_xlsx(
    path_or_stream: Path | str | IO[bytes],
    *,
    mapping: ColumnMapping | None = None,
    source_platform: str | None = None,
) -> Table:
    """Like read_xlsx, but returns the Table, whose header and layout can be inspected first."""
    try:
        if isinstance(path_or_stream, str | Path):
            workbook = CalamineWorkbook.from_path(str(path_or_stream))
        else:
            workbook = CalamineWorkbook.from_filelike(_seekable(path_or_stream))
        sheet = workbook.get_sheet_by_index(_first_visible_sheet(workbook))
    except CalamineError as exc:
        raise SourceReaderError(f"the spreadsheet could not be opened: {exc}") from None
    except OSError as exc:
        raise SourceReaderError(f"the spreadsheet could not be read: {exc}") from None
    records = _records(workbook, sheet.iter_rows())
    return Table(records, mapping=mapping, source_platform=source_platform, pad_short_rows=True)


def cell_text(value: Any) -> str:
    """A typed cell as the text a seller sees: 12345.0 -> '12345', 19.99 -> '19.99'."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        # Excel keeps 15 significant digits; more would turn a formula's 0.1+0.2 into
        # 0.30000000000000004, which no price field accepts.
        return format(value, ".15g")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _records(workbook: CalamineWorkbook, rows: Iterator[list[Any]]) -> Iterator[Record | RowError]:
    # calamine yields rows from the sheet's first row, so position = sheet row number.
    try:
        for index, row in enumerate(rows, start=1):
            yield Record(index=index, cells=[cell_text(value) for value in row])
    finally:
        workbook.close()


def _first_visible_sheet(workbook: CalamineWorkbook) -> int:
    for position, meta in enumerate(workbook.sheets_metadata):
        if meta.visible == SheetVisibleEnum.Visible:
            return position
    return 0


def _seekable(stream: IO[bytes]) -> IO[bytes]:
    try:
        if stream.seekable():
            return stream
    except (AttributeError, ValueError):
        pass
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 - lives with the workbook
    shutil.copyfileobj(stream, spool)
    spool.seek(0)
    return spool
