"""JSON in one place: orjson with Decimal support, canonical form for content hashes."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import orjson


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def _canonical_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")  # exact, unlike float
    return _default(value)


def content_hash(value: Any) -> str:
    """sha256 of the canonical JSON (sorted keys, exact decimals) of value."""
    data = orjson.dumps(
        value, default=_canonical_default, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
    )
    return hashlib.sha256(data).hexdigest()
