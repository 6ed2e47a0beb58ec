"""What every fake marketplace server shares: a per-second rate limit answered with 429 and
Retry-After, one-off planned failures, latency, and a record of every API call.

`faults.plan("429", "500")` makes the next two matching API requests fail that way (then they
succeed); "500_after" lets the request do its work and then answers 500 (a lost response: the
client must not create a duplicate when it tries again). `match="POST /sale/product-offers"`
limits a plan to one method and path prefix.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STEPS = ("429", "500", "503", "500_after")


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
