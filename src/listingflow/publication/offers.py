"""From a product and its listing to the Offer a marketplace client sends (pure mapping)."""

from __future__ import annotations

import re
from typing import Any

from listingflow.integrations.marketplaces.base import Offer
from listingflow.kit.crypto import sha256_hex
from listingflow.models import Listing, Product
from listingflow.rules.pricing import PriceQuote

SKU_MAX = 40  # Amazon's limit; eBay allows 50, Kaufland and Allegro more


def sku_for(product: Product) -> str:
    """A stable SKU: the product's own `sku` attribute, else source platform + source id.

    Stable across re-imports (same source id), so publishing again updates the same listing."""
    explicit = product.attributes.get("sku") if isinstance(product.attributes, dict) else None
    base = (
        str(explicit) if explicit else f"{product.source_platform[:3].upper()}-{product.source_id}"
    )
    clean = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-") or f"LF-{product.id}"
    if len(clean) > SKU_MAX:
        clean = f"{clean[: SKU_MAX - 9]}-{sha256_hex(base)[:8]}"
    return clean


def _attribute(attributes: dict[str, Any], *names: str) -> Any:
    lowered = {str(k).lower(): v for k, v in attributes.items()}
    for name in names:
        if lowered.get(name) not in (None, ""):
            return lowered[name]
    return None


def offer_for(product: Product, listing: Listing, price: PriceQuote) -> Offer:
    attributes = {**(product.attributes or {}), **(listing.attributes or {})}
    quantity = _attribute(attributes, "quantity", "stock", "qty")
    try:
        stock = max(0, int(quantity)) if quantity is not None else 1
    except (TypeError, ValueError):
        stock = 1
    ean = _attribute(attributes, "ean", "gtin", "gtin13", "barcode")
    return Offer(
        sku=sku_for(product),
        title=listing.title,
        description=listing.description,
        price=price.price,
        currency=price.currency,
        quantity=stock,
        bullets=tuple(listing.bullets or ()),
        keywords=tuple(listing.keywords or ()),
        images=tuple(listing.images or product.images or ()),
        brand=product.brand,
        category=product.category,
        ean=str(ean) if ean is not None else None,
        condition=str(_attribute(attributes, "condition") or "new"),
        language=listing.language,
        attributes=attributes,
        remote_id=listing.remote_id,
    )
