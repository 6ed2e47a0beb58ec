"""The operator's pricing rules and exchange rates, from settings and files, as rules/ values.

Files are re-read when they change (the operator refreshes the rates file; no restart).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from listingflow import config
from listingflow.rules.pricing import PriceQuote, PriceRule, PricingError, parse_rates, quote


def _read_json(path: Path, cache: dict[Path, tuple[float, Any]], what: str) -> Any:
    try:
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise PricingError(f"{what} {path} cannot be read: {exc.strerror}") from exc
    hit = cache.get(path)
    if hit is not None and hit[0] == mtime:
        return hit[1]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PricingError(f"{what} {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise PricingError(f"{what} {path} must hold a JSON object")
    cache[path] = (mtime, data)
    return data


class PricingService:
    def __init__(self) -> None:
        self._files: dict[Path, tuple[float, Any]] = {}

    def rule(self, marketplace: str) -> PriceRule:
        settings = config.settings
        rules: dict[str, Any] = {}
        if settings.pricing_rules_file is not None:
            rules.update(_read_json(settings.pricing_rules_file, self._files, "pricing rules file"))
        rules.update(settings.pricing_rules)
        data = rules.get(marketplace)
        if data is None:
            return PriceRule()
        if not isinstance(data, dict):
            raise PricingError(f"pricing_rules.{marketplace} must be a JSON object")
        return PriceRule.parse(data, where=f"pricing_rules.{marketplace}")

    def rates(self) -> dict[str, Decimal]:
        settings = config.settings
        table: dict[str, Any] = {}
        if settings.currency_rates_file is not None:
            table.update(_read_json(settings.currency_rates_file, self._files, "rates file"))
        table.update(settings.currency_rates)
        return parse_rates(table, where="currency_rates")

    def quote(self, marketplace: str, price: Decimal, currency: str) -> PriceQuote:
        return quote(price, currency, self.rule(marketplace), self.rates())


pricing_service = PricingService()
