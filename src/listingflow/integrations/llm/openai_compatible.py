"""The LLM engine for any OpenAI-compatible Chat Completions API: Groq by default, or OpenAI,
Ollama, vLLM, LM Studio through `base_url`.

One `optimize` call: wait for the shared budget (kit.ratelimit), ask for a JSON listing with the
versioned prompt, retry what is worth retrying (429 after its retry-after, 5xx, network errors
and timeouts with exponential backoff and jitter, by stamina; invalid JSON once), feed every
response's rate-limit headers back to the limiter, then remove invented facts (guard) and repair
limit violations (repair). The SDK's own retries are off: it would retry outside our budget.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import openai
import stamina
import structlog
from pydantic import SecretStr

from listingflow.integrations.llm.base import (
    ListingLimits,
    LLMError,
    LLMPermanent,
    LLMQuotaExhausted,
    LLMResult,
    LLMRetryable,
)
from listingflow.integrations.llm.guard import SourceFacts, guard_listing
from listingflow.integrations.llm.prompts import (
    PROMPT_VERSION,
    ReplyInvalid,
    build_messages,
    parse_draft,
)
from listingflow.integrations.llm.repair import repair_listing
from listingflow.kit import metrics
from listingflow.kit.ratelimit import (
    Budget,
    MemoryRateLimiter,
    QuotaExhausted,
    RateLimiter,
    RequestTooLarge,
    WaitTooLong,
    default_budget,
    parse_retry_after,
)
from listingflow.rules.types import Listing, SourceProduct

log = structlog.get_logger()

GROQ_BASE_URL = "https://api.groq.com/openai/v1"
DEFAULT_MODEL = "llama-3.3-70b-versatile"


class _BadGeneration(Exception):
    """The model's output is unusable (Groq's json_validate_failed, invalid JSON, cut off)."""


@dataclass(slots=True)
class _Reply:
    content: str | None
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int


def limiter_key_for(base_url: str, model: str) -> str:
    """Providers count budgets per account and model; the host stands for the account here."""
    return f"llm:{urlsplit(base_url).netloc or base_url}:{model}"


class OpenAICompatibleEngine:
    """`LLMEngine` over the official `openai` SDK (async, no SDK retries)."""

    def __init__(
        self,
        *,
        api_key: str | SecretStr,
        base_url: str = GROQ_BASE_URL,
        model: str = DEFAULT_MODEL,
        name: str = "openai_compatible",
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        deadline: float = 120.0,
        max_attempts: int = 4,
        backoff_initial: float = 1.0,
        backoff_max: float = 20.0,
        backoff_jitter: float = 1.0,
        json_retries: int = 1,
        temperature: float = 0.2,
        max_tokens: int = 1024,
        completion_tokens_estimate: int = 600,
        limiter: RateLimiter | None = None,
        limiter_key: str | None = None,
        budget: Budget | None = None,
        wait_for_daily_quota: bool = False,
    ) -> None:
        """`timeout` bounds one HTTP call, `deadline` one `optimize` (waits and retries included).

        Without a `limiter` the engine keeps an in-process one with `budget` (the Groq free tier
        of `model` by default); pass a shared limiter (Redis) to share the budget between
        processes, with the budget configured on that limiter.
        """
        secret = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        self.name = name
        self.model = model
        self.base_url = base_url
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            # Local servers (Ollama, LM Studio) take any key; the SDK refuses an empty one.
            api_key=secret or "unused",
            max_retries=0,
            timeout=openai.Timeout(timeout, connect=connect_timeout),
        )
        self._timeout = timeout
        self._deadline = deadline
        self._max_attempts = max(max_attempts, 1)
        self._backoff = (backoff_initial, backoff_max, backoff_jitter)
        self._json_retries = max(json_retries, 0)
        self._temperature = temperature
        self._max_tokens = max_tokens
        self._completion_estimate = completion_tokens_estimate
        self.limiter_key = limiter_key or limiter_key_for(base_url, model)
        self._limiter = limiter or MemoryRateLimiter(
            budgets={self.limiter_key: budget or default_budget(model)}
        )
        self._wait_daily = wait_for_daily_quota

    def __repr__(self) -> str:  # never show the key
        return f"OpenAICompatibleEngine(base_url={self.base_url!r}, model={self.model!r})"

    async def aclose(self) -> None:
        await self._client.close()

    async def optimize(
        self,
        product: SourceProduct,
        marketplace: str,
        limits: ListingLimits | Mapping[str, Any],
        *,
        target_language: str,
    ) -> LLMResult:
        rules = ListingLimits.coerce(limits)
        messages = build_messages(product, marketplace, rules, target_language)
        # The limiter needs a figure before the call; the response's usage corrects it after.
        estimate = math.ceil(sum(len(m["content"]) for m in messages) / 4)
        estimate += min(self._completion_estimate, self._max_tokens)
        counters = {"attempts": 0, "prompt": 0, "completion": 0}
        # One deadline for the whole call: waits, retries and the re-ask for valid JSON.
        deadline = asyncio.get_running_loop().time() + self._deadline
        reason = ""
        for _ in range(self._json_retries + 1):
            try:
                reply = await self._complete(messages, estimate, counters, deadline)
            except _BadGeneration as exc:
                reason = str(exc)
                log.warning("llm.reply_invalid", model=self.model, reason=reason)
                continue
            try:
                if reply.finish_reason == "length":
                    raise ReplyInvalid("the reply was cut off at max_tokens")
                draft = parse_draft(reply.content)
            except ReplyInvalid as exc:
                reason = str(exc)
                log.warning("llm.reply_invalid", model=self.model, reason=reason)
                continue
            break
        else:
            raise LLMRetryable(
                f"the model gave no usable JSON in {self._json_retries + 1} tries: {reason}",
                code="invalid_json",
            )

        guarded = guard_listing(
            title=draft.title,
            description=draft.description,
            bullets=draft.bullets,
            keywords=draft.keywords,
            source=SourceFacts.from_product(product),
        )
        if guarded.flagged:
            log.info("llm.invented_facts_removed", marketplace=marketplace, facts=guarded.flagged)
        fixed = repair_listing(
            title=guarded.title,
            description=guarded.description,
            bullets=guarded.bullets,
            keywords=guarded.keywords,
            limits=rules,
            fallback_title=product.title,
        )
        listing = Listing(
            marketplace=marketplace,
            title=fixed.title,
            description=fixed.description,
            bullets=fixed.bullets,
            keywords=fixed.keywords,
            attributes=dict(product.attributes or {}),
            images=list(product.images),
            language=target_language,
        )
        return LLMResult(
            listing=listing,
            engine=self.name,
            model=self.model,
            prompt_version=PROMPT_VERSION,
            prompt_tokens=counters["prompt"],
            completion_tokens=counters["completion"],
            flagged=guarded.flagged,
            repaired=fixed.repaired,
            attempts=counters["attempts"],
        )

    async def usage(self) -> dict[str, Any]:
        """Calls and tokens today and the budgets' state, for the dashboard."""
        return await self._limiter.usage(self.limiter_key)

    # ------------------------------------------------------------------------------ transport

    async def _complete(
        self,
        messages: list[dict[str, str]],
        estimate: int,
        counters: dict[str, int],
        deadline: float,
    ) -> _Reply:
        loop = asyncio.get_running_loop()
        initial, most, jitter = self._backoff
        async for attempt in stamina.retry_context(
            on=self._retry_hook(deadline),
            attempts=self._max_attempts,
            timeout=None,  # our deadline is checked in the hook, waits included
            wait_initial=initial,
            wait_max=most,
            wait_jitter=jitter,
        ):
            with attempt:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise LLMRetryable(f"no reply within {self._deadline:.0f}s", code="deadline")
                await self._acquire(estimate, remaining)
                counters["attempts"] += 1
                remaining = deadline - loop.time()
                reply = await self._call(
                    messages, estimate, max(min(self._timeout, remaining), 0.1)
                )
                counters["prompt"] += reply.prompt_tokens
                counters["completion"] += reply.completion_tokens
                return reply
        raise AssertionError("stamina ends by returning or raising")  # pragma: no cover

    def _retry_hook(self, deadline: float) -> Callable[[Exception], bool | float]:
        loop = asyncio.get_running_loop()

        def hook(exc: Exception) -> bool | float:
            if not isinstance(exc, LLMRetryable) or isinstance(exc, LLMQuotaExhausted):
                return False
            remaining = deadline - loop.time()
            if exc.retry_in is not None:
                # The provider (retry-after) or the limiter named the wait: use it, not backoff.
                return float(exc.retry_in) if exc.retry_in < remaining else False
            return remaining > 0

        return hook

    async def _acquire(self, estimate: int, remaining: float) -> None:
        try:
            await self._limiter.acquire(
                self.limiter_key,
                tokens=estimate,
                wait_daily=self._wait_daily,
                max_wait=remaining,
            )
        except QuotaExhausted as exc:
            raise LLMQuotaExhausted(
                f"the daily {exc.rule} budget of {self.model} is spent", retry_in=exc.retry_in
            ) from exc
        except WaitTooLong as exc:
            raise LLMRetryable(
                f"the {exc.rule} budget of {self.model} allows no call before the deadline",
                retry_in=exc.retry_in,
                code="rate_limited",
            ) from exc
        except RequestTooLarge as exc:
            raise LLMPermanent(str(exc), code="request_too_large") from exc
        except LLMError:
            raise
        except Exception as exc:  # the limiter's store (Redis) is down: try again later
            log.warning("llm.ratelimit_unavailable", error=repr(exc))
            raise LLMRetryable(
                f"the rate limiter is unavailable: {exc!r}", code="limiter_unavailable"
            ) from exc

    async def _call(self, messages: list[dict[str, str]], estimate: int, seconds: float) -> _Reply:
        # The SDK's per-request timeout (not asyncio.timeout): it maps to APITimeoutError.
        try:
            raw = await self._client.chat.completions.with_raw_response.create(
                model=self.model,
                messages=cast(Any, messages),
                temperature=self._temperature,
                max_tokens=self._max_tokens,
                response_format={"type": "json_object"},
                timeout=seconds,
            )
        except openai.APITimeoutError as exc:
            metrics.llm_call(self.model, "error")
            raise LLMRetryable(f"no reply within {seconds:.1f}s", code="timeout") from exc
        except openai.APIConnectionError as exc:
            metrics.llm_call(self.model, "error")
            raise LLMRetryable(f"could not reach {self.base_url}: {exc}", code="network") from exc
        except openai.APIStatusError as exc:
            metrics.llm_call(self.model, "rate_limited" if exc.status_code == 429 else "error")
            await self._report(exc.response.headers)
            raise self._status_error(exc) from exc
        completion = raw.parse()
        usage = completion.usage
        prompt = usage.prompt_tokens if usage else 0
        produced = usage.completion_tokens if usage else 0
        metrics.llm_call(self.model, "ok", prompt_tokens=prompt, completion_tokens=produced)
        await self._report(
            raw.headers, token_correction=(prompt + produced - estimate) if usage else 0
        )
        choice = completion.choices[0] if completion.choices else None
        return _Reply(
            content=choice.message.content if choice else None,
            finish_reason=choice.finish_reason if choice else None,
            prompt_tokens=prompt,
            completion_tokens=produced,
        )

    async def _report(self, headers: Mapping[str, str], *, token_correction: int = 0) -> None:
        try:
            await self._limiter.report(self.limiter_key, headers, token_correction=token_correction)
        except Exception as exc:  # a correction lost is not worth failing a good reply for
            log.warning("llm.ratelimit_report_failed", error=repr(exc))

    def _status_error(self, exc: openai.APIStatusError) -> LLMError | _BadGeneration:
        status = exc.status_code
        body = exc.body if isinstance(exc.body, dict) else {}
        code = exc.code or (str(body.get("code")) if body.get("code") else None)
        detail = str(body.get("message") or exc.message)
        if status == 429:
            retry_in = parse_retry_after(exc.response.headers.get("retry-after"))
            return LLMRetryable(
                f"rate limited by the provider: {detail}", retry_in=retry_in, status=429, code=code
            )
        if status == 400 and code == "json_validate_failed":
            return _BadGeneration(f"the provider rejected the model's JSON: {detail}")
        if status >= 500 or status == 408:
            return LLMRetryable(f"provider error {status}: {detail}", status=status, code=code)
        if status == 401:
            return LLMPermanent(f"the API key was refused: {detail}", status=status, code=code)
        if status == 404:
            return LLMPermanent(
                f"model {self.model!r} or URL {self.base_url!r} not found: {detail}",
                status=status,
                code=code,
            )
        return LLMPermanent(f"request refused ({status}): {detail}", status=status, code=code)
