"""Front-door protections as ASGI middleware: security headers on every answer (a strict
Content-Security-Policy for the pages, a closed one for JSON, a relaxed one only for the API
docs pages) and the per-API-key / per-address request limits of the JSON API (429 with
Retry-After). The counting itself lives in auth/limits.py."""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from listingflow.auth.limits import AbuseLimits, Refusal
from listingflow.auth.service import auth_service
from listingflow.auth.users import web_session_service
from listingflow.exceptions import Unauthorized
from listingflow.kit import jsonutil
from listingflow.web.security import SESSION_COOKIE

# The pages load only their own files: no inline script, no inline style, no other host.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# JSON, files and everything that is not a page: nothing may be loaded or run from it.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# /docs and /redoc are FastAPI's pages: Swagger UI and ReDoc from jsDelivr, ReDoc's fonts from
# Google, one inline script each (allowed by its hash, computed from the page as it is sent)
# and inline styles. Only these two paths get this policy; they show no user data.
DOCS_PATHS = ("/docs", "/redoc")
DOCS_CSP = (
    "default-src 'self'; script-src 'self' https://cdn.jsdelivr.net{hashes}; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)

COMMON_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
HSTS = "max-age=31536000; includeSubDomains"
# For the one answer no middleware sees: the 500 of an unhandled exception.
ERROR_SECURITY_HEADERS = {**COMMON_HEADERS, "content-security-policy": API_CSP}


def _is_https(scope: Scope) -> bool:
    return scope.get("scheme") == "https"


def _script_hashes(body: bytes) -> str:
    return "".join(
        " 'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(body)
    )


class SecurityHeadersMiddleware:
    """Adds the headers to every HTTP answer; a header the route set itself is kept."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"] in DOCS_PATHS
        held: Message | None = None
        chunks: list[bytes] = []

        def decorate(message: Message, csp: str | None) -> None:
            headers = MutableHeaders(raw=message["headers"])
            for name, value in COMMON_HEADERS.items():
                headers.setdefault(name, value)
            if _is_https(scope):
                headers.setdefault("strict-transport-security", HSTS)
            if csp is None:
                html = headers.get("content-type", "").startswith("text/html")
                csp = PAGE_CSP if html else API_CSP
            headers.setdefault("content-security-policy", csp)

        async def secured_send(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                if docs:  # the CSP names the page's inline scripts: wait for the body
                    held = message
                    return
                decorate(message, None)
                await send(message)
                return
            if held is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                start, held = held, None
                body = b"".join(chunks)
                decorate(start, DOCS_CSP.format(hashes=_script_hashes(body)))
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, secured_send)


class RateLimitMiddleware:
    """Counts every request under /api against its client address and its API key; over a
    limit the answer is 429 with Retry-After and a JSON error naming the limit. /health,
    /metrics, the pages and static files are not counted here (sign-in has its own limits)."""

    def __init__(self, app: ASGIApp, limits: AbuseLimits, prefix: str = "/api/") -> None:
        self.app = app
        self.limits = limits
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._closing_receive(receive), send)
            return
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        if LIMITS_CHECKED in scope:  # counted already, by the response cache in front
            refusal = scope[LIMITS_CHECKED]
        else:
            refusal = await count_request(self.limits, scope, presented_api_key(scope))
        if refusal is None:
            await self.app(scope, receive, send)
            return
        await _send_refusal(send, refusal)

    def _closing_receive(self, receive: Receive) -> Receive:
        """Closes the limits' Redis pool when the app shuts down (on the loop that made it)."""

        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await self.limits.close()
            return message

        return wrapped


# Scope key under which a middleware in front records that it counted the request against the
# limits, with the outcome (a Refusal, or None for allowed): it is never counted twice.
LIMITS_CHECKED = "listingflow.limits_checked"


async def count_request(limits: AbuseLimits, scope: Scope, api_key: str | None) -> Refusal | None:
    """Counts one API request against its address and the API key it presented."""
    client = scope.get("client")
    return await limits.check_request(api_key=api_key, client_ip=client[0] if client else None)


def presented_api_key(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or ():
        key = name.lower()
        if key == b"x-api-key" and value:
            return bytes(value).decode("latin-1")
        if key == b"authorization":
            scheme, _, credentials = bytes(value).decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
    return None


async def _send_refusal(send: Send, refusal: Refusal) -> None:
    body = jsonutil.dumps(
        {
            "detail": f"{refusal.message}; retry in {refusal.retry_after} s",
            "code": "rate_limited",
            "errors": [{"field": refusal.limit, "message": refusal.message}],
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(refusal.retry_after).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


DOCS_ACCESS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")


class DocsAccessMiddleware:
    """The API's description (/docs, /redoc, /openapi.json) for callers who could use the API:
    an API key or a signed-in session. Anyone else gets 401 (the schema) or the sign-in page
    (the docs pages). `LISTINGFLOW_API_DOCS=public` opens them; `off` removes them."""

    def __init__(self, app: ASGIApp, *, guarded: bool) -> None:
        self.app = app
        self.guarded = guarded  # off for `public`, and for `off` (the routes do not exist)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.guarded or scope["type"] != "http" or scope["path"] not in DOCS_ACCESS_PATHS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if await _may_read_docs(request):
            await self.app(scope, receive, send)
            return
        response: JSONResponse | RedirectResponse
        if scope["path"] == "/openapi.json":
            response = JSONResponse(
                {
                    "detail": "the API description is for API users: send X-API-Key or sign in",
                    "code": "unauthorized",
                    "errors": [],
                },
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        else:
            response = RedirectResponse(f"/login?next={scope['path']}", status_code=303)
        await response(scope, receive, send)


async def _may_read_docs(request: Request) -> bool:
    state = request.app.state
    if await web_session_service.get(state.cache, request.cookies.get(SESSION_COOKIE)):
        return True
    authorization = request.headers.get("authorization", "")
    key = request.headers.get("x-api-key") or (
        authorization[7:] if authorization.lower().startswith("bearer ") else ""
    )
    if not key:
        return False
    try:
        async with state.db.read_sessionmaker() as session:
            await auth_service.authenticate_api_key(session, key)
    except Unauthorized:
        return False
    return True
