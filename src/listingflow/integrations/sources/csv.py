"""CSV product files: encoding and delimiter detection, then streaming rows through the shared
table logic (tabular.py), so a million-row file is read in flat memory.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from charset_normalizer import from_bytes

from listingflow.integrations.sources.base import RowError, SourceReaderError, SourceRow
from listingflow.integrations.sources.mapping import ColumnMapping
from listingflow.integrations.sources.tabular import Record, Table

SAMPLE_SIZE = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
# What sellers' files are written in (Polish, German, English shops); a short sample fits
# many exotic code pages equally well, so the guess is kept among these.
CANDIDATE_ENCODINGS = ("cp1250", "iso8859_2", "cp1252", "iso8859_15", "cp852", "cp1251")
# Bytes cp1250 and cp1252 decode differently, and the letters each reading produces.
_POLISH = frozenset("ąćęłńśźżĄĆĘŁŃŚŹŻ")
_WESTERN = frozenset("àèìòùâêîôûëïÿœçñãõæÀÈÌÒÙÂÊÎÔÛËÏŸŒÇÑÃÕÆ")
_CP1250_FALLBACK = "listingflow.cp1250_fallback"
_UNDECODABLE = re.compile("[\udc80-\udcff]")


def _cp1250_fallback(error: UnicodeError) -> tuple[str, int]:
    # Chosen only when the first 64 KB were plain ASCII, so nothing told UTF-8 from cp1250:
    # bytes that turn out not to be UTF-8 are read as the Polish Windows code page.
    if not isinstance(error, UnicodeDecodeError):
        raise error
    chunk = bytes(error.object[error.start : error.end])
    return chunk.decode("cp1250", errors="surrogateescape"), error.end


codecs.register_error(_CP1250_FALLBACK, _cp1250_fallback)


@dataclass(frozen=True, slots=True)
class CsvFormat:
    """How a CSV file is written: text encoding, decode error policy, delimiter."""

    encoding: str
    errors: str
    delimiter: str


def read_csv(
    stream: BinaryIO,
    *,
    mapping: ColumnMapping | None = None,
    source_platform: str | None = None,
) -> Iterator[SourceRow]:
    """Stream products from a CSV file (Shopify, WooCommerce or a plain sheet).

    The header is read at once, so an empty or binary file raises SourceReaderError here;
    each bad row later comes back as a SourceRow with error set. The stream is not closed.
    """
    return iter(open_csv(stream, mapping=mapping, source_platform=source_platform))


def open_csv(
    stream: BinaryIO,
    *,
    mapping: ColumnMapping | None = None,
    source_platform: str | None = None,
) -> Table:
    """Like read_csv, but returns the Table, whose header and layout can be inspected first."""
    sample = _read_sample(stream)
    complete = len(sample) < SAMPLE_SIZE
    fmt = sniff(sample, complete=complete)
    raw = replay_stream(sample, stream)
    text = io.TextIOWrapper(raw, encoding=fmt.encoding, errors=fmt.errors, newline="")
    first = text.readline()
    if _sep_hint(first) is None:
        # Not Excel's "sep=;" hint line: put it back in front of the rest.
        lines: Iterator[str] = _chain_line(first, text)
    else:
        lines = iter(text)
    reader = csv.reader(lines, delimiter=fmt.delimiter, quotechar='"', strict=False)
    return Table(_records(reader), mapping=mapping, source_platform=source_platform)


def _read_sample(stream: BinaryIO) -> bytes:
    # Pipes and sockets return short reads; a short sample must mean the end of the file.
    sample = b""
    while len(sample) < SAMPLE_SIZE:
        chunk = stream.read(SAMPLE_SIZE - len(sample))
        if not isinstance(chunk, bytes):
            raise TypeError("read_csv needs a binary stream (open the file with 'rb')")
        if not chunk:
            break
        sample += chunk
    return sample


def sniff(sample: bytes, *, complete: bool = False) -> CsvFormat:
    """Guess encoding and delimiter from the first bytes of a file."""
    if not sample.strip():
        raise SourceReaderError("the file is empty: no header row with column names")
    if sample.startswith(b"PK\x03\x04"):
        raise SourceReaderError(
            "this is a spreadsheet workbook, not a CSV file; upload it as .xlsx"
        )
    encoding, errors = _detect_encoding(sample, complete=complete)
    if b"\x00" in sample and not encoding.startswith("utf-16"):
        raise SourceReaderError("the file is binary, not CSV text; export it as CSV (UTF-8)")
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    text = decoder.decode(sample, final=complete).lstrip("\ufeff")
    lines = text.splitlines()
    hint = _sep_hint(lines[0] if lines else "")
    header = next((line for line in lines[1 if hint else 0 :] if line.strip()), "")
    return CsvFormat(encoding, errors, hint or _delimiter(header))


def _detect_encoding(sample: bytes, *, complete: bool) -> tuple[str, str]:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", "surrogateescape"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "surrogateescape"
    decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
    decoded = decoder.decode(sample, final=complete)
    if decoded.isascii():
        return "utf-8", _CP1250_FALLBACK
    invalid = len(_UNDECODABLE.findall(decoded))
    # Text in a single-byte code page almost never forms valid UTF-8 sequences; a UTF-8 file
    # with a few broken bytes should flag those rows, not turn every letter into mojibake.
    if len(decoded) - len(decoded.encode("ascii", "ignore")) - invalid > invalid:
        return "utf-8", "surrogateescape"
    results = from_bytes(sample, cp_isolation=list(CANDIDATE_ENCODINGS))
    best = results.best()
    if best is None:
        return "cp1250", "surrogateescape"
    encoding = best.encoding
    tied = {match.encoding for match in results if match.chaos <= best.chaos + 0.01}
    if {"cp1250", "cp1252"} <= tied | {encoding} and encoding in ("cp1250", "cp1252"):
        encoding = _polish_or_western(sample)
    return encoding, "surrogateescape"


def _polish_or_western(sample: bytes) -> str:
    """cp1250 or cp1252 for a sample both decode cleanly: count the letters each reading makes
    of the bytes where they differ. Polish wins ties: it is the market these files come from."""
    polish = sum(ch in _POLISH for ch in sample.decode("cp1250", errors="ignore"))
    western = sum(ch in _WESTERN for ch in sample.decode("cp1252", errors="ignore"))
    return "cp1252" if western > polish else "cp1250"


def _delimiter(header: str) -> str:
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])  # first listed wins a tie
    return best if counts[best] else ","


def _sep_hint(line: str) -> str | None:
    text = line.strip().lstrip("\ufeff")
    if len(text) == 5 and text.lower().startswith("sep="):
        return text[4]
    return None


def _chain_line(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _records(reader: Iterator[list[str]]) -> Iterator[Record | RowError]:
    index = 0
    while True:
        index += 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RowError(index=index, field=None, message=f"row is not valid CSV: {exc}")
            continue
        yield Record(index=index, cells=cells)


def replay_stream(prefix: bytes, stream: BinaryIO) -> io.BufferedReader:
    """A buffered stream giving `prefix` (bytes already read) and then the rest of `stream`.

    Closing it, as a TextIOWrapper does when collected, leaves the caller's stream open.
    """
    return io.BufferedReader(_Replay(prefix, stream))


class _Replay(io.RawIOBase):
    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self._prefix = memoryview(prefix)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        if self._prefix:
            n = min(len(view), len(self._prefix))
            view[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._stream.read(len(view))
        if not data:
            return 0
        view[: len(data)] = data
        return len(data)
