"""Opaque keyset cursors: the last row's sort key, signed so clients cannot forge positions."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any

import orjson


class CursorError(ValueError):
    """The cursor is malformed, tampered with, or from another query."""


def encode_cursor(secret: bytes, created_at: datetime, row_id: int, scope: str = "") -> str:
    payload = orjson.dumps([created_at.isoformat(), row_id, scope])
    mac = hmac.new(secret, payload, hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(payload + mac).decode().rstrip("=")


def decode_cursor(secret: bytes, cursor: str, scope: str = "") -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload, mac = raw[:-12], raw[-12:]
        if not hmac.compare_digest(mac, hmac.new(secret, payload, hashlib.sha256).digest()[:12]):
            raise CursorError("cursor is invalid")
        parts: list[Any] = orjson.loads(payload)
        created, row_id, cursor_scope = parts
        if cursor_scope != scope:
            raise CursorError("cursor belongs to a different filter; start again from page 1")
        return datetime.fromisoformat(created), int(row_id)
    except CursorError:
        raise
    except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
        raise CursorError("cursor is invalid") from exc
