"""Prices per marketplace: currency conversion, markup, fixed fee, commission, rounding and a
minimum margin, in Decimal end to end. Pure: the operator's rules and rates come in as values.

A quote keeps every step it took (`steps`), so each published price can be traced to its rule.

    price = (cost x (1 + markup%) + fixed fee) / (1 - commission%), then rounded
    margin% = (price x (1 - commission%) - fixed fee - cost) / price x 100

`cost` is the product's price converted into the target currency. The commission is grossed up,
so after the marketplace takes its share the seller still has cost + markup + fee.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


class PricingError(ValueError):
    """A rule or a rates table that cannot be used (the message names the field)."""


def _decimal(value: Any, name: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise PricingError(f"{name}: {value!r} is not a number") from exc
    if not result.is_finite():
        raise PricingError(f"{name}: {value!r} is not a finite number")
    return result


@dataclass(frozen=True, slots=True)
class PriceRule:
    """One marketplace's pricing. `currency` None keeps the product's currency."""

    currency: str | None = None
    markup_percent: Decimal = Decimal(0)
    fixed_fee: Decimal = Decimal(0)  # in the target currency
    commission_percent: Decimal = Decimal(0)
    # "0.99": the smallest price ending in .99 at or above; "0.05": up to a multiple of 0.05;
    # None: to the cent, half up
    rounding: str | None = None
    min_margin_percent: Decimal | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any], *, where: str = "rule") -> PriceRule:
        known = {
            "currency",
            "markup_percent",
            "fixed_fee",
            "commission_percent",
            "rounding",
            "min_margin_percent",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise PricingError(f"{where}.{unknown[0]}: unknown field; use one of {sorted(known)}")
        currency = data.get("currency")
        if currency is not None and (not isinstance(currency, str) or len(currency) != 3):
            raise PricingError(f"{where}.currency: {currency!r} is not a 3-letter ISO 4217 code")
        commission = _decimal(data.get("commission_percent", 0), f"{where}.commission_percent")
        if not Decimal(0) <= commission < HUNDRED:
            raise PricingError(f"{where}.commission_percent must be at least 0 and below 100")
        rounding = data.get("rounding")
        if rounding is not None:
            step = _decimal(rounding, f"{where}.rounding")
            if not Decimal(0) < step < 1 and step != 1:
                raise PricingError(f"{where}.rounding must be between 0 and 1, e.g. 0.99 or 0.05")
        minimum = data.get("min_margin_percent")
        return cls(
            currency=currency.upper() if currency else None,
            markup_percent=_decimal(data.get("markup_percent", 0), f"{where}.markup_percent"),
            fixed_fee=_decimal(data.get("fixed_fee", 0), f"{where}.fixed_fee"),
            commission_percent=commission,
            rounding=str(rounding) if rounding is not None else None,
            min_margin_percent=(
                None if minimum is None else _decimal(minimum, f"{where}.min_margin_percent")
            ),
        )


def parse_rates(data: Mapping[str, Any], *, where: str = "rates") -> dict[str, Decimal]:
    """A rates table: each currency's value in one common unit (e.g. {"PLN": 1, "EUR": 4.31})."""
    rates: dict[str, Decimal] = {}
    for code, value in data.items():
        if not isinstance(code, str) or len(code) != 3:
            raise PricingError(f"{where}.{code}: not a 3-letter ISO 4217 code")
        rate = _decimal(value, f"{where}.{code}")
        if rate <= 0:
            raise PricingError(f"{where}.{code}: a rate must be positive")
        rates[code.upper()] = rate
    return rates


@dataclass(slots=True)
class PriceQuote:
    price: Decimal
    currency: str
    cost: Decimal  # the product's price in `currency`
    margin_percent: Decimal
    steps: list[str] = field(default_factory=list)
    held_back: str | None = None  # why this item must not be published at this price

    def as_dict(self) -> dict[str, Any]:
        return {
            "price": str(self.price),
            "currency": self.currency,
            "cost": str(self.cost),
            "margin_percent": str(self.margin_percent),
            "steps": list(self.steps),
            "held_back": self.held_back,
        }


def convert(amount: Decimal, source: str, target: str, rates: Mapping[str, Decimal]) -> Decimal:
    if source == target:
        return amount
    missing = [code for code in (source, target) if code not in rates]
    if missing:
        raise PricingError(
            f"no exchange rate for {' and '.join(missing)}: add it to the rates table "
            "(LISTINGFLOW_CURRENCY_RATES or LISTINGFLOW_CURRENCY_RATES_FILE)"
        )
    return amount * rates[source] / rates[target]


def _round(price: Decimal, rounding: str | None) -> Decimal:
    if rounding is None:
        return price.quantize(CENT, rounding=ROUND_HALF_UP)
    step = Decimal(rounding)
    if step in (Decimal("0.99"), Decimal("0.95"), Decimal("0.49")) or step > Decimal("0.5"):
        # a price ending: the smallest whole number + ending at or above the price
        whole = (price - step).to_integral_value(rounding=ROUND_CEILING)
        return (whole + step).quantize(CENT)
    return ((price / step).to_integral_value(rounding=ROUND_CEILING) * step).quantize(CENT)


def quote(
    price: Decimal, currency: str, rule: PriceRule, rates: Mapping[str, Decimal]
) -> PriceQuote:
    """The marketplace price for a product price under `rule`; raises PricingError when the
    rates table lacks a currency."""
    target = rule.currency or currency
    cost = convert(price, currency, target, rates)
    steps = [f"source {price} {currency}"]
    if target != currency:
        steps.append(f"converted at {rates[currency]}/{rates[target]}: {cost:.4f} {target}")
    value = cost * (1 + rule.markup_percent / HUNDRED)
    if rule.markup_percent:
        steps.append(f"markup {rule.markup_percent}%: {value:.4f}")
    if rule.fixed_fee:
        value += rule.fixed_fee
        steps.append(f"fixed fee {rule.fixed_fee}: {value:.4f}")
    if rule.commission_percent:
        value = value / (1 - rule.commission_percent / HUNDRED)
        steps.append(f"commission {rule.commission_percent}% grossed up: {value:.4f}")
    final = _round(value, rule.rounding)
    steps.append(f"rounded ({rule.rounding or 'to the cent'}): {final} {target}")
    net = final * (1 - rule.commission_percent / HUNDRED) - rule.fixed_fee
    margin = ((net - cost) / final * HUNDRED).quantize(CENT) if final > 0 else Decimal(0)
    held = None
    if final <= 0:
        held = f"the price comes to {final} {target}; a price must be positive"
    elif rule.min_margin_percent is not None and margin < rule.min_margin_percent:
        held = (
            f"margin {margin}% is below the minimum {rule.min_margin_percent}% "
            f"at {final} {target}; raise the markup or the product price"
        )
    return PriceQuote(
        price=final,
        currency=target,
        cost=cost.quantize(Decimal("0.0001")),
        margin_percent=margin,
        steps=steps,
        held_back=held,
    )
