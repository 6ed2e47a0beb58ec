"""The front door's response cache: a repeated read of a generation-cached route (dashboard
stats, a product list page) is answered from this process's memory, before routing, the API-key
dependency and the other middleware run.

An entry is the exact answer the full stack sent (status line, headers, body; gzipped or not),
stored per workspace, path, query string and whether the caller accepts gzip, under the
workspace's cache generation. A request is answered from an entry only when all of these hold:

- it is a GET on one of `paths`, carries an API key and no If-None-Match (a conditional request
  goes through the stack, which answers 304);
- the abuse limits let it through (it is counted here, once: the limits middleware behind does
  not count it again, and answers a refusal made here);
- this process checked the key against the database within KEY_CHECK_TTL and its workspace's
  generation has not moved since (auth/checked_keys.py; revoking a key is a write, so it does);
- the entry was stored under the workspace's generation as read from the shared cache for this
  request (a read never older than the request: kit/cache.py), at most `seconds` ago;
- the shared cache is reachable (while Redis is down no generation can be read or bumped, so
  nothing is stored or replayed).

Anything else goes through the stack, and a complete 200 JSON answer to a request whose key and
generation were known is stored. An answer from here gets its own X-Request-ID and is counted in
the request metrics under its route template, as the stack would count it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from listingflow.auth.checked_keys import key_digest, recently_checked
from listingflow.auth.limits import AbuseLimits
from listingflow.kit.cache import Cache
from listingflow.kit.metrics import cache_lookup
from listingflow.logging import request_id_for
from listingflow.middleware import observe_request, route_template
from listingflow.security import LIMITS_CHECKED, count_request, presented_api_key

EntryKey = tuple[int, str, bytes, bool]


@dataclass(frozen=True, slots=True)
class Entry:
    generation: int
    expires: float
    route: str
    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


class ResponseCacheMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        paths: frozenset[str],
        limits: AbuseLimits,
        seconds: float,
        max_entries: int = 512,
        max_body_bytes: int = 256 * 1024,
        max_total_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self.app = app
        self.paths = paths
        self.limits = limits
        self.seconds = seconds
        self.max_entries = max_entries
        self.max_body_bytes = max_body_bytes
        self.max_total_bytes = max_total_bytes
        self._entries: OrderedDict[EntryKey, Entry] = OrderedDict()
        self._total_bytes = 0

    @property
    def held(self) -> tuple[int, int]:
        """(entries, body bytes) this process holds."""
        return len(self._entries), self._total_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.seconds <= 0
            or scope["type"] != "http"
            or scope["method"] != "GET"
            or scope["path"] not in self.paths
        ):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request = _read_headers(scope)
        presented = presented_api_key(scope)
        if presented is None or request.conditional:
            await self.app(scope, receive, send)
            return
        refusal = await count_request(self.limits, scope, presented)
        scope[LIMITS_CHECKED] = refusal
        if refusal is not None:  # the limits middleware answers it, with every header
            await self.app(scope, receive, send)
            return
        cache: Cache | None = getattr(scope["app"].state, "cache", None)
        if cache is None:  # the lifespan has not run: nothing to check a generation with
            await self.app(scope, receive, send)
            return
        checked = await recently_checked(cache, key_digest(presented))
        # Unknown key: the stack checks it, and the next request may be answered here. Cache
        # down: a generation cannot be read (nor bumped by a write), so nothing is replayed.
        if checked is None or not cache.available:
            await self.app(scope, receive, send)
            return
        workspace_id, generation = checked
        key: EntryKey = (workspace_id, scope["path"], scope["query_string"], request.gzip)
        entry = self._entries.get(key)
        if entry is not None and entry.generation == generation and entry.expires > started:
            cache_lookup("process", "lf:response:", hit=True)
            await _replay(entry, request_id_for(request.incoming_id), send)
            observe_request("GET", entry.route, entry.status, started)
            return
        cache_lookup("process", "lf:response:", hit=False)
        await self._answer_and_store(scope, receive, send, cache, key, generation, started)

    async def _answer_and_store(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        cache: Cache,
        key: EntryKey,
        generation: int,
        started: float,
    ) -> None:
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0
        storable = True

        async def capturing_send(message: Message) -> None:
            nonlocal start, size, storable
            await send(message)
            if not storable:
                return
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or ())
                content_type = bytes(headers.get(b"content-type", b""))
                if message["status"] != 200 or not content_type.startswith(b"application/json"):
                    storable = False
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                return
            body = bytes(message.get("body", b""))
            size += len(body)
            if size > self.max_body_bytes:
                storable = False
                return
            chunks.append(body)
            if not message.get("more_body", False) and cache.available:
                self._store(key, generation, started, scope, start, b"".join(chunks))

        await self.app(scope, receive, capturing_send)

    def _store(
        self,
        key: EntryKey,
        generation: int,
        started: float,
        scope: Scope,
        start: Message,
        body: bytes,
    ) -> None:
        headers = tuple(
            (bytes(name), bytes(value))
            for name, value in start.get("headers") or ()
            if bytes(name).lower() != b"x-request-id"
        )
        replaced = self._entries.pop(key, None)
        if replaced is not None:
            self._total_bytes -= len(replaced.body)
        self._entries[key] = Entry(
            generation=generation,
            expires=started + self.seconds,
            route=route_template(scope),
            status=int(start["status"]),
            headers=headers,
            body=body,
        )
        self._total_bytes += len(body)
        # Least recently stored first, while over either bound: memory per process is capped.
        while len(self._entries) > self.max_entries or self._total_bytes > self.max_total_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._total_bytes -= len(evicted.body)


@dataclass(frozen=True, slots=True)
class _Request:
    gzip: bool
    conditional: bool
    incoming_id: bytes  # X-Request-ID as sent; a replay echoes it or makes one


def _read_headers(scope: Scope) -> _Request:
    accept_encoding = b""
    conditional = False
    incoming_id = b""
    for name, value in scope["headers"]:
        lowered = name.lower()
        if lowered == b"accept-encoding":
            accept_encoding = value
        elif lowered == b"if-none-match":
            conditional = True
        elif lowered == b"x-request-id":
            incoming_id = value
    # As Starlette's GZipMiddleware decides: "gzip" anywhere in Accept-Encoding.
    return _Request(b"gzip" in accept_encoding, conditional, incoming_id)


async def _replay(entry: Entry, request_id: str, send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": entry.status,
            "headers": [*entry.headers, (b"x-request-id", request_id.encode())],
        }
    )
    await send({"type": "http.response.body", "body": entry.body})
