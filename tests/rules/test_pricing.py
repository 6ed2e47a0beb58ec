"""Pricing rules: conversion, markup, fee, commission, rounding, minimum margin, all Decimal."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from listingflow.rules.pricing import PriceRule, PricingError, parse_rates, quote

RATES = parse_rates({"PLN": 1, "EUR": "4.30", "GBP": "5.00", "USD": "4.00"})


def test_the_same_currency_without_a_rule_keeps_the_price() -> None:
    result = quote(Decimal("19.99"), "PLN", PriceRule(), RATES)
    assert (result.price, result.currency, result.held_back) == (Decimal("19.99"), "PLN", None)


def test_conversion_markup_fee_commission_and_rounding_in_order() -> None:
    rule = PriceRule.parse(
        {
            "currency": "EUR",
            "markup_percent": 20,
            "fixed_fee": "1.00",
            "commission_percent": 15,
            "rounding": "0.99",
        }
    )
    result = quote(Decimal("430.00"), "PLN", rule, RATES)
    # 430 PLN = 100 EUR; +20% = 120; +1 = 121; / 0.85 = 142.35...; next .99 = 142.99
    assert result.price == Decimal("142.99")
    assert result.currency == "EUR"
    assert result.cost == Decimal("100.0000")
    assert len(result.steps) == 6
    # what is left after commission and fee, over the price
    net = Decimal("142.99") * Decimal("0.85") - 1
    expected = (net - 100) / Decimal("142.99") * 100
    assert result.margin_percent == expected.quantize(Decimal("0.01"))


def test_a_margin_below_the_minimum_holds_the_item_back_with_the_reason() -> None:
    rule = PriceRule.parse({"commission_percent": 15, "min_margin_percent": 10})
    result = quote(Decimal("50.00"), "PLN", rule, RATES)
    assert result.held_back is not None
    assert "below the minimum 10%" in result.held_back


def test_a_missing_rate_is_a_clear_error() -> None:
    with pytest.raises(PricingError, match="no exchange rate for CHF"):
        quote(Decimal(10), "CHF", PriceRule(currency="EUR"), RATES)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"currency": "EURO"}, "rule.currency"),
        ({"commission_percent": 100}, "rule.commission_percent"),
        ({"markup_percent": "lots"}, "rule.markup_percent"),
        ({"rounding": "2"}, "rule.rounding"),
        ({"discount": 5}, "rule.discount"),
    ],
)
def test_a_bad_rule_names_its_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(PricingError, match=field.replace(".", r"\.")):
        PriceRule.parse(data)


def test_a_bad_rate_names_its_currency() -> None:
    with pytest.raises(PricingError, match=r"rates\.EUR"):
        parse_rates({"EUR": 0})


prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(100_000), places=2)


@given(
    price=prices,
    markup=st.decimals(min_value=0, max_value=200, places=1),
    commission=st.decimals(min_value=0, max_value=50, places=1),
)
def test_a_99_ending_price_always_covers_cost_markup_and_commission(
    price: Decimal, markup: Decimal, commission: Decimal
) -> None:
    rule = PriceRule(
        currency="EUR", markup_percent=markup, commission_percent=commission, rounding="0.99"
    )
    result = quote(price, "PLN", rule, RATES)
    assert str(result.price).endswith(".99")
    kept = result.price * (1 - commission / 100)
    assert kept >= result.cost * (1 + markup / 100) - Decimal("0.0001")
    assert result.price - Decimal(1) < result.cost * (1 + markup / 100) / (1 - commission / 100)
