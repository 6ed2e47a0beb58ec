"""WooCommerce product CSV exports: sellable rows (simple, external, variation) become products;
variations inherit what their variable parent carries (name, description, categories, images).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from listingflow.integrations.sources.base import SourceRow
from listingflow.integrations.sources.mapping import (
    Target,
    add_attribute,
    attribute_key,
    normalize_header,
    split_urls,
)

PLATFORM = "woocommerce"

# Variations that arrive before their parent wait for it; past this many they are emitted as
# they are (the parent is probably missing) so memory stays flat on any file.
MAX_PENDING_VARIATIONS = 50_000

_ATTRIBUTE_PAIR = re.compile(r"^attribute_(\d+)_(name|value_s)$")
_UNIT = re.compile(r"\(([^)]+)\)\s*$")
_FIELDS = {
    "sku": "source_id",
    "name": "title",
    "description": "description",
    "categories": "category",
    "brands": "brand",
    "sale_price": "price",
    "regular_price": "price",
    "images": "images",
}
_ATTRIBUTES = {
    "id": "woocommerce_id",
    "type": "product_type",
    "published": "published",
    "is_featured": "featured",
    "visibility_in_catalog": "visibility",
    "in_stock": "in_stock",
    "stock": "stock",
    "backorders_allowed": "backorders",
    "short_description": "short_description",
    "date_sale_price_starts": "sale_starts",
    "date_sale_price_ends": "sale_ends",
    "tags": "tags",
    "shipping_class": "shipping_class",
    "external_url": "external_url",
    "parent": "parent",
    "gtin_upc_ean_or_isbn": "gtin",
}
_FLAGS = {"1": True, "0": False}
# Values the parent passes on when the variation's own cell is empty.
_INHERITED = ("title", "description", "category", "images", "brand")
_LIST_SPLIT = re.compile(r"(?<!\\),\s*")  # WooCommerce escapes commas inside a value as "\,"


def targets(header: Sequence[str]) -> list[Target]:
    """What each column becomes, for the mapping preview."""
    result: list[Target] = []
    for name in header:
        key = normalize_header(name)
        if key in _FIELDS:
            result.append(_FIELDS[key])
        elif key in _ATTRIBUTES:
            result.append(f"attributes.{_ATTRIBUTES[key]}")
        elif _ATTRIBUTE_PAIR.match(key):
            result.append("attributes.*")
        elif _is_unit(name):
            result.append(f"attributes.{attribute_key(name)}")
        else:
            result.append(None)
    return result


def _is_unit(name: str) -> bool:
    """'Weight (kg)' carries its unit; 'Attribute 1 value(s)' only looks like it does."""
    return bool(_UNIT.search(name)) and not _ATTRIBUTE_PAIR.match(normalize_header(name))


def _split(text: str) -> list[str]:
    return [part.replace("\\,", ",").strip() for part in _LIST_SPLIT.split(text) if part.strip()]


class WooCommerceAssembler:
    """One product per sellable row; keeps variable parents' inheritable fields by id and SKU."""

    platform = PLATFORM

    def __init__(self, header: Sequence[str]) -> None:
        self.keys = [normalize_header(name) for name in header]
        self.unit_keys = {i: attribute_key(name) for i, name in enumerate(header) if _is_unit(name)}
        self.parents: dict[str, dict[str, Any]] = {}
        self.pending: dict[str, list[tuple[int, dict[str, Any], list[str]]]] = {}
        self.pending_count = 0

    def feed(self, index: int, cells: Sequence[str]) -> Iterator[SourceRow]:
        row = {key: cell.strip() for key, cell in zip(self.keys, cells, strict=False) if key}
        kinds = {kind.strip().lower() for kind in row.get("type", "").split(",")}
        data, axes = self._data(row, cells)
        if "variable" in kinds:
            yield from self._remember_parent(row, data, axes)
        elif "grouped" in kinds:
            return  # a grouped product is a shelf of other products, not something to sell
        elif "variation" in kinds and row.get("parent"):
            parent = self._parent(row["parent"])
            if parent is not None:
                yield SourceRow(index=index, data=_inherit(data, axes, parent))
            else:
                self.pending.setdefault(row["parent"], []).append((index, data, axes))
                self.pending_count += 1
                if self.pending_count > MAX_PENDING_VARIATIONS:
                    yield from self.finish()
        else:
            yield SourceRow(index=index, data=data)

    def finish(self) -> Iterator[SourceRow]:
        pending, self.pending, self.pending_count = self.pending, {}, 0
        for rows in pending.values():
            for index, data, _axes in rows:
                yield SourceRow(index=index, data=data)

    def _parent(self, ref: str) -> dict[str, Any] | None:
        found = self.parents.get(ref)
        if found is None and ref.isdigit():
            found = self.parents.get(f"id:{ref}")
        return found

    def _remember_parent(
        self, row: dict[str, str], data: dict[str, Any], axes: list[str]
    ) -> Iterator[SourceRow]:
        parent = {name: data[name] for name in _INHERITED if name in data}
        attributes = data.get("attributes", {})
        # Multi-valued pairs are the variation axes (Color: Blue, Green); only fixed ones
        # (Material: Cotton) describe every variation.
        fixed = {
            key: attributes[key]
            for key in axes
            if key in attributes and not isinstance(attributes[key], list)
        }
        for key in ("tags", "categories"):
            if key in attributes:
                fixed[key] = attributes[key]
        parent["attributes"] = fixed
        refs = [f"id:{row['id']}", row["id"]] if row.get("id") else []
        for ref in [*refs, row.get("sku", "")]:
            if not ref:
                continue
            self.parents[ref] = parent
            for index, waiting, waiting_axes in self.pending.pop(ref, []):
                self.pending_count -= 1
                yield SourceRow(index=index, data=_inherit(waiting, waiting_axes, parent))

    def _data(self, row: dict[str, str], cells: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
        """The row's own fields, and the attribute keys that came from "Attribute N" pairs."""
        data: dict[str, Any] = {}
        if row.get("sku") or row.get("id"):
            data["source_id"] = row.get("sku") or row["id"]
        for key, name in (("name", "title"), ("description", "description")):
            if row.get(key):
                data[name] = row[key]
        if not data.get("description") and row.get("short_description"):
            data["description"] = row.pop("short_description")
        categories = _split(row.get("categories", ""))
        if categories:
            # The deepest path names the product best; all of them stay in attributes.
            data["category"] = max(categories, key=lambda path: path.count(">"))
        if row.get("brands"):
            data["brand"] = _split(row["brands"])[0]
        price = row.get("sale_price") or row.get("regular_price")
        if price:
            data["price"] = price
        if row.get("images"):
            data["images"] = split_urls(row["images"])

        attributes: dict[str, Any] = {}
        for key, name in _ATTRIBUTES.items():
            value = row.get(key)
            if not value:
                continue
            if key == "published" and value == "-1":
                attributes[name] = "private"
            elif key in ("published", "is_featured", "in_stock", "backorders_allowed"):
                attributes[name] = _FLAGS.get(value, value)
            elif key == "tags":
                attributes[name] = _split(value)
            else:
                add_attribute(attributes, name, value)
        if row.get("sale_price") and row.get("regular_price"):
            attributes["regular_price"] = row["regular_price"]
        if len(categories) > 1:
            attributes["categories"] = categories
        for i, key in self.unit_keys.items():
            if i < len(cells) and cells[i].strip():
                attributes[key] = cells[i].strip()
        axes = _attribute_pairs(row, attributes)
        if attributes:
            data["attributes"] = attributes
        return data, axes


def _attribute_pairs(row: dict[str, str], attributes: dict[str, Any]) -> list[str]:
    keys: list[str] = []
    for key, name in row.items():
        match = _ATTRIBUTE_PAIR.match(key)
        if not match or match[2] != "name" or not name:
            continue
        values = _split(row.get(f"attribute_{match[1]}_value_s", ""))
        if values:
            attribute = attribute_key(name) or name
            attributes[attribute] = values[0] if len(values) == 1 else values
            keys.append(attribute)
    return keys


def _inherit(data: dict[str, Any], axes: list[str], parent: dict[str, Any]) -> dict[str, Any]:
    if not data.get("title") and parent.get("title"):
        # WooCommerce names a variation "Parent - Value, Value" when it has no name of its own.
        own = data.get("attributes", {})
        values = [str(own[key]) for key in axes if key in own]
        data["title"] = " - ".join(
            [parent["title"], ", ".join(values)] if values else [parent["title"]]
        )
    for name in _INHERITED:
        if not data.get(name) and parent.get(name):
            value = parent[name]
            data[name] = list(value) if isinstance(value, list) else value  # rows share no lists
    if parent.get("attributes"):
        data["attributes"] = {**parent["attributes"], **data.get("attributes", {})}
    return data
