"""Column mapping shared by the file readers: header normalization, layout detection, the
seller's mapping file, and turning a plain row (CSV, XLSX or JSON object) into v1 fields.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from listingflow.integrations.sources.base import PRODUCT_FIELDS, RowError, SourceReaderError

Layout = Literal["shopify", "woocommerce", "plain"]

# A column's target: a v1 field, "attributes.<key>", "attributes" (a JSON object cell) or None
# (ignored). These strings are also what the web UI shows in its mapping preview.
Target = str | None

# Header synonyms sellers actually use (English, Polish), compared after normalize_header().
SYNONYMS: dict[str, str] = {
    **{name: name for name in PRODUCT_FIELDS},
    "id": "source_id",
    "sku": "source_id",
    "external_id": "source_id",
    "product_id": "source_id",
    "kod": "source_id",
    "kod_produktu": "source_id",
    "name": "title",
    "product_name": "title",
    "nazwa": "title",
    "nazwa_produktu": "title",
    "tytul": "title",
    "cena": "price",
    "cena_brutto": "price",
    "waluta": "currency",
    "opis": "description",
    "image": "images",
    "image_url": "images",
    "image_urls": "images",
    "zdjecie": "images",
    "zdjecia": "images",
    "photos": "images",
    "kategoria": "category",
    "marka": "brand",
    "manufacturer": "brand",
    "producent": "brand",
    "url": "source_url",
    "link": "source_url",
    "product_url": "source_url",
    "platform": "source_platform",
    "source": "source_platform",
}
# Several image columns are common in hand-made sheets: image_1, zdjecie2, ...
_IMAGE_COLUMN = re.compile(r"^(?:images?|image_url|photos?|zdjeci[ae])_?\d+$")

_SHOPIFY_MARKERS = frozenset(
    {
        "body_html",
        "variant_price",
        "variant_sku",
        "variant_barcode",
        "variant_inventory_qty",
        "variant_compare_at_price",
        "image_src",
        "product_image_url",
        "option1_name",
        "option1_value",
    }
)

# Excel turns long numeric codes (EAN, numeric ids) into "3.65275E+11": the digits are gone.
_SCIENTIFIC = re.compile(r"^\d(?:[.,]\d+)?E\+\d{1,3}$")
_IDENTIFIER_KEYS = frozenset({"ean", "gtin", "barcode", "upc", "isbn", "mpn", "kod_kreskowy"})
# A comma splits URLs only before the next URL: CDN URLs often hold commas (w_100,h_100).
_URL_SPLIT = re.compile(r"[\s|;]+|,(?=\s*https?://)")


@functools.lru_cache(maxsize=4096)
def normalize_header(name: str) -> str:
    """Header text as compared against known names: no accents, lower case, '_' separators."""
    text = unicodedata.normalize("NFKD", name.replace("ł", "l").replace("Ł", "L"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


@functools.lru_cache(maxsize=4096)
def attribute_key(name: str) -> str:
    """Attribute key for a column or attribute name: 'Weight (kg)' -> 'weight_kg', keeps 'ż'."""
    return re.sub(r"\W+", "_", name.strip().lower()).strip("_")


def is_mangled_number(text: str) -> bool:
    """True for a code a spreadsheet rewrote in scientific notation (3.65275E+11)."""
    return bool(_SCIENTIFIC.match(text.strip()))


def split_urls(text: str) -> list[str]:
    """Image URLs from one cell: separated by spaces, '|', ';' or a comma before the next URL."""
    return [part.strip(" ,") for part in _URL_SPLIT.split(text) if part.strip(" ,")]


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def detect_layout(header: Sequence[str]) -> Layout:
    """Which export produced this header: Shopify, WooCommerce, or a plain product sheet."""
    names = {normalize_header(cell) for cell in header if cell}
    if ({"handle", "url_handle"} & names) and (_SHOPIFY_MARKERS & names):
        return "shopify"
    if {"type", "sku", "name", "regular_price"} <= names:
        return "woocommerce"
    return "plain"


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """A seller's own mapping: source column -> target, plus default field values.

    columns: header text (compared case- and space-insensitively) -> a v1 field name,
    "attributes.<key>", "attributes" (a cell holding a JSON object) or None to ignore the column.
    Columns the mapping does not name are still detected by their header, as in a plain sheet.
    defaults: v1 field -> value used when a row leaves that field empty.
    """

    columns: Mapping[str, Target] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any, *, origin: str = "mapping") -> ColumnMapping:
        if not isinstance(data, dict):
            raise SourceReaderError(f"{origin}: expected a JSON object with 'columns'")
        unknown = set(data) - {"columns", "defaults"}
        if unknown:
            raise SourceReaderError(
                f"{origin}: unknown keys {sorted(unknown)}; expected 'columns' and 'defaults'"
            )
        columns = data.get("columns", {})
        defaults = data.get("defaults", {})
        if not isinstance(columns, dict) or not isinstance(defaults, dict):
            raise SourceReaderError(f"{origin}: 'columns' and 'defaults' must be JSON objects")
        for column, target in columns.items():
            if target is not None and not _valid_target(target):
                raise SourceReaderError(
                    f"{origin}: column {column!r} maps to {target!r}; use one of "
                    f"{', '.join(PRODUCT_FIELDS)}, 'attributes.<name>' or null"
                )
        for name in defaults:
            if name not in PRODUCT_FIELDS:
                raise SourceReaderError(
                    f"{origin}: default for unknown field {name!r}; "
                    f"fields are {', '.join(PRODUCT_FIELDS)}"
                )
        if not columns and not defaults:
            raise SourceReaderError(f"{origin}: the mapping is empty")
        return cls(columns=dict(columns), defaults=dict(defaults))


def _valid_target(target: Any) -> bool:
    if not isinstance(target, str):
        return False
    if target in PRODUCT_FIELDS:
        return True
    prefix, _, key = target.partition(".")
    return prefix == "attributes" and bool(key.strip())


def load_mapping(path: Path | str) -> ColumnMapping:
    """Read a mapping file; any problem is a SourceReaderError a seller can act on."""
    origin = f"mapping file {Path(path).name}"
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceReaderError(f"{origin}: cannot be read ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceReaderError(
            f"{origin}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    return ColumnMapping.from_dict(data, origin=origin)


def plain_targets(header: Sequence[str], mapping: ColumnMapping | None = None) -> list[Target]:
    """Target of each column of a plain sheet; the mapping wins, each field is filled once."""
    explicit = {normalize_header(k): v for k, v in (mapping.columns if mapping else {}).items()}
    targets: list[Target] = [None] * len(header)
    decided = [False] * len(header)
    used: set[str] = set()
    for i, name in enumerate(header):
        norm = normalize_header(name)
        if norm in explicit:
            targets[i], decided[i] = explicit[norm], True
            used.add(explicit[norm] or "")
    for i, name in enumerate(header):
        if decided[i]:
            continue
        norm = normalize_header(name)
        guess = SYNONYMS.get(norm) or ("images" if _IMAGE_COLUMN.match(norm) else None)
        if guess and (guess not in used or guess == "images"):
            targets[i] = guess
            used.add(guess)
        else:
            key = attribute_key(name) or f"column_{i + 1}"
            while f"attributes.{key}" in used:
                key += "_2"
            targets[i] = f"attributes.{key}"
            used.add(targets[i] or "")
    return targets


class PlainRow:
    """Builds v1 data from one plain row given each column's target."""

    def __init__(self, header: Sequence[str], targets: Sequence[Target]) -> None:
        self.header = list(header)
        self.targets = list(targets)

    def build(self, index: int, values: Iterable[Any]) -> tuple[dict[str, Any], RowError | None]:
        data: dict[str, Any] = {}
        attributes: dict[str, Any] = {}
        json_attributes: dict[str, Any] = {}
        images: list[Any] = []
        for column, target, value in zip(self.header, self.targets, values, strict=False):
            if target is None or is_blank(value):
                continue
            if target == "images":
                images.extend(split_urls(value) if isinstance(value, str) else _as_list(value))
            elif target == "attributes":
                parsed = _attributes_object(value)
                if parsed is None:
                    message = f"column {column!r} must hold a JSON object of attributes"
                    return data, RowError(index=index, field="attributes", message=message)
                json_attributes.update(parsed)
            elif target.startswith("attributes."):
                add_attribute(attributes, target.removeprefix("attributes."), value)
            elif target not in data:
                data[target] = value
        attributes.update(json_attributes)
        if images:
            data["images"] = images
        if attributes:
            data["attributes"] = attributes
        return data, None


