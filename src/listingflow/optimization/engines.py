"""The LLM engine built from settings, once per process, with the shared rate limiter.

Kept apart from the service so that the offline path never imports the OpenAI SDK's weight
into a process that has no key configured.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any

from listingflow import config
from listingflow.integrations.llm.base import ListingLimits
from listingflow.kit.ratelimit import Budget, create_rate_limiter
from listingflow.optimization.rulebook import rulebook_for
from listingflow.rules.terms import PROMOTIONAL, SUBJECTIVE, TIME_BOUND

if TYPE_CHECKING:
    from listingflow.integrations.llm.openai_compatible import OpenAICompatibleEngine


def llm_configured() -> bool:
    key = config.settings.llm_api_key
    return key is not None and bool(key.get_secret_value())


# One engine per event loop and configuration: its HTTP client belongs to the loop that made
# it (a worker process has one; tests and embedded mode may start several in turn).
_engines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[tuple[Any, ...], Any]] = (
    weakref.WeakKeyDictionary()
)


def llm_engine() -> OpenAICompatibleEngine:
    settings = config.settings
    assert settings.llm_api_key is not None
    key = (
        settings.llm_api_key.get_secret_value(),
        settings.llm_base_url,
        settings.llm_model,
        settings.llm_timeout,
        settings.llm_deadline,
        settings.llm_rpm,
        settings.llm_rpd,
        settings.llm_tpm,
        settings.llm_fallback,
        settings.redis_url,
    )
    loop = asyncio.get_running_loop()
    cached = _engines.get(loop)
    if cached is not None and cached[0] == key:
        engine: OpenAICompatibleEngine = cached[1]
        return engine
    engine = _new_engine()
    _engines[loop] = (key, engine)
    return engine


def _new_engine() -> OpenAICompatibleEngine:
    from listingflow.integrations.llm.openai_compatible import OpenAICompatibleEngine

    settings = config.settings
    assert settings.llm_api_key is not None
    budget = Budget(rpm=settings.llm_rpm, rpd=settings.llm_rpd, tpm=settings.llm_tpm)
    limiter = create_rate_limiter(settings.redis_url, default=budget)
    return OpenAICompatibleEngine(
        api_key=settings.llm_api_key,
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        timeout=settings.llm_timeout,
        deadline=settings.llm_deadline,
        limiter=limiter,
        limiter_key=f"llm:{settings.llm_base_url}:{settings.llm_model}",
        budget=budget,
        wait_for_daily_quota=settings.llm_fallback == "wait",
    )


def limits_for(marketplace: str, language: str) -> ListingLimits:
    """The rulebook's hard limits in the shape the LLM engine enforces and repairs against."""
    book = rulebook_for(marketplace)
    banned = {
        term
        for table in (PROMOTIONAL, SUBJECTIVE, TIME_BOUND)
        for lang in {language, "en"}
        for term in table.get(lang, ())
    }
    return ListingLimits(
        title_max=book.title_max,
        bullets_max=book.bullets_max,
        bullet_max_chars=book.bullet_max_length or 500,
        search_terms_max_bytes=book.search_terms_max_bytes or 249,
        banned_terms=tuple(sorted(banned)),
        language=language,
        description_max=book.description_max,
        keywords_max=book.tags_max,
        keyword_max_chars=book.tag_max_length,
    )
