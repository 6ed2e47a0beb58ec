"""Property tests: for any product, the offline output is within every hard limit, clean,
deterministic and invents nothing, on each marketplace that has an offline optimizer."""

from __future__ import annotations

from html.parser import HTMLParser

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.rules.support import OPTIMIZED_MARKETPLACES, invented_words

from listingflow.rules.attributes import value_text
from listingflow.rules.optimizer import optimize_offline
from listingflow.rules.rulebooks import get_rulebook
from listingflow.rules.scoring import score
from listingflow.rules.terms import TermKind
from listingflow.rules.text import core_of, find_terms, fold, is_odd_symbol
from listingflow.rules.types import Listing, Severity, SourceProduct
from listingflow.rules.validation import MISSING_DATA_CODES, brand_word_folds, validate

# Words sellers really write, including the ones the rules exist for.
SAMPLES = [
    "Kompresor",
    "samochodowy",
    "Xiaomi",
    "czarny",
    "Słuchawki",
    "bezprzewodowe",
    "Kopfhörer",
    "kabellose",
    "Wireless",
    "Headphones",
    "Over-Ear",
    "WH-1000XM4",
    "S7887/55",
    "20kg",
    "1,7",
    "HIT",
    "CENOWY",
    "PROMOCJA",
    "okazja",
    "NAJTANIEJ",
    "gratis",
    "WYPRZEDAŻ",
    "darmowa",
    "dostawa",
    "wysyłka",
    "24H",
    "Angebot",
    "günstig",
    "kostenloser",
    "Versand",
    "NEU",
    "OVP",
    "beste",
    "best",
    "cheapest",
    "free",
    "shipping",
    "sale",
    "new",
    "NEW",
    "bestseller",
    "#1",
    "FREE",
    "SHIPPING!!!",
    "L@@K",
    "!!!",
    "$",
    "?",
    "_",
    "{",
    "}",
    "^",
    "¬",
    "¦",
    "™",
    "®",
    "©",
    "€",
    "🔥",
    "😀",
    "★",
    "✓",
    "👍🏽",
    "-",
    "\u2013",
    "&",
    ",",
    "(",
    ")",
    "&amp;",
    "&#65;",
    "N/A",
    "TBD",
    "<b>",
    "</b>",
    "<script>alert(1)</script>",
    "Geschenk",
    "für",
    "Männer,",
    "Büro,",
]
word = st.one_of(
    st.sampled_from(SAMPLES),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=12),
    st.sampled_from(SAMPLES).map(str.upper),
)
words = st.lists(word, max_size=30).map(" ".join)
huge = st.text(st.characters(codec="utf-8"), min_size=200, max_size=600)
title = st.one_of(words, huge, words.map(lambda w: (w + " ") * 8))
html_description = st.lists(
    st.one_of(
        words.map(lambda w: f"<p>{w}</p>"),
        st.lists(words, max_size=5).map(
            lambda items: "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"
        ),
        st.sampled_from(
            [
                "<script>document.cookie</script>",
                '<img src=x onerror="alert(1)">',
                "<iframe src=//x></iframe>",
                "<style>p{}</style>",
                "<h2>Najważniejsze cechy:</h2>",
                "<br>",
                "<!-- c -->",
                "<a href='javascript:x'>x</a>",
            ]
        ),
        words,
    ),
    max_size=8,
).map("".join)
description = st.one_of(
    st.none(),
    st.just(""),
    st.just(" "),
    words,
    html_description,
    st.text(st.characters(codec="utf-8"), max_size=3000),
    st.lists(words, max_size=12).map(". ".join),
)
scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True),
    words,
    st.sampled_from(
        ["N/A", "black", "czarny", "Schwarz", "4006923716147", "free shipping", "100% bawełna"]
    ),
)
attributes = st.dictionaries(
    st.one_of(
        st.sampled_from(
            ["color", "Colour", "kolor", "size", "material", "ean", "capacity", "gtin", "model"]
        ),
        word,
    ),
    st.one_of(scalar, st.lists(scalar, max_size=3), st.dictionaries(word, scalar, max_size=2)),
    max_size=8,
)
product = st.builds(
    SourceProduct,
    title=title,
    description=description,
    category=st.one_of(st.none(), st.lists(words, min_size=1, max_size=4).map(" > ".join)),
    brand=st.one_of(
        st.none(),
        st.sampled_from(["Xiaomi", "adidas", "New Balance", "Hit", "SONY", "De'Longhi", "Yahoo!"]),
        word,
    ),
    images=st.lists(st.one_of(st.just("https://img.example/a.jpg"), word), max_size=30).map(tuple),
    attributes=attributes,
    language=st.one_of(st.none(), st.sampled_from(["pl", "de", "en"])),
)
BANNED_EVERYWHERE = (TermKind.PROMOTIONAL, TermKind.SUBJECTIVE, TermKind.SELLER_INFO)


