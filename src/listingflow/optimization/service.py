"""Chooses and runs an engine for one product and marketplace; scores the result before/after.

The offline engine is pure and always available. The LLM engine (when configured) runs through
integrations/llm; its output is validated against the same rulebook and, when it breaks a rule
the repair cannot fix, the offline engine's listing is used instead and the fallback recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import structlog

from listingflow import config
from listingflow.exceptions import UpstreamUnavailable, ValidationFailed
from listingflow.integrations.llm.base import LLMError
from listingflow.models import Product
from listingflow.optimization.engines import limits_for, llm_configured, llm_engine
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


log = structlog.get_logger()


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


class OptimizationService:
    def assess(
        self, draft: Draft, marketplace: str, source: SourceProduct
    ) -> tuple[list[Issue], Score]:
        issues = validate(draft, marketplace)
        return issues, score(draft, marketplace, source=source, issues=issues)

    async def optimize(self, source: SourceProduct, marketplace: str, *, engine: str) -> Optimized:
        original = listing_from_source(source, marketplace)
        _, before = self.assess(original, marketplace, source)
        offline = optimize_offline(source, marketplace)
        offline_issues, offline_score = self.assess(offline, marketplace, source)
        notes: list[str] = []
        if engine == LLM:
            try:
                return await self._llm(source, marketplace, offline, offline_issues, before)
            except LLMError as exc:
                if config.settings.llm_fallback == "fail":
                    raise UpstreamUnavailable(f"the LLM engine failed: {exc}") from exc
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
    ) -> Optimized:
        language = marketplace_language(marketplace)
        result = await llm_engine().optimize(
            source, marketplace, limits_for(marketplace, language), target_language=language
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
        )


optimization_service = OptimizationService()
