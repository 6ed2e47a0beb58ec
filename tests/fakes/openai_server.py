"""A local OpenAI-compatible Chat Completions server (Groq flavour) for tests and benchmarks.

Speaks the protocol of shared/reference/marketplace-apis.md section 6 on 127.0.0.1: Bearer auth
(401 invalid_api_key), OpenAI-shaped replies and errors, `x-ratelimit-*` headers on every
response, `retry-after` only on 429, 404 unknown_url for a doubled base path, 400
json_validate_failed with failed_generation. The same routes answer under `/`, `/v1` and
`/openai/v1`.

Behaviours are planned per test: `server.plan("rate_limited", "server_error")` makes the next two
chat requests fail that way, then `then` (default "good") answers. A good answer is built from
the source data in the request (the engine's user message is JSON) and respects its limits.
With `rpm_limit` the server enforces its own sliding one-minute window (429 + retry-after) and
its request headers describe that window, as OpenAI's do; otherwise they describe the day, as
Groq's do. Every request is recorded (arrival time, path, headers, body, status).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.fakes.server import LocalServer

BEHAVIOURS = (
    "good",  # a listing built from the source data within the limits
    "broken_json",  # 200 with text that is not JSON
    "truncated",  # 200, finish_reason "length", the JSON cut off
    "exceed_limits",  # title too long, banned terms, too many bullets and keywords
    "invent",  # a good answer plus a spec the source does not have ("5000 mAh")
    "rate_limited",  # 429 rate_limit_exceeded with retry-after
    "server_error",  # 500
    "timeout",  # answers well, but only after `hang_seconds`
    "json_validate_failed",  # Groq's 400 with failed_generation
)

CHAT_PATHS = ("/chat/completions", "/v1/chat/completions", "/openai/v1/chat/completions")
MODEL_PATHS = ("/models", "/v1/models", "/openai/v1/models")


@dataclass
class RecordedRequest:
    at: float  # time.time() on arrival
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0
    behaviour: str | None = None


def format_duration(seconds: float) -> str:
    """Groq's style: 12ms, 7.66s, 2m59.56s, 1h2m3.5s."""
    seconds = max(seconds, 0.0)
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs:.2f}".rstrip("0").rstrip(".") + "s"
    if minutes or hours:
        text = f"{int(minutes)}m{text}"
    if hours:
        text = f"{int(hours)}h{text}"
    return text


def _error(status: int, message: str, type_: str, code: str | None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"error": {"message": message, "type": type_, "code": code, **extra}}
    return JSONResponse(body, status_code=status)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = text[: limit + 1]
    space = head.rfind(" ")
    return (text[:space] if space > 0 else text[:limit]).rstrip(" ,;:-")


