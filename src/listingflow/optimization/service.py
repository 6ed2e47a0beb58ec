"""Chooses and runs an engine for one product and marketplace; scores the result before/after.

The offline engine is pure and always available. The LLM engine (when configured) runs through
integrations/llm; its output is validated against the same rulebook and, when it breaks a rule
the repair cannot fix, the offline engine's listing is used instead and the fallback recorded.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow import config
from listingflow.exceptions import UpstreamUnavailable, ValidationFailed
from listingflow.integrations.llm.base import ListingLimits, LLMError, LLMResult, LLMRetryable
from listingflow.integrations.llm.prompts import PROMPT_VERSION
from listingflow.kit.cache import Cache, cache_key
from listingflow.kit.jsonutil import content_hash
from listingflow.kit.models import utcnow
from listingflow.models import Product
from listingflow.optimization.engines import limits_for, llm_configured, llm_engine
from listingflow.optimization.repository import optimization_repository
from listingflow.optimization.rulebook import required_attributes_for, rulebook_for
from listingflow.rules.marketplaces import MARKETPLACES, marketplace_language
from listingflow.rules.optimizer import listing_from_source, optimize_offline
from listingflow.rules.scoring import Score, score
from listingflow.rules.types import Issue, Severity, SourceProduct
from listingflow.rules.types import Listing as Draft
from listingflow.rules.validation import validate

OFFLINE = "offline"
LLM = "llm"
ENGINES = (OFFLINE, LLM)


@dataclass
class Optimized:
    draft: Draft
    issues: list[Issue]
    score: Score
    score_before: Score
    engine: str
    model: str | None = None
    prompt_version: str | None = None
    notes: list[str] = field(default_factory=list)
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


def check_marketplace(marketplace: str | None, field_name: str = "target_marketplace") -> str:
    value = (marketplace or "").strip().lower()
    known = [key for key, info in MARKETPLACES.items() if info.has_offline_optimizer]
    if value not in known:
        raise ValidationFailed(
            f"cannot optimize for {marketplace!r}; use one of {', '.join(known)}",
            field=field_name,
        )
    return value


def check_engine(engine: str | None) -> str:
    """The engine asked for; by default the LLM when a key is configured, else offline."""
    if not engine:
        return LLM if llm_configured() else OFFLINE
    value = engine.strip().lower()
    if value not in ENGINES:
        raise ValidationFailed(
            f"engine {engine!r} is not available; use one of {', '.join(ENGINES)}", field="engine"
        )
    if value == LLM and not llm_configured():
        raise ValidationFailed(
            "the llm engine needs LISTINGFLOW_LLM_API_KEY (and LISTINGFLOW_LLM_BASE_URL for "
            "anything but Groq)",
            field="engine",
        )
    return value


if TYPE_CHECKING:
    from listingflow.integrations.llm.openai_compatible import OpenAICompatibleEngine

log = structlog.get_logger()
_CACHED_FIELDS = ("title", "description", "bullets", "keywords", "language")


def _result_to_cache(result: LLMResult) -> dict[str, Any]:
    listing = result.listing
    return {
        "listing": {name: getattr(listing, name) for name in _CACHED_FIELDS},
        "engine": result.engine,
        "model": result.model,
        "prompt_version": result.prompt_version,
        "flagged": result.flagged,
        "repaired": result.repaired,
    }


def _result_from_cache(data: dict[str, Any], marketplace: str) -> LLMResult:
    return LLMResult(
        listing=Draft(marketplace=marketplace, **data["listing"]),
        engine=data["engine"],
        model=data["model"],
        prompt_version=data["prompt_version"],
        flagged=list(data["flagged"]),
        repaired=list(data["repaired"]),
        attempts=0,
    )


def source_of(product: Product) -> SourceProduct:
    return SourceProduct(
        title=product.title,
        description=product.description,
        category=product.category,
        brand=product.brand,
        price=product.price,
        currency=product.currency,
        images=tuple(product.images or ()),
        attributes=dict(product.attributes or {}),
    )


def issues_json(issues: list[Issue]) -> list[dict[str, Any]]:
    return [
        {"code": i.code, "field": i.field, "severity": str(i.severity), "message": i.message}
        for i in issues
    ]


def has_errors(issues: list[Issue]) -> bool:
    return any(i.severity == Severity.ERROR for i in issues)


async def cached_llm_optimize(
    engine: OpenAICompatibleEngine,
    source: SourceProduct,
    marketplace: str,
    *,
    limits: ListingLimits,
    language: str,
    cache: Cache | None,
    ttl: int,
) -> tuple[LLMResult, bool]:
    """The engine's answer, from the cache when this exact input was answered before.

    The key covers the endpoint, model, prompt version, marketplace and every source fact, so
    a change to any of them asks again. Returns (result, came from the cache).
    """
    key = cache_key(
        "llm",
        content_hash([engine.base_url, engine.model, PROMPT_VERSION, marketplace, language]),
        content_hash(dataclasses.asdict(source)),
    )
    cached = await cache.get(key) if cache is not None else None
    if cached is not None:
        return _result_from_cache(cached, marketplace), True
    result = await engine.optimize(source, marketplace, limits, target_language=language)
    if cache is not None and ttl:
        await cache.set(key, _result_to_cache(result), ttl)
    return result, False


class OptimizationService:
    def assess(
        self, draft: Draft, marketplace: str, source: SourceProduct
    ) -> tuple[list[Issue], Score]:
        book = rulebook_for(marketplace)
        required = required_attributes_for(marketplace, source.category)
        issues = validate(draft, marketplace, rulebook=book, required_attributes=required)
        return issues, score(
            draft,
            marketplace,
            source=source,
            issues=issues,
            rulebook=book,
            required_attributes=required,
        )

    async def optimize(
        self,
        source: SourceProduct,
        marketplace: str,
        *,
        engine: str,
        cache: Cache | None = None,
    ) -> Optimized:
        """The listing for one marketplace, with its issues and scores before and after.

        LLM answers are cached (Redis when configured) by the product's content, marketplace,
        model and prompt version: the same input is never paid for twice, by any process.
        """
        original = listing_from_source(source, marketplace)
        _, before = self.assess(original, marketplace, source)
        offline = optimize_offline(source, marketplace, rulebook=rulebook_for(marketplace))
        offline_issues, offline_score = self.assess(offline, marketplace, source)
        notes: list[str] = []
        if engine == LLM:
            try:
                return await self._llm(source, marketplace, offline, offline_issues, before, cache)
            except LLMError as exc:
                if config.settings.llm_fallback != "offline":
                    raise UpstreamUnavailable(
                        f"the LLM engine failed: {exc}",
                        retryable=isinstance(exc, LLMRetryable),
                    ) from exc
                log.warning("optimization.llm_fallback", marketplace=marketplace, error=str(exc))
                notes.append(f"The LLM engine failed ({exc}); the offline engine wrote this.")
        return Optimized(
            draft=offline,
            issues=offline_issues,
            score=offline_score,
            score_before=before,
            engine=OFFLINE,
            notes=[*notes, *offline.notes],
        )

    async def _llm(
        self,
        source: SourceProduct,
        marketplace: str,
        offline: Draft,
        offline_issues: list[Issue],
        before: Score,
        cache: Cache | None,
    ) -> Optimized:
        language = marketplace_language(marketplace)
        result, cached = await cached_llm_optimize(
            llm_engine(),
            source,
            marketplace,
            limits=limits_for(marketplace, language),
            language=language,
            cache=cache,
            ttl=config.settings.llm_cache_ttl,
        )
        draft = result.listing
        # Attributes and images are facts, not prose: the same as the offline engine keeps.
        draft.attributes = dict(offline.attributes)
        draft.images = list(offline.images)
        draft.language = draft.language or language
        issues, after = self.assess(draft, marketplace, source)
        notes = [f"Removed as not in the source: {fact}" for fact in result.flagged]
        notes += [f"Repaired: {change}" for change in result.repaired]
        if has_errors(issues) and not has_errors(offline_issues):
            # The model broke a rule the repair could not fix: never publish that.
            raise LLMError("its listing broke the marketplace's rules after repair")
        return Optimized(
            draft=draft,
            issues=issues,
            score=after,
            score_before=before,
            engine=LLM,
            model=result.model,
            prompt_version=result.prompt_version,
            notes=notes,
            llm_calls=0 if cached else result.attempts,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
        )

    async def record_usage(
        self, session: AsyncSession, workspace_id: int, optimized: Optimized
    ) -> None:
        if optimized.llm_calls:
            await optimization_repository.add_usage(
                session,
                workspace_id,
                utcnow().date(),
                calls=optimized.llm_calls,
                prompt_tokens=optimized.prompt_tokens,
                completion_tokens=optimized.completion_tokens,
            )

    async def usage(self, session: AsyncSession, workspace_id: int) -> dict[str, Any]:
        """Today's LLM calls and tokens for the workspace, against the configured quota."""
        today = utcnow().date()
        row = await optimization_repository.usage(session, workspace_id, today)
        settings = config.settings
        provider = await llm_engine().usage() if llm_configured() else None
        return {
            "day": today.isoformat(),
            "llm_configured": llm_configured(),
            "model": settings.llm_model if llm_configured() else None,
            "calls": row.calls if row else 0,
            "prompt_tokens": row.prompt_tokens if row else 0,
            "completion_tokens": row.completion_tokens if row else 0,
            "quota": {
                "requests_per_minute": settings.llm_rpm,
                "requests_per_day": settings.llm_rpd,
                "tokens_per_minute": settings.llm_tpm,
            },
            "provider_usage": provider,
        }


optimization_service = OptimizationService()
