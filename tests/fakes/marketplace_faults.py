"""What the fake marketplace servers share.

- `AccessTokens`: the OAuth access tokens a fake issued, each with its expiry (Amazon, eBay,
  Allegro), and `expire()` for the tests' "tokens ran out" control.
- `Faults` (Allegro, Kaufland): a per-second rate limit answered with 429 and Retry-After,
  one-off planned failures, latency, and a record of every API call, as ASGI middleware.
  `faults.plan("429", "500")` makes the next two matching API requests fail that way (then they
  succeed); "500_after" lets the request do its work and then answers 500 (a lost response: the
  client must not create a duplicate when it tries again). `match="POST /sale/product-offers"`
  limits a plan to one method and path prefix.
- `RecordingServer` (Amazon, eBay): every request recorded (`requests`, `calls` per
  operation), failures planned for the next API calls (`plan("429", "expired_token")`), a token
  bucket answering 429, and the refresh-token grant with `expire_tokens()` and
  `revoke_refresh_token()`. Each fake answers in its own marketplace's words.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.fakes.server import LocalServer

STEPS = ("429", "500", "503", "500_after")
FAILURES = ("429", "500", "503", "expired_token")  # what RecordingServer.plan() takes


class AccessTokens(dict[str, float]):
    """Access tokens a fake issued: token -> expiry (time.monotonic()); 0.0 once expired."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def issue(self, prefix: str, ttl: float, *, size: int = 24) -> str:
        token = prefix + secrets.token_urlsafe(size)
        with self._lock:
            self[token] = time.monotonic() + ttl
        return token

    def expiry(self, token: str) -> float | None:
        with self._lock:
            return self.get(token)

    def live(self, token: str) -> bool:
        expiry = self.expiry(token)
        return expiry is not None and expiry > time.monotonic()

    def expire(self) -> None:
        with self._lock:
            for token in self:
                self[token] = 0.0


@dataclass
class Call:
    at: float  # time.monotonic() on arrival
    method: str
    path: str  # the route template, e.g. "/sale/product-offers/{offer_id}"
    status: int = 0
    fault: str | None = None


