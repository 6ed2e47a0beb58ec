"""API keys this process checked against the database recently, so that a repeated request with
the same key skips the database.

An entry holds the key's workspace and that workspace's cache generation at the time of the
check. Any committed write to the workspace (revoking a key commits through the unit of work)
moves the generation on, so the next request with the key goes to the database again; entries
also expire after KEY_CHECK_TTL seconds. Keys are held by SHA-256 digest, never in the clear.
Per process and bounded. Used by the API-key dependency (deps.py) and the response cache.
"""

from __future__ import annotations

import hashlib
import time

from listingflow.kit.cache import Cache, workspace_generation

KEY_CHECK_TTL = 60.0
MAX_KEYS = 10_000

_checked: dict[bytes, tuple[int, int, float]] = {}


def key_digest(presented: str) -> bytes:
    return hashlib.sha256(presented.encode()).digest()


async def recently_checked(cache: Cache, digest: bytes) -> tuple[int, int] | None:
    """(workspace id, its current generation) when the key was checked by this process within
    KEY_CHECK_TTL and nothing was written to the workspace since; None otherwise."""
    entry = _checked.get(digest)
    if entry is None or entry[2] < time.monotonic():
        return None
    workspace_id, generation, _ = entry
    current = await workspace_generation(cache, workspace_id)
    if current != generation:
        return None
    return workspace_id, current


async def remember_checked(cache: Cache, digest: bytes, workspace_id: int) -> None:
    if len(_checked) >= MAX_KEYS:
        _checked.clear()
    generation = await workspace_generation(cache, workspace_id)
    _checked[digest] = (workspace_id, generation, time.monotonic() + KEY_CHECK_TTL)
