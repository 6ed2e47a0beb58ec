"""The deterministic limit repairs: examples, then properties over arbitrary text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from listingflow.integrations.llm.base import ListingLimits
from listingflow.integrations.llm.repair import (
    find_terms,
    fit_keywords,
    remove_terms,
    repair_listing,
    trim_at_word,
)


def test_trim_cuts_at_the_last_word_that_fits() -> None:
    text = "Sony WH-1000XM5 Wireless Noise Cancelling Headphones, Black"

    assert trim_at_word(text, 30) == "Sony WH-1000XM5 Wireless Noise"
    assert trim_at_word(text, 200) == text


def test_trim_drops_a_dangling_separator_and_cuts_one_long_word_hard() -> None:
    assert trim_at_word("Headphones - Black edition", 13) == "Headphones"
    assert trim_at_word("Supercalifragilistic", 5) == "Super"


def test_banned_terms_go_as_whole_words_in_any_case() -> None:
    text, found = remove_terms("The BEST headphones, best price. Bestseller!", ["best"])

    assert text == "The headphones, price. Bestseller!"
    assert found == ["best"]


def test_banned_phrases_match_across_any_whitespace() -> None:
    text, found = remove_terms("Headphones with free\u00a0 shipping today", ["free shipping"])

    assert (text, found) == ("Headphones with today", ["free shipping"])


def test_keywords_are_deduplicated_and_kept_while_they_fit_the_bytes() -> None:
    kept, notes = fit_keywords(["słuchawki", "Słuchawki", "bezprzewodowe", "anc"], max_bytes=25)

    assert kept == ["słuchawki", "bezprzewodowe"]  # 10 + 1 + 13 bytes; "anc" would make 28
    assert notes == ["keywords: dropped 1 to fit 25 bytes (24 bytes kept)"]


def test_repair_reports_every_change_in_words() -> None:
    limits = ListingLimits(title_max=30, bullets_max=1, bullet_max_chars=10, banned_terms=("best",))

    result = repair_listing(
        title="Best wireless headphones for travel and office",
        description="Comfortable.",
        bullets=["Light weight design", "Black"],
        keywords=[],
        limits=limits,
    )

    assert result.title == "wireless headphones for travel"
    assert result.bullets == ["Light"]
    assert result.repaired == [
        "title: removed the banned term 'best'",
        "title: shortened from 46 to 30 characters (limit 30)",
        "bullets[0]: shortened from 19 to 5 characters (limit 10)",
        "bullets: kept 1 of 2 (limit 1)",
    ]


def test_a_title_of_banned_words_only_falls_back_to_the_source_title() -> None:
    limits = ListingLimits(title_max=20, banned_terms=("best", "cheapest"))

    result = repair_listing(
        title="Best cheapest",
        description="",
        bullets=[],
        keywords=[],
        limits=limits,
        fallback_title="Sony headphones WH-1000XM5",
    )

    assert result.title == "Sony headphones"


words = st.one_of(
    st.sampled_from(["best", "Best", "cheapest", "new", "free shipping", "-", "|", ",", "ñandú"]),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=15),
)
texts = st.lists(words, max_size=40).map(" ".join)
limit_sets = st.builds(
    ListingLimits,
    title_max=st.integers(1, 120),
    bullets_max=st.integers(0, 6),
    bullet_max_chars=st.integers(1, 80),
    search_terms_max_bytes=st.integers(0, 120),
    banned_terms=st.lists(st.sampled_from(["best", "cheapest", "new", "free shipping"])).map(tuple),
    description_max=st.one_of(st.none(), st.integers(1, 200)),
    keywords_max=st.one_of(st.none(), st.integers(0, 10)),
    keyword_max_chars=st.one_of(st.none(), st.integers(1, 20)),
)


@settings(max_examples=300, deadline=None)
@given(
    title=texts,
    description=texts,
    bullets=st.lists(texts, max_size=8),
    keywords=st.lists(texts, max_size=15),
    limits=limit_sets,
)
def test_repaired_listings_always_fit_their_limits(
    title: str,
    description: str,
    bullets: list[str],
    keywords: list[str],
    limits: ListingLimits,
) -> None:
    result = repair_listing(
        title=title, description=description, bullets=bullets, keywords=keywords, limits=limits
    )

    assert len(result.title) <= limits.title_max
    if limits.description_max is not None:
        assert len(result.description) <= limits.description_max
    assert len(result.bullets) <= limits.bullets_max
    assert all(0 < len(b) <= limits.bullet_max_chars for b in result.bullets)
    assert len(" ".join(result.keywords).encode()) <= limits.search_terms_max_bytes
    if limits.keywords_max is not None:
        assert len(result.keywords) <= limits.keywords_max
    every = [result.title, result.description, *result.bullets, *result.keywords]
    assert all(find_terms(text, limits.banned_terms) == [] for text in every)


@settings(max_examples=200, deadline=None)
@given(
    title=texts, bullets=st.lists(texts, max_size=8), keywords=st.lists(texts), limits=limit_sets
)
def test_repair_is_idempotent(
    title: str, bullets: list[str], keywords: list[str], limits: ListingLimits
) -> None:
    once = repair_listing(
        title=title, description=title, bullets=bullets, keywords=keywords, limits=limits
    )
    twice = repair_listing(
        title=once.title,
        description=once.description,
        bullets=once.bullets,
        keywords=once.keywords,
        limits=limits,
    )

    assert (twice.title, twice.description, twice.bullets, twice.keywords) == (
        once.title,
        once.description,
        once.bullets,
        once.keywords,
    )
    assert twice.repaired == []