def _without(text: str, terms: list[str]) -> str:
    for term in terms:
        text = re.sub(rf"(?<!\w){re.escape(term)}(?!\w)", " ", text, flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", text).strip()


def good_listing(payload: dict[str, Any]) -> dict[str, Any]:
    """A deterministic listing from the request's source data that respects its limits."""
    product = payload.get("product", {})
    limits = payload.get("limits", {})
    banned = [str(t) for t in limits.get("banned_terms") or []]
    brand = str(product.get("brand") or "")
    title = str(product.get("title") or "Product")
    if brand and not title.lower().startswith(brand.lower()):
        title = f"{brand} {title}"
    description = str(product.get("description") or product.get("title") or "")
    if limits.get("description_max"):
        description = _cut(description, int(limits["description_max"]))
    bullets = []
    for key, value in (product.get("attributes") or {}).items():
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        bullets.append(
            _cut(
                _without(f"{key.replace('_', ' ').capitalize()}: {shown}", banned),
                int(limits.get("bullet_max_chars", 500)),
            )
        )
    bullets = bullets[: int(limits.get("bullets_max", 5))]
    words = re.findall(r"[^\W\d_]{3,}", f"{product.get('title', '')} {product.get('category', '')}")
    keywords: list[str] = []
    size = 0
    budget = int(limits.get("search_terms_max_bytes", 249))
    banned_lower = {t.lower() for t in banned}
    for word in words:
        word = word.lower()
        if word in keywords or word == brand.lower() or word in banned_lower:
            continue
        cost = len(word.encode()) + (1 if keywords else 0)
        if size + cost > budget:
            break
        keywords.append(word)
        size += cost
    return {
        "title": _cut(_without(title, banned), int(limits.get("title_max", 80))),
        "description": _without(description, banned),
        "bullets": bullets,
        "keywords": keywords,
    }


class FakeLLMServer(LocalServer):
    """Run with `with FakeLLMServer() as server:`; point a client at `server.base_url`."""

    def __init__(
        self,
        *,
        api_key: str = "gsk_test_key_0123456789",
        models: tuple[str, ...] = ("llama-3.3-70b-versatile", "llama-3.1-8b-instant"),
        rpm_limit: int | None = None,
        rpm_window: float = 60.0,
        rpd_limit: int = 1_000,
        tpm_limit: int = 12_000,
        retry_after: float = 1.0,
        hang_seconds: float = 5.0,
        invented_fact: str = "5000 mAh",
    ) -> None:
        self.api_key = api_key
        self.models = models
        self.rpm_limit = rpm_limit
        self.rpm_window = rpm_window
        self.rpd_limit = rpd_limit
        self.tpm_limit = tpm_limit
        self.retry_after = retry_after
        self.hang_seconds = hang_seconds
        self.invented_fact = invented_fact
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._steps: deque[str] = deque()
        self._then = "good"
        self._served: deque[float] = deque()  # arrivals counted against the RPM window
        self._tokens: deque[tuple[float, int]] = deque()
        self._served_total = 0
        super().__init__()
        self.app = self._build_app()

    # -------------------------------------------------------------------------------- control

    @property
    def base_url(self) -> str:
        """Groq's base path; the SDK appends /chat/completions."""
        return f"{self.url}/openai/v1"

    def plan(self, *steps: str, then: str = "good") -> None:
        """The next chat requests get `steps` in order, every later one `then`."""
        for step in (*steps, then):
            if step not in BEHAVIOURS:
                raise ValueError(f"unknown behaviour {step!r}; one of {BEHAVIOURS}")
        with self._lock:
            self._steps = deque(steps)
            self._then = then

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._steps.clear()
            self._then = "good"
            self._served.clear()
            self._tokens.clear()
            self._served_total = 0

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def statuses(self) -> list[int]:
        return [r.status for r in self.chat_requests]

    # ------------------------------------------------------------------------------- protocol

    def _next_behaviour(self) -> str:
        with self._lock:
            return self._steps.popleft() if self._steps else self._then

    def _prune(self, now: float) -> None:
        while self._served and self._served[0] <= now - self.rpm_window:
            self._served.popleft()
        while self._tokens and self._tokens[0][0] <= now - 60:
            self._tokens.popleft()

    def _ratelimit_headers(self, now: float) -> dict[str, str]:
        with self._lock:
            self._prune(now)
            if self.rpm_limit is not None:  # OpenAI style: the request headers are the minute
                limit = self.rpm_limit
                remaining = max(limit - len(self._served), 0)
                reset = self._served[0] + self.rpm_window - now if self._served else 0.0
            else:  # Groq style: the day, refilling like a bucket
                limit = self.rpd_limit
                remaining = max(limit - self._served_total, 0)
                reset = self._served_total * 86_400 / self.rpd_limit
            used_tokens = sum(t for _, t in self._tokens)
        return {
            "x-ratelimit-limit-requests": str(limit),
            "x-ratelimit-remaining-requests": str(remaining),
            "x-ratelimit-reset-requests": format_duration(reset),
            "x-ratelimit-limit-tokens": str(self.tpm_limit),
            "x-ratelimit-remaining-tokens": str(max(self.tpm_limit - used_tokens, 0)),
            "x-ratelimit-reset-tokens": format_duration(used_tokens * 60 / self.tpm_limit),
        }

    def _over_rpm(self, now: float) -> float | None:
        """Seconds until the window has room, or None if the request may be served."""
        if self.rpm_limit is None:
            return None
        with self._lock:
            self._prune(now)
            if len(self._served) >= self.rpm_limit:
                return self._served[0] + self.rpm_window - now
            self._served.append(now)
            return None

    def _count(self, now: float, tokens: int) -> None:
        with self._lock:
            if self.rpm_limit is None:
                self._served.append(now)
            self._served_total += 1
            self._tokens.append((now, tokens))

    def _build_app(self) -> FastAPI:
        app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

        @app.middleware("http")
        async def record(request: Request, call_next: Any) -> Any:
            raw = await request.body()
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            entry = RecordedRequest(
                at=time.time(),
                method=request.method,
                path=request.url.path,
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
            )
            with self._lock:
                self.requests.append(entry)
            request.state.entry = entry
            response = await call_next(request)
            entry.status = response.status_code
            return response

        @app.get("/{prefix:path}models")
        async def models(request: Request, prefix: str) -> JSONResponse:
            if request.url.path not in MODEL_PATHS:
                return self._unknown_url(request)
            if not self._authorized(request):
                return self._unauthorized()
            data = [{"id": m, "object": "model", "owned_by": "fake"} for m in self.models]
            return JSONResponse({"object": "list", "data": data})

        @app.post("/{prefix:path}chat/completions")
        async def chat(request: Request, prefix: str) -> JSONResponse:
            if request.url.path not in CHAT_PATHS:
                return self._unknown_url(request)
            return await self._chat(request)

        @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        async def unknown(request: Request, path: str) -> JSONResponse:
            return self._unknown_url(request)

        return app

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.api_key}"

    @staticmethod
    def _unauthorized() -> JSONResponse:
        return _error(401, "Invalid API Key", "invalid_request_error", "invalid_api_key")

    @staticmethod
    def _unknown_url(request: Request) -> JSONResponse:
        return _error(
            404,
            f"Unknown request URL: {request.method} {request.url.path}. Please check the URL "
            "for typos, or see the docs at https://console.groq.com/docs/",
            "invalid_request_error",
            "unknown_url",
        )

    async def _chat(self, request: Request) -> JSONResponse:
        entry: RecordedRequest = request.state.entry
        if not self._authorized(request):
            return self._unauthorized()
        body = entry.body
        if not isinstance(body, dict):
            return _error(400, "The request body is not valid JSON.", "invalid_request_error", None)
        model = body.get("model")
        if model not in self.models:
            return _error(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                "invalid_request_error",
                "model_not_found",
            )
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return _error(400, "'messages' is required", "invalid_request_error", None)
        for name in ("logprobs", "logit_bias", "top_logprobs"):
            if body.get(name):
                return _error(400, f"'{name}' is not supported", "invalid_request_error", None)
        if body.get("n", 1) != 1:
            return _error(400, "'n' : number must be at most 1", "invalid_request_error", None)
        text = " ".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
        if (body.get("response_format") or {}).get("type") == "json_object" and (
            "json" not in text.lower()
        ):
            return _error(
                400,
                "'messages' must contain the word 'json' in some form, to use "
                "'response_format' of type 'json_object'.",
                "invalid_request_error",
                None,
            )

        now = time.time()
        wait = self._over_rpm(now)
        if wait is not None:
            entry.behaviour = "rpm_limit"
            return self._rate_limited(model, wait, now)
        behaviour = self._next_behaviour()
        entry.behaviour = behaviour
        if behaviour == "rate_limited":
            return self._rate_limited(model, self.retry_after, now)
        if behaviour == "server_error":
            response = _error(500, "Internal Server Error", "internal_server_error", None)
            response.headers.update(self._ratelimit_headers(now))
            return response
        if behaviour == "timeout":
            await asyncio.sleep(self.hang_seconds)

        payload = self._payload(messages)
        listing = good_listing(payload)
        finish = "stop"
        if behaviour == "exceed_limits":
            listing = self._exceed(payload, listing)
        elif behaviour == "invent":
            listing["title"] = f"{listing['title']} {self.invented_fact}"
            listing["bullets"] = [*listing["bullets"], f"Battery: {self.invented_fact}"]
            listing["description"] += f" Its {self.invented_fact} battery lasts for days."
        content = json.dumps(listing, ensure_ascii=False)
        if behaviour == "broken_json":
            content = '{"title": "Almost JSON", "bullets": ["unterminated'
        elif behaviour == "truncated":
            content, finish = content[: len(content) // 2], "length"
        elif behaviour == "json_validate_failed":
            self._count(now, 0)
            response = _error(
                400,
                "Failed to generate JSON. Please adjust your prompt. See 'failed_generation' "
                "for more details.",
                "invalid_request_error",
                "json_validate_failed",
                failed_generation=content[: len(content) // 2],
            )
            response.headers.update(self._ratelimit_headers(now))
            return response

        prompt_tokens = max(len(text) // 4, 1)
        completion_tokens = max(len(content) // 4, 1)
        self._count(now, prompt_tokens + completion_tokens)
        reply = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(now),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "logprobs": None,
                    "finish_reason": finish,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "queue_time": 0.001,
                "prompt_time": 0.001,
                "completion_time": 0.001,
                "total_time": 0.003,
            },
            "system_fingerprint": "fp_fake",
            "x_groq": {"id": f"req_{uuid.uuid4().hex}"},
        }
        headers = self._ratelimit_headers(now) | {"x-request-id": f"req_{uuid.uuid4().hex}"}
        return JSONResponse(reply, headers=headers)

    def _rate_limited(self, model: str, wait: float, now: float) -> JSONResponse:
        response = _error(
            429,
            f"Rate limit reached for model `{model}` in organization `org_fake` service tier "
            f"`on_demand` on requests per minute (RPM): Limit {self.rpm_limit or 30}. "
            f"Please try again in {wait:.3f}s.",
            "requests",
            "rate_limit_exceeded",
        )
        response.headers.update(self._ratelimit_headers(now))
        # Integer seconds as HTTP says, rounded up so a client that honours it is never early.
        response.headers["retry-after"] = str(max(math.ceil(wait), 1))
        return response

    @staticmethod
    def _payload(messages: list[Any]) -> dict[str, Any]:
        """The engine's user message is JSON with the limits and the product; else an empty one."""
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                try:
                    data = json.loads(str(message.get("content", "")))
                except ValueError:
                    break
                if isinstance(data, dict):
                    return data
        return {}

    @staticmethod
    def _exceed(payload: dict[str, Any], listing: dict[str, Any]) -> dict[str, Any]:
        limits = payload.get("limits", {})
        banned = [str(t) for t in limits.get("banned_terms") or []] or ["best"]
        product = payload.get("product", {})
        source_title = str(product.get("title") or "Product")
        title = " ".join([banned[0].capitalize(), *([source_title] * 6)])
        long_bullet = " ".join([f"{banned[0]} quality", *([source_title] * 20)])
        extra = [f"{source_title} point" for _ in range(int(limits.get("bullets_max", 5)) + 3)]
        words = re.findall(r"[^\W\d_]{3,}", f"{source_title} {product.get('description', '')}")
        pairs = [f"{a} {b}".lower() for a in words for b in words if a != b]
        return {
            "title": title,
            "description": f"{listing['description']} The {banned[0]} choice.",
            "bullets": [*listing["bullets"], long_bullet, *extra],
            "keywords": [banned[-1], *pairs],
        }