def _banned(text: str, exempt: frozenset[str]) -> list[str]:
    parts = text.split()
    hits = find_terms(parts, [fold(core_of(p)) for p in parts], exempt)
    return [h.phrase for h in hits if h.kind in BANNED_EVERYWHERE]


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.bad: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "style", "object", "embed"):
            self.bad.append(tag)
        self.bad += [name for name, _ in attrs]  # we write no attributes at all


def _check(listing: Listing, source: SourceProduct, marketplace: str) -> None:
    book = get_rulebook(marketplace)
    brand = brand_word_folds(value_text(source.brand))  # "TBD" or "N/A" is no brand
    assert len(listing.title) <= book.title_max
    assert len(listing.bullets) <= book.bullets_max
    for bullet in listing.bullets:
        assert len(bullet) <= (book.bullet_max_length or 0)
        assert not [ch for ch in bullet if ch in book.bullet_forbidden_chars or is_odd_symbol(ch)]
        assert not _banned(bullet, brand), bullet
    assert len(" ".join(listing.keywords).encode()) <= (book.search_terms_max_bytes or 0)
    assert not {fold(k) for k in listing.keywords} & brand
    if book.description_max:
        assert len(listing.description) <= book.description_max
    assert not [ch for ch in listing.title if ch in book.title_forbidden_chars]
    assert not [ch for ch in listing.title if is_odd_symbol(ch)]
    assert not _banned(listing.title, brand), listing.title
    parser = _Markup()
    parser.feed(listing.description)
    assert not parser.bad, listing.description
    if book.description_format == "plain":
        assert "<" not in listing.description
    assert not invented_words(listing, source)
    errors = [i for i in validate(listing, marketplace) if i.severity is Severity.ERROR]
    assert {i.code for i in errors} <= MISSING_DATA_CODES, errors


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=product)
def test_offline_output_stays_within_the_rules_and_the_facts(source: SourceProduct) -> None:
    for marketplace in OPTIMIZED_MARKETPLACES:
        listing = optimize_offline(source, marketplace)
        _check(listing, source, marketplace)
        assert optimize_offline(source, marketplace) == listing  # deterministic


any_listing = st.builds(
    Listing,
    marketplace=st.just("x"),
    title=title,
    description=description.map(lambda d: d or ""),
    bullets=st.lists(words, max_size=7),
    keywords=st.lists(word, max_size=20),
    attributes=attributes,
    images=st.lists(word, max_size=12),
    language=st.one_of(st.none(), st.sampled_from(["pl", "de", "en", "fr"])),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(listing=any_listing)
def test_any_listing_validates_and_scores_on_every_marketplace(listing: Listing) -> None:
    for marketplace in ("amazon", "ebay", "allegro", "kaufland", "etsy", "shopify", "ebay.de"):
        issues = validate(listing, marketplace)
        assert all(issue.message.endswith(".") for issue in issues)
        result = score(listing, marketplace, issues=issues)
        assert 0 <= result.total <= 100