class Faults:
    def __init__(
        self,
        *,
        rate_limit: float | None = None,
        retry_after: float = 1.0,
        latency: float = 0.0,
        error_body: Callable[[int, str], dict[str, Any]] | None = None,
    ) -> None:
        self.rate_limit = rate_limit  # requests per second (sliding one-second window)
        self.retry_after = retry_after
        self.latency = latency
        self.calls: list[Call] = []
        self.counts: Counter[str] = Counter()  # "METHOD /route" -> calls answered
        self._error_body = error_body or (lambda status, text: {"message": text})
        self._lock = threading.Lock()
        self._steps: deque[tuple[str, str | None]] = deque()
        self._window: deque[float] = deque()

    def plan(self, *steps: str, match: str | None = None) -> None:
        for step in steps:
            if step not in STEPS:
                raise ValueError(f"unknown step {step!r}; one of {STEPS}")
        with self._lock:
            self._steps.extend((step, match) for step in steps)

    def reset(self) -> None:
        with self._lock:
            self._steps.clear()
            self._window.clear()
            self.calls.clear()
            self.counts.clear()

    @property
    def throttled(self) -> int:
        return sum(1 for c in self.calls if c.status == 429)

    def _take_step(self, method: str, path: str) -> str | None:
        with self._lock:
            for index, (step, match) in enumerate(self._steps):
                if match is None or f"{method} {path}".startswith(match):
                    del self._steps[index]
                    return step
        return None

    def _over_limit(self, now: float) -> bool:
        if not self.rate_limit:
            return False
        with self._lock:
            while self._window and self._window[0] <= now - 1.0:
                self._window.popleft()
            if len(self._window) >= self.rate_limit:
                return True
            self._window.append(now)
            return False

    def install(self, app: FastAPI, *, applies: Callable[[str], bool]) -> None:
        """Wrap `app` (plain ASGI, cheap per request) for the paths `applies` says are API calls."""
        app.add_middleware(_FaultMiddleware, faults=self, applies=applies)

    async def handle(self, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
        method, path = scope["method"], scope["path"]
        call = Call(time.monotonic(), method, path)
        with self._lock:
            self.calls.append(call)
        if self.latency:
            await asyncio.sleep(self.latency)
        status = 0

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        async def swallow(message: Message) -> None:
            pass

        if self._over_limit(call.at):
            call.fault = "rate_limit"
            await self._error(429, "Too many requests")(scope, receive, record)
        else:
            step = self._take_step(method, path)
            call.fault = step
            if step == "429":
                await self._error(429, "Too many requests")(scope, receive, record)
            elif step in ("500", "503"):
                await self._error(int(step or 500), "Internal server error")(scope, receive, record)
            elif step == "500_after":
                await app(scope, receive, swallow)
                await self._error(500, "Internal server error")(scope, receive, record)
            else:
                await app(scope, receive, record)
        route = scope.get("route")
        call.path = getattr(route, "path", path)
        call.status = status
        with self._lock:
            self.counts[f"{method} {call.path}"] += 1

    def _error(self, status: int, text: str) -> JSONResponse:
        headers = {"Retry-After": _seconds(self.retry_after)} if status == 429 else {}
        return JSONResponse(self._error_body(status, text), status_code=status, headers=headers)


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class _FaultMiddleware:
    def __init__(self, app: ASGIApp, *, faults: Faults, applies: Callable[[str], bool]) -> None:
        self.app = app
        self.faults = faults
        self.applies = applies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.applies(scope["path"]):
            await self.app(scope, receive, send)
            return
        await self.faults.handle(scope, receive, send, self.app)


# ------------------------------------------------------------------ Amazon and eBay fakes


@dataclass
class Recorded:
    at: float
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int = 0
    operation: str = ""


class _Bucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.capacity = float(burst)
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def oauth_error(status: int, error: str, description: str) -> JSONResponse:
    """An OAuth token endpoint's refusal (RFC 6749 section 5.2)."""
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


class RecordingServer(LocalServer):
    """A fake that records every request and plans failures for the API calls its `guard`
    checks (`_count`, `_next_failure`, `_throttle`), with refresh tokens and access tokens.

    Subclasses build their app with `_install_recorder(app)` first and answer in their own
    marketplace's words; `rate_limit`, `burst` and `retry_after` may change while running.
    """

    token_path: str  # the OAuth token endpoint's path

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        token_ttl: float,
        rate_limit: float | None,
        burst: int,
        retry_after: float | None,
        latency: float,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.refresh_tokens = {refresh_token}
        self.token_ttl = token_ttl
        self.rate_limit = rate_limit
        self.burst = burst
        self.retry_after = retry_after
        self.latency = latency
        self.access_tokens = AccessTokens()
        self.calls: Counter[str] = Counter()  # operation -> requests
        self.requests: list[Recorded] = []
        self.throttled = 0
        self._plan: deque[str] = deque()
        self._bucket: _Bucket | None = None
        self._lock = threading.Lock()
        super().__init__()

    # ------------------------------------------------------------------------------ control

    @property
    def token_url(self) -> str:
        return f"{self.url}{self.token_path}"

    def plan(self, *failures: str) -> None:
        """The next API calls fail once each: "429", "500", "503", "expired_token"."""
        for failure in failures:
            if failure not in FAILURES:
                raise ValueError(f"unknown failure {failure!r}; one of {FAILURES}")
        with self._lock:
            self._plan.extend(failures)

    def expire_tokens(self) -> None:
        self.access_tokens.expire()

    def revoke_refresh_token(self) -> None:
        with self._lock:
            self.refresh_tokens.clear()

    def statuses(self, operation: str) -> list[int]:
        return [r.status for r in self.requests if r.operation == operation]

    # ----------------------------------------------------------------------------- protocol

    def _count(self, request: Request, operation: str) -> None:
        request.state.entry.operation = operation
        self.calls[operation] += 1

    def _next_failure(self) -> str | None:
        with self._lock:
            return self._plan.popleft() if self._plan else None

    def _throttle(self) -> bool:
        """True when the call is over `rate_limit` (a token bucket of `burst`)."""
        if self.rate_limit is None:
            return False
        with self._lock:
            if self._bucket is None or self._bucket.rate != self.rate_limit:
                self._bucket = _Bucket(self.rate_limit, self.burst)
            ok = self._bucket.take()
            if not ok:
                self.throttled += 1
            return not ok

    def _with_retry_after(self, response: Response) -> Response:
        if self.retry_after is not None:
            response.headers["Retry-After"] = f"{self.retry_after:g}"
        return response

    def _refresh_form(
        self, request: Request, *, form_error: str, grant_error: str
    ) -> tuple[dict[str, str], Response | None]:
        """A token request's form, or the refusal of a body that is not a refresh_token grant."""
        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return {}, oauth_error(400, "invalid_request", form_error)
        form = {k: v[0] for k, v in parse_qs(request.state.raw.decode()).items()}
        if form.get("grant_type") != "refresh_token":
            return form, oauth_error(400, "unsupported_grant_type", grant_error)
        return form, None

    def _known_refresh_token(self, form: dict[str, str]) -> bool:
        with self._lock:
            return form.get("refresh_token") in self.refresh_tokens

    def _install_recorder(self, app: FastAPI) -> None:
        """Record every request (its raw body in `request.state.raw`) and apply `latency`."""

        @app.middleware("http")
        async def record(request: Request, call_next: Any) -> Any:
            raw = await request.body()
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw
            entry = Recorded(
                at=time.time(),
                method=request.method,
                path=request.url.path,
                query=parse_qs(request.url.query),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
            )
            request.state.entry = entry
            request.state.raw = raw
            with self._lock:
                self.requests.append(entry)
            if self.latency:
                await asyncio.sleep(self.latency)
            response = await call_next(request)
            entry.status = response.status_code
            return response
