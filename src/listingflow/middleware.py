"""ASGI middleware of the front door: the request body cap (413 with a clear message), HTTP
caching headers (ETag, Cache-Control, 304) and request metrics per route template."""

from __future__ import annotations

import hashlib
import time

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from listingflow.kit import jsonutil
from listingflow.kit.cache import generation_memo
from listingflow.kit.metrics import HTTP_ERRORS, HTTP_LATENCY, HTTP_REQUESTS


class BodyTooLarge(HTTPException):
    """An HTTPException so that FastAPI's body parsing re-raises it instead of answering 400."""

    def __init__(self, message: str) -> None:
        super().__init__(status_code=413, detail=message)


class BodySizeLimitMiddleware:
    """Refuses bodies over max_bytes, by Content-Length up front or by counting as they stream."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _message(self) -> str:
        megabytes = self.max_bytes / (1024 * 1024)
        return (
            f"request body is larger than the {megabytes:g} MB limit; split it into smaller "
            "batches or use POST /api/import/file"
        )

    async def _reject(self, send: Send) -> None:
        body = jsonutil.dumps(
            {"detail": self._message(), "code": "payload_too_large", "errors": []}
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._reject(send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self._message())
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._reject(send)


# --- HTTP caching ------------------------------------------------------------------------------


def _etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 13.1.2): `*`, or any listed tag equal once `W/` is dropped."""
    value = if_none_match.strip()
    if value == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in value.split(","))


class HttpCacheMiddleware:
    """GET answers with a complete JSON body (status 200) get a weak ETag (a hash of the body)
    and `Cache-Control: private, max-age=N`; a request whose `If-None-Match` names that tag gets
    304 with no body. Paths under `no_store` (health, metrics, jobs in progress) and every error
    get `Cache-Control: no-store` instead.

    Only `application/json` headers are held back until their first body chunk: a stream (SSE,
    a file download, JSON sent in chunks) goes through as it comes, never buffered. The tag is
    weak because gzip may be applied outside this middleware; the body it hashes is the
    uncompressed one, so it is the same with and without compression.
    """

    def __init__(self, app: ASGIApp, *, max_age: int = 0, no_store: tuple[str, ...] = ()) -> None:
        self.app = app
        self.cache_control = f"private, max-age={max_age}"
        self.no_store = no_store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        no_store = path.startswith(self.no_store)
        held: Message | None = None

        async def caching_send(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=message["headers"])
                status = message["status"]
                if no_store or status >= 400:
                    headers.setdefault("cache-control", "no-store")
                if (
                    status == 200
                    and not no_store
                    and headers.get("content-type", "").startswith("application/json")
                ):
                    held = message  # wait for the body: the tag is its hash
                    return
                await send(message)
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            start, held = held, None
            headers = MutableHeaders(raw=start["headers"])
            headers.setdefault("cache-control", self.cache_control)
            if message.get("more_body", False):  # a stream of JSON: not hashed, not buffered
                await send(start)
                await send(message)
                return
            body: bytes = message.get("body", b"")
            etag = 'W/"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
            headers["etag"] = etag
            if_none_match = _request_header(scope, b"if-none-match")
            if if_none_match is not None and _etag_matches(if_none_match, etag):
                kept = [
                    (name, value)
                    for name, value in start["headers"]
                    if name.lower() not in (b"content-length", b"content-type")
                ]
                await send({"type": "http.response.start", "status": 304, "headers": kept})
                await send({"type": "http.response.body", "body": b""})
                return
            await send(start)
            await send(message)

        await self.app(scope, receive, caching_send)


def _request_header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


# --- request metrics ---------------------------------------------------------------------------


def route_template(scope: Scope) -> str:
    """The matched route's template (`/api/products/{product_id}`), never the raw path: one
    time series per route, not one per product id."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "unmatched"


def observe_request(method: str, route: str, status: int, started: float) -> None:
    """One answered request in the metrics: count, time to first byte (from `started`, a
    perf_counter reading) and, for a 5xx, an error."""
    HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    if status >= 500:
        HTTP_ERRORS.labels(method, route).inc()


class MetricsMiddleware:
    """Counts requests and errors and times each one to its response's first byte, labelled by
    method and route template. A long stream (SSE) is timed to its headers, so it does not
    swamp the latency figures. It also opens the request's generation memo (kit/cache.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        recorded = False

        def record(status: int) -> None:
            nonlocal recorded
            recorded = True
            observe_request(scope["method"], route_template(scope), status, started)

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not recorded:
                record(int(message["status"]))
            await send(message)

        try:
            with generation_memo():  # one read of each workspace's generation per request
                await self.app(scope, receive, timed_send)
        except BaseException:
            if not recorded:  # the error handler outside us answers 500
                record(500)
            raise
