"""A fast path for the common, well-formed product: plain checks instead of a pydantic model.

Imports validate tens of thousands of products a second, and a pydantic model with its Python
hooks costs about 17 us a product. `normalize` does the same checks for the ordinary shapes
(strings, ints, floats, lists of strings, a dict of attributes) and gives up, returning None,
on anything unusual or invalid; the caller then runs `ProductIn`, which owns every rule and
writes every error message. A property test holds the two to the same answers: whenever
`normalize` returns a value it equals `ProductIn.model_validate(data).model_dump()`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from listingflow.importing.schemas import (
    _CURRENCIES,
    _PLATFORM,
    _URL,
    MAX_IMAGES,
    MAX_PRICE,
    _price,
    split_images,
)
from listingflow.integrations.sources.base import PRODUCT_FIELDS

_ASCII_SPACE = " \t\n\r\x0b\x0c"
_TEXT_LIMITS = {"description": 100_000, "category": 500, "brand": 255}
_KNOWN = frozenset(PRODUCT_FIELDS)


class _GiveUp(Exception):
    pass


def _strip(value: str) -> str:
    # pydantic trims Unicode whitespace in Rust; leave any non-ASCII edge to it.
    text = value.strip(_ASCII_SPACE)
    if text and (text[0].isspace() or text[-1].isspace()):
        raise _GiveUp
    return text


def _optional_text(data: dict[str, Any], key: str, limit: int) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if type(value) is not str:
        raise _GiveUp
    text = _strip(value)
    if len(text) > limit:
        raise _GiveUp
    return text or None


def _url(value: str) -> str:
    if not _URL.match(value) or len(value) > 2048:
        raise _GiveUp
    return value


def normalize(data: Any) -> dict[str, Any] | None:
    """The model_dump() of a valid ProductIn for data, or None to let ProductIn decide."""
    try:
        return _normalize(data)
    except _GiveUp:
        return None


def _normalize(data: Any) -> dict[str, Any]:
    if type(data) is not dict:
        raise _GiveUp
    for key in data:
        if key not in _KNOWN and type(key) is not str:
            raise _GiveUp

    platform = data.get("source_platform")
    if platform is None:
        platform = "allegro"
    elif type(platform) is str:
        platform = _strip(platform).lower() or "allegro"
        if not _PLATFORM.match(platform):
            raise _GiveUp
    else:
        raise _GiveUp

    source_id = data.get("source_id")
    if type(source_id) is int:
        source_id = str(source_id)
    elif type(source_id) is str:
        source_id = _strip(source_id)
    else:
        raise _GiveUp
    if not 1 <= len(source_id) <= 255:
        raise _GiveUp

    title = data.get("title")
    if type(title) is not str:
        raise _GiveUp
    title = _strip(title)
    if not 1 <= len(title) <= 1000:
        raise _GiveUp

    source_url = _optional_text(data, "source_url", 2048)
    if source_url is not None:
        _url(source_url)

    raw_price = data.get("price")
    if type(raw_price) not in (str, int, float):
        raise _GiveUp
    price = _price(raw_price)
    if type(price) is int:
        price = Decimal(price)
    if type(price) is not Decimal or not price.is_finite() or not 0 < price < MAX_PRICE:
        raise _GiveUp
    exponent = price.normalize().as_tuple().exponent
    if not isinstance(exponent, int) or exponent < -4:
        raise _GiveUp

    currency = data.get("currency")
    if currency is None:
        currency = "PLN"
    elif type(currency) is str:
        currency = _strip(currency).upper() or "PLN"
    else:
        raise _GiveUp
    if currency not in _CURRENCIES:
        raise _GiveUp

    images = data.get("images")
    if images is None:
        images = []
    elif type(images) is str:
        images = split_images(images)
    elif type(images) is not list:
        raise _GiveUp
    if len(images) > MAX_IMAGES:
        raise _GiveUp
    cleaned: dict[str, None] = {}
    for image in images:
        if type(image) is not str:
            raise _GiveUp
        cleaned[_url(_strip(image))] = None

    attributes = data.get("attributes")
    if attributes is None:
        attributes = {}
    elif type(attributes) is not dict:
        raise _GiveUp
    else:
        for key in attributes:
            # pydantic trims keys too; a key that would change is left to it.
            if type(key) is not str or (key and (key[0].isspace() or key[-1].isspace())):
                raise _GiveUp
        attributes = dict(attributes)

    return {
        "source_platform": platform,
        "source_id": source_id,
        "source_url": source_url,
        "title": title,
        "description": _optional_text(data, "description", _TEXT_LIMITS["description"]),
        "category": _optional_text(data, "category", _TEXT_LIMITS["category"]),
        "brand": _optional_text(data, "brand", _TEXT_LIMITS["brand"]),
        "price": price,
        "currency": currency,
        "images": list(cleaned),
        "attributes": attributes,
    }