def add_attribute(attributes: dict[str, Any], key: str, value: Any) -> None:
    """Set an attribute; codes mangled into scientific notation keep their text and get a flag."""
    attributes[key] = value
    if (
        isinstance(value, str)
        and normalize_header(key) in _IDENTIFIER_KEYS
        and is_mangled_number(value)
    ):
        attributes[f"{key}_unreliable"] = True


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _attributes_object(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        return None
    try:
        parsed = json.loads(value)
    except (json.JSONDecodeError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


def finish_row(
    index: int,
    data: dict[str, Any],
    *,
    mapping: ColumnMapping | None,
    source_platform: str | None,
    layout_platform: str | None = None,
) -> RowError | None:
    """Fill defaults in place (row value > source_platform > mapping default > the layout's own
    platform) and refuse ids a spreadsheet has already rounded: importing them would merge
    different products under one made-up id."""
    if is_blank(data.get("source_platform")):
        platform = source_platform or (mapping.defaults.get("source_platform") if mapping else None)
        if platform or layout_platform:
            data["source_platform"] = platform or layout_platform
    for name, value in (mapping.defaults if mapping else {}).items():
        if name == "attributes" and isinstance(value, dict):
            data["attributes"] = {**value, **data.get("attributes", {})}
        elif is_blank(data.get(name)):
            data[name] = value
    source_id = data.get("source_id")
    if isinstance(source_id, str) and is_mangled_number(source_id):
        return RowError(
            index=index,
            field="source_id",
            message=(
                f"id {source_id!r} was rounded by a spreadsheet into scientific notation; "
                "export the column as text"
            ),
        )
    return None
