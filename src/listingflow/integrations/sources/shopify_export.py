"""Shopify product CSV exports: rows of one Handle (variants, extra images) become one product."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from listingflow.integrations.sources.base import RowError, SourceRow
from listingflow.integrations.sources.mapping import (
    Target,
    add_attribute,
    attribute_key,
    normalize_header,
)

PLATFORM = "shopify"

# Shopify's 2024 export renamed several columns; both spellings map to one key.
_ALIASES = {
    "url_handle": "handle",
    "description": "body_html",
    "product_image_url": "image_src",
    "variant_image_url": "variant_image",
    "sku": "variant_sku",
    "barcode": "variant_barcode",
    "price": "variant_price",
    "compare_at_price": "variant_compare_at_price",
    "weight_value_grams": "variant_grams",
    "inventory_quantity": "variant_inventory_qty",
    "published_on_online_store": "published",
}
_OPTION = re.compile(r"^option([1-3])_(name|value)$")
_MARKET_PRICE = re.compile(r"^price_(.+)$")

# Product-level columns copied into attributes from the product's first row that has them.
_PRODUCT_ATTRIBUTES = {
    "type": "product_type",
    "published": "published",
    "status": "status",
    "gift_card": "gift_card",
    "seo_title": "seo_title",
    "seo_description": "seo_description",
    "google_shopping_google_product_category": "google_product_category",
    "google_shopping_gender": "gender",
    "google_shopping_age_group": "age_group",
    "google_shopping_mpn": "mpn",
    "google_shopping_condition": "condition",
    "google_shopping_custom_product": "custom_product",
}
# Per-variant columns kept in attributes["variants"] (and the first variant's at top level).
_VARIANT_FIELDS = {
    "variant_sku": "sku",
    "variant_price": "price",
    "variant_compare_at_price": "compare_at_price",
    "variant_barcode": "barcode",
    "variant_grams": "weight_g",
    "variant_inventory_qty": "inventory_qty",
    "variant_image": "image",
    "cost_per_item": "cost_per_item",
}
_BOOLEAN = {"true": True, "false": False}


def column_key(name: str) -> str:
    norm = normalize_header(name)
    return _ALIASES.get(norm, norm)


def targets(header: Sequence[str]) -> list[Target]:
    """What each column becomes, for the mapping preview."""
    fields = {
        "handle": "source_id",
        "title": "title",
        "body_html": "description",
        "vendor": "brand",
        "product_category": "category",
        "variant_price": "price",
        "image_src": "images",
        "tags": "attributes.tags",
    }
    result: list[Target] = []
    for name in header:
        key = column_key(name)
        if key in fields:
            result.append(fields[key])
        elif key in _PRODUCT_ATTRIBUTES:
            result.append(f"attributes.{_PRODUCT_ATTRIBUTES[key]}")
        elif key in _VARIANT_FIELDS or _OPTION.match(key):
            result.append("attributes.variants")
        elif _MARKET_PRICE.match(key):
            result.append("attributes.market_prices")
        else:
            result.append(None)
    return result


@dataclass(slots=True)
class _Product:
    index: int
    handle: str
    fields: dict[str, str] = field(default_factory=dict)
    option_names: dict[int, str] = field(default_factory=dict)
    images: dict[str, None] = field(default_factory=dict)
    variants: list[dict[str, Any]] = field(default_factory=list)
    market_prices: dict[str, str] = field(default_factory=dict)


class ShopifyAssembler:
    """Merges consecutive rows of one Handle; holds only the product being read."""

    platform = PLATFORM

    def __init__(self, header: Sequence[str]) -> None:
        self.keys = [column_key(name) for name in header]
        self.market_names = {
            i: name.partition("/")[2].strip() or name
            for i, (name, key) in enumerate(zip(header, self.keys, strict=True))
            if _MARKET_PRICE.match(key)
        }
        self.current: _Product | None = None

    def feed(self, index: int, cells: Sequence[str]) -> Iterator[SourceRow]:
        row = {key: cell.strip() for key, cell in zip(self.keys, cells, strict=False) if key}
        handle = row.get("handle", "")
        if not handle:
            error = RowError(index=index, field="Handle", message="row has no Handle")
            yield SourceRow(index=index, error=error)
            return
        if self.current is None or self.current.handle != handle:
            yield from self.finish()
            self.current = _Product(index=index, handle=handle)
        self._merge(self.current, row, cells)

    def finish(self) -> Iterator[SourceRow]:
        if self.current is not None:
            product, self.current = self.current, None
            yield SourceRow(index=product.index, data=_to_data(product))

    def _merge(self, product: _Product, row: dict[str, str], cells: Sequence[str]) -> None:
        for key, value in row.items():
            if value and key not in product.fields:
                product.fields[key] = value
        for key, value in row.items():
            match = _OPTION.match(key)
            if match and match[2] == "name" and value:
                product.option_names.setdefault(int(match[1]), value)
        if row.get("image_src"):
            product.images[row["image_src"]] = None
        for i, market in self.market_names.items():
            value = cells[i].strip() if i < len(cells) else ""
            if value:
                product.market_prices.setdefault(market, value)
        if any(row.get(key) for key in ("variant_sku", "variant_price", "option1_value")):
            product.variants.append(_variant(product, row))


def _variant(product: _Product, row: dict[str, str]) -> dict[str, Any]:
    variant: dict[str, Any] = {}
    for key, name in _VARIANT_FIELDS.items():
        if row.get(key):
            add_attribute(variant, name, row[key])
    options = {
        product.option_names.get(n, f"option{n}"): row[f"option{n}_value"]
        for n in (1, 2, 3)
        if row.get(f"option{n}_value")
    }
    # "Title: Default Title" is how Shopify spells "this product has no options".
    options = {
        attribute_key(k) or k: v for k, v in options.items() if (k, v) != ("Title", "Default Title")
    }
    if options:
        variant["options"] = options
    return variant


def _to_data(product: _Product) -> dict[str, Any]:
    fields = product.fields
    data: dict[str, Any] = {"source_id": product.handle}
    for key, name in (("title", "title"), ("body_html", "description"), ("vendor", "brand")):
        if fields.get(key):
            data[name] = fields[key]
    category = fields.get("product_category") or fields.get("type")
    if category:
        data["category"] = category
    if product.images:
        data["images"] = list(product.images)
    first = product.variants[0] if product.variants else {}
    price = next((v["price"] for v in product.variants if v.get("price")), None)
    if price is not None:
        data["price"] = price

    attributes: dict[str, Any] = {}
    for key, name in _PRODUCT_ATTRIBUTES.items():
        value = fields.get(key)
        if value:
            add_attribute(attributes, name, _BOOLEAN.get(value.lower(), value))
    if fields.get("tags"):
        attributes["tags"] = [tag.strip() for tag in fields["tags"].split(",") if tag.strip()]
    for name in ("sku", "barcode", "barcode_unreliable", "compare_at_price", "weight_g"):
        if name in first:
            attributes[name] = first[name]
    options: dict[str, list[str]] = {}
    for variant in product.variants:
        for name, value in variant.get("options", {}).items():
            values = options.setdefault(name, [])
            if value not in values:
                values.append(value)
    if options:
        attributes["options"] = options
    if len(product.variants) > 1:
        attributes["variants"] = product.variants
    if product.market_prices:
        attributes["market_prices"] = product.market_prices
    if attributes:
        data["attributes"] = attributes
    return data
