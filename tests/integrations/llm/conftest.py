"""Fixtures for the LLM engine tests: one fake OpenAI-compatible server, engines pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from tests.fakes.openai_server import FakeLLMServer
from tests.integrations.llm.samples import UNLIMITED

from listingflow.integrations.llm.openai_compatible import OpenAICompatibleEngine
from listingflow.kit.ratelimit import MemoryRateLimiter


@pytest.fixture(scope="module")
def llm_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(retry_after=1, hang_seconds=1.0) as server:
        yield server


@pytest.fixture
def server(llm_server: FakeLLMServer) -> Iterator[FakeLLMServer]:
    defaults = {
        name: getattr(llm_server, name)
        for name in ("rpm_limit", "rpd_limit", "tpm_limit", "retry_after", "hang_seconds")
    }
    llm_server.reset()
    yield llm_server
    for name, value in defaults.items():
        setattr(llm_server, name, value)
    llm_server.reset()


@pytest.fixture
async def make_engine(
    server: FakeLLMServer,
) -> AsyncIterator[Callable[..., OpenAICompatibleEngine]]:
    engines: list[OpenAICompatibleEngine] = []

    def make(**overrides: Any) -> OpenAICompatibleEngine:
        options: dict[str, Any] = {
            "api_key": server.api_key,
            "base_url": server.base_url,
            "timeout": 5.0,
            "deadline": 20.0,
            "max_attempts": 4,
            "backoff_initial": 0.1,
            "backoff_max": 0.4,
            "backoff_jitter": 0.05,
            "limiter": MemoryRateLimiter(default=UNLIMITED),
        } | overrides
        engine = OpenAICompatibleEngine(**options)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        await engine.aclose()


@pytest.fixture
async def engine(
    make_engine: Callable[..., OpenAICompatibleEngine],
) -> OpenAICompatibleEngine:
    return make_engine()
