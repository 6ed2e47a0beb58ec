"""The OpenAI-compatible engine over real HTTP against the local fake server, one behaviour each."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis
import redis.asyncio as aioredis
from tests.fakes.openai_server import FakeLLMServer
from tests.integrations.llm.samples import AMAZON_LIMITS, HEADPHONES, REDIS_URL, REQUIRE_SERVICES

from listingflow.integrations.llm.base import (
    ListingLimits,
    LLMPermanent,
    LLMQuotaExhausted,
    LLMRetryable,
)
from listingflow.integrations.llm.openai_compatible import OpenAICompatibleEngine
from listingflow.integrations.llm.prompts import PROMPT_VERSION
from listingflow.integrations.llm.repair import find_terms
from listingflow.kit.ratelimit import Budget, MemoryRateLimiter, RedisRateLimiter
from listingflow.rules.types import Listing

EngineFactory = Callable[..., OpenAICompatibleEngine]


def _all_text(listing: Listing) -> str:
    return " ".join([listing.title, listing.description, *listing.bullets, *listing.keywords])


async def test_good_reply_is_parsed_into_a_listing(
    engine: OpenAICompatibleEngine, server: FakeLLMServer
) -> None:
    result = await engine.optimize(HEADPHONES, "amazon", AMAZON_LIMITS, target_language="en")

    assert result.listing.title == "Sony WH-1000XM5 Wireless Noise Cancelling Headphones"
    assert result.listing.bullets == ["Battery life: 30 h", "Colour: Black", "Weight: 250 g"]
    assert result.listing.keywords and result.listing.marketplace == "amazon"
    assert result.listing.language == "en"
    assert (result.engine, result.model, result.prompt_version) == (
        "openai_compatible",
        "llama-3.3-70b-versatile",
        PROMPT_VERSION,
    )
    assert result.prompt_tokens > 0 and result.completion_tokens > 0
    assert result.flagged == [] and result.repaired == [] and result.attempts == 1

    [request] = server.chat_requests
    assert request.path == "/openai/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {server.api_key}"
    assert request.body["model"] == "llama-3.3-70b-versatile"
    assert request.body["response_format"] == {"type": "json_object"}
    sent = json.loads(request.body["messages"][-1]["content"])
    assert sent["prompt_version"] == PROMPT_VERSION
    assert sent["limits"]["title_max"] == 80
    assert sent["product"]["attributes"]["battery_life"] == "30 h"


async def test_the_prompt_asks_for_the_target_language_and_the_marketplace_rules(
    engine: OpenAICompatibleEngine, server: FakeLLMServer
) -> None:
    limits = {"title_max": 75, "bullets_max": 0, "banned_terms": ["najlepszy"], "language": "pl"}

    result = await engine.optimize(HEADPHONES, "allegro", limits, target_language="pl")

    system = server.chat_requests[0].body["messages"][0]["content"]
    assert '"pl"' in system and "Polish" in system and "najlepszy" in system
    assert "at most 75 characters" in system
    assert result.listing.language == "pl" and result.listing.bullets == []


@pytest.mark.parametrize("bad", ["broken_json", "truncated", "json_validate_failed"])
async def test_an_unusable_reply_is_asked_for_once_more(
    engine: OpenAICompatibleEngine, server: FakeLLMServer, bad: str
) -> None:
    server.plan(bad)

    result = await engine.optimize(HEADPHONES, "amazon", AMAZON_LIMITS, target_language="en")

    assert len(server.chat_requests) == 2
    assert result.listing.title.startswith("Sony") and result.attempts == 2


async def test_broken_json_twice_raises_retryable(
    engine: OpenAICompatibleEngine, server: FakeLLMServer
) -> None:
    server.plan("broken_json", "broken_json")

    with pytest.raises(LLMRetryable) as caught:
        await engine.optimize(HEADPHONES, "amazon", AMAZON_LIMITS, target_language="en")

    assert caught.value.code == "invalid_json"
    assert len(server.chat_requests) == 2


async def test_a_reply_over_the_limits_is_repaired_within_them(
    engine: OpenAICompatibleEngine, server: FakeLLMServer
) -> None:
    server.plan("exceed_limits")

    result = await engine.optimize(HEADPHONES, "amazon", AMAZON_LIMITS, target_language="en")

    listing = result.listing
    assert 0 < len(listing.title) <= AMAZON_LIMITS.title_max
    assert len(listing.bullets) <= AMAZON_LIMITS.bullets_max
    assert all(len(b) <= AMAZON_LIMITS.bullet_max_chars for b in listing.bullets)
    assert len(" ".join(listing.keywords).encode()) <= AMAZON_LIMITS.search_terms_max_bytes
    assert find_terms(_all_text(listing), AMAZON_LIMITS.banned_terms) == []
    assert any(note.startswith("title: shortened") for note in result.repaired)
    assert "title: removed the banned term 'best'" in result.repaired


async def test_an_invented_spec_is_removed_and_flagged(
    engine: OpenAICompatibleEngine, server: FakeLLMServer
) -> None:
    server.plan("invent")

    result = await engine.optimize(HEADPHONES, "amazon", AMAZON_LIMITS, target_language="en")

    assert result.flagged == ["5000 mAh"]
    assert "5000" not in _all_text(result.listing)
    assert "Battery life: 30 h" in result.listing.bullets  # a sourced spec stays


async def test_429_waits_for_retry_after_then_succeeds(
    engine: OpenAICompatibleEngine, server: FakeLLMServer
) -> None:
    server.plan("rate_limited")

    result = await engine.optimize(HEADPHONES, "amazon", AMAZON_LIMITS, target_language="en")

    first, second = server.chat_requests
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= server.retry_after  # the server's clock, not ours
    assert result.attempts == 2


async def test_server_errors_back_off_then_succeed(
    engine: OpenAICompatibleEngine, server: FakeLLMServer
) -> None:
    server.plan("server_error", "server_error")

    result = await engine.optimize(HEADPHONES, "amazon", AMAZON_LIMITS, target_language="en")

    requests = server.chat_requests
    assert [r.status for r in requests] == [500, 500, 200]
    gaps = [b.at - a.at for a, b in itertools.pairwise(requests)]
    assert all(gap >= 0.1 for gap in gaps)  # backoff_initial
    assert result.attempts == 3


async def test_server_errors_until_attempts_run_out_raise_retryable(
    make_engine: EngineFactory, server: FakeLLMServer
) -> None:
    engine = make_engine(max_attempts=2)
    server.plan("server_error", "server_error", "server_error")

    with pytest.raises(LLMRetryable) as caught:
        await engine.optimize(HEADPHONES, "amazon", AMAZON_LIMITS, target_language="en")

    assert caught.value.status == 500
    assert len(server.chat_requests) == 2


async def test_an_invalid_key_is_permanent_and_not_retried(
    make_engine: EngineFactory, server: FakeLLMServer
) -> None:
    engine = make_engine(api_key="gsk_wrong")

    with pytest.raises(LLMPermanent) as caught:
        await engine.optimize(HEADPHONES, "amazon", AMAZON_LIMITS, target_language="en")

    assert (caught.value.status, caught.value.code) == (401, "invalid_api_key")
    assert server.statuses() == [401]


@pytest.mark.parametrize(
    ("suffix", "model", "code"),
    [
        ("/v1", "llama-3.3-70b-versatile", "unknown_url"),  # .../openai/v1 + /v1/chat/...
        ("", "llama-9-imaginary", "model_not_found"),
    ],
)
async def test_an_unknown_url_or_model_is_permanent_and_not_retried(
    make_engine: EngineFactory, server: FakeLLMServer, suffix: str, model: str, code: str
) -> None:
    engine = make_engine(base_url=server.base_url + suffix, model=model)

    with pytest.raises(LLMPermanent) as caught:
        await engine.optimize(HEADPHONES, "amazon", AMAZON_LIMITS, target_language="en")

    assert (caught.value.status, caught.value.code) == (404, code)
    assert len(server.requests) == 1


async def test_a_timeout_is_retried_then_raises_retryable(
    make_engine: EngineFactory, server: FakeLLMServer
) -> None:
    engine = make_engine(timeout=0.3, max_attempts=2)
    server.plan("timeout", "timeout")

    with pytest.raises(LLMRetryable) as caught:
        await engine.optimize(HEADPHONES, "amazon", AMAZON_LIMITS, target_language="en")

    assert caught.value.code == "timeout"
    assert len(server.chat_requests) == 2


async def test_rate_limit_headers_correct_the_limiter(
    make_engine: EngineFactory, server: FakeLLMServer
) -> None:
    # Groq's request headers count the day: the server says 3 a day, we believed 1,000.
    server.rpd_limit = 3
    limiter = MemoryRateLimiter(default=Budget(rpm=None, rpd=1_000, tpm=None))
    engine = make_engine(limiter=limiter)

    await engine.optimize(HEADPHONES, "amazon", AMAZON_LIMITS, target_language="en")

    usage = await engine.usage()
    assert usage["budgets"]["rpd"]["used"] == 1_000 - 2
    assert usage["calls_today"] == 1


async def test_a_spent_daily_budget_raises_quota_exhausted_without_a_call(
    make_engine: EngineFactory, server: FakeLLMServer
) -> None:
    engine = make_engine(limiter=MemoryRateLimiter(default=Budget(rpm=None, rpd=1, tpm=None)))
    await engine.optimize(HEADPHONES, "amazon", AMAZON_LIMITS, target_language="en")

    with pytest.raises(LLMQuotaExhausted) as caught:
        await engine.optimize(HEADPHONES, "amazon", AMAZON_LIMITS, target_language="en")

    assert caught.value.retry_in is not None and caught.value.retry_in > 3600
    assert len(server.chat_requests) == 1


@pytest.fixture
async def redis_limiter() -> AsyncIterator[RedisRateLimiter]:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (OSError, redis.RedisError) as exc:
        if REQUIRE_SERVICES:
            pytest.fail(f"Redis is required (LISTINGFLOW_REQUIRE_SERVICES=1) at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis not available at {REDIS_URL}")
    finally:
        await client.aclose()
    prefix = f"lf:test:{uuid.uuid4().hex}"
    limiter = RedisRateLimiter(REDIS_URL, default=Budget(rpm=None, rpd=2, tpm=None), prefix=prefix)
    yield limiter
    client = aioredis.Redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
    await limiter.aclose()


async def test_engines_share_one_daily_budget_through_redis(
    make_engine: EngineFactory, server: FakeLLMServer, redis_limiter: RedisRateLimiter
) -> None:
    first, second = make_engine(limiter=redis_limiter), make_engine(limiter=redis_limiter)
    await first.optimize(HEADPHONES, "amazon", AMAZON_LIMITS, target_language="en")
    await second.optimize(HEADPHONES, "ebay", AMAZON_LIMITS, target_language="en")

    with pytest.raises(LLMQuotaExhausted):
        await first.optimize(HEADPHONES, "amazon", AMAZON_LIMITS, target_language="en")

    assert len(server.chat_requests) == 2
    assert (await first.usage())["calls_today"] == 2


async def test_limits_may_be_a_plain_dict(engine: OpenAICompatibleEngine) -> None:
    as_dict = {"title_max": 20, "bullets_max": 1, "unknown_rule": True}

    result = await engine.optimize(HEADPHONES, "ebay", as_dict, target_language="en")

    assert len(result.listing.title) <= 20 and len(result.listing.bullets) == 1
    assert ListingLimits.coerce(as_dict) == ListingLimits(title_max=20, bullets_max=1)


def test_the_engine_never_shows_its_key() -> None:
    engine = OpenAICompatibleEngine(api_key="gsk_secret_value", limiter=MemoryRateLimiter())

    assert "gsk_secret_value" not in repr(engine)
    assert engine.base_url == "https://api.groq.com/openai/v1"
    assert engine.limiter_key == "llm:api.groq.com:llama-3.3-70b-versatile"


async def test_an_unreachable_limiter_store_is_retryable(
    make_engine: EngineFactory, server: FakeLLMServer
) -> None:
    engine = make_engine(limiter=RedisRateLimiter("redis://127.0.0.1:1/0"), max_attempts=1)

    with pytest.raises(LLMRetryable) as caught:
        await engine.optimize(HEADPHONES, "amazon", AMAZON_LIMITS, target_language="en")

    assert caught.value.code == "limiter_unavailable"
    assert server.chat_requests == []
