"""The invented-facts guard: what the source backs stays, what it does not is removed and named."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from listingflow.integrations.llm.guard import (
    SourceFacts,
    guard_listing,
    invented,
    number_values,
)
from listingflow.rules.types import SourceProduct

SOURCE = SourceProduct(
    title="Sony WH-1000XM5 Wireless Headphones",
    description="Up to 30 h of battery life. Bluetooth 5,2 with LDAC. 3 min charge: 3 hours.",
    brand="Sony",
    price=Decimal("349.00"),
    currency="EUR",
    attributes={"frequency": "2,4 GHz", "battery": "5 000 mAh", "size": "10x20 cm", "weight": 250},
)
FACTS = SourceFacts.from_product(SOURCE)


@pytest.mark.parametrize(
    "text",
    [
        "30 h battery",
        "30h battery",
        "30-hour battery",
        "2.4 GHz",
        "2,4GHz",
        "Bluetooth 5.2",
        "5000 mAh",
        "5,000 mAh",
        "5.000 mAh",
        "10 x 20 cm",
        "10\u00d720 cm",
        "250 g",  # a number the source gives without a unit allows a unit
        "Sony WH1000XM5",
        "wh-1000xm5",
        "LDAC and Sony",
        "349,00 EUR",
        "30 godz.",  # translated unit
    ],
)
def test_facts_backed_by_the_source_pass(text: str) -> None:
    assert invented(text, FACTS) == []


@pytest.mark.parametrize(
    ("text", "fact"),
    [
        ("40 h battery", "40 h"),
        ("30 W charger", "30 W"),  # the source's 30 is hours
        ("5.1 GHz", "5.1 GHz"),
        ("Bluetooth 5.3", "5.3"),
        ("10%", "10%"),
        ("WH-1000XM6 successor", "WH-1000XM6"),
        ("with ANC", "ANC"),
        ("MagSafe ready", "MagSafe"),
        ("10x30 cm", "10x30 cm"),
    ],
)
def test_facts_the_source_lacks_are_found(text: str, fact: str) -> None:
    assert [f.text for f in invented(text, FACTS)] == [fact]


def test_number_values_read_every_decimal_convention() -> None:
    assert number_values("2,4") == {"2.4"}
    assert number_values("5,000") == {"5000", "5"}
    assert number_values("1.234,50") == {"1234.5"}
    assert number_values("1,234,567") == {"1234567"}


def test_invented_facts_are_removed_per_field_and_listed_once() -> None:
    result = guard_listing(
        title="Sony WH-1000XM5 12 h Headphones",
        description="Great sound. A 6000 mAh battery lasts 40 h. Light.",
        bullets=["Battery: 6000 mAh", "Playback: 30 h", "Bluetooth 5.2 with LDAC"],
        keywords=["sony", "wh-1000xm6", "headphones"],
        source=FACTS,
    )

    assert result.title == "Sony WH-1000XM5 Headphones"
    assert result.description == "Great sound. Light."
    assert result.bullets == ["Playback: 30 h", "Bluetooth 5.2 with LDAC"]
    assert result.keywords == ["sony", "headphones"]
    assert result.flagged == ["12 h", "6000 mAh", "40 h", "wh-1000xm6"]


def test_untouched_text_is_returned_as_it_was() -> None:
    text = "Prix : 349,00 EUR ; 30 h  d'autonomie."

    result = guard_listing(title=text, description=text, bullets=[text], keywords=[], source=FACTS)

    assert (result.title, result.description, result.bullets) == (text, text, [text])


source_words = st.one_of(
    st.from_regex(r"[0-9]{1,5}([.,][0-9]{1,3})?", fullmatch=True),
    st.sampled_from(["mAh", "h", "GHz", "%", "cm", "x", "-", "WH-1000XM5", "ANC", "iPhone", "5G"]),
    st.text(st.characters(blacklist_categories=("Cs", "Cc", "Z")), min_size=1, max_size=10),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(source_words, min_size=1, max_size=25).map(" ".join))
def test_the_source_text_itself_is_never_flagged(text: str) -> None:
    product = SourceProduct(title=text, description=text)

    result = guard_listing(
        title=text,
        description=text,
        bullets=[text],
        keywords=text.split(),
        source=SourceFacts.from_product(product),
    )

    assert result.flagged == []
