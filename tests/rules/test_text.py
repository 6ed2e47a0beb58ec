"""Text and markup primitives the rules are built on."""

from __future__ import annotations

from listingflow.rules.attributes import label_for, valid_gtin
from listingflow.rules.markup import Block, sanitize, to_blocks
from listingflow.rules.terms import TermKind
from listingflow.rules.text import (
    clean_chars,
    core_of,
    cut_text,
    detect_language,
    find_terms,
    fold,
    recase,
    split_sentences,
)


def _kinds(text: str) -> list[tuple[str, TermKind]]:
    words = text.split()
    return [(h.phrase, h.kind) for h in find_terms(words, [fold(core_of(w)) for w in words])]


def test_fold_ignores_case_and_polish_german_diacritics() -> None:
    assert fold("WYSYŁKA") == fold("wysylka") == "wysylka"
    assert fold("Günstig") == "gunstig"


def test_core_drops_surrounding_punctuation_but_keeps_meaningful_edges() -> None:
    assert core_of("(Paperback),") == "Paperback"
    assert core_of("#1") == "#1"
    assert core_of("100%") == "100%"
    assert core_of("Duetto+") == "Duetto+"


def test_terms_are_found_across_languages_and_as_phrases() -> None:
    assert _kinds("HIT CENOWY!!! Golarka") == [("HIT CENOWY!!!", TermKind.PROMOTIONAL)]
    assert _kinds("mit kostenloser Versand") == [("kostenloser Versand", TermKind.PROMOTIONAL)]
    assert _kinds("Neu & OVP") == [("Neu & OVP", TermKind.TIME_BOUND)]
    assert _kinds("najlepszy wąż") == [("najlepszy", TermKind.SUBJECTIVE)]
    assert _kinds("Wysyłka 24h") == [("Wysyłka", TermKind.SELLER_INFO)]


def test_phrases_do_not_run_across_punctuation() -> None:
    assert _kinds("low. Price") == []
    assert _kinds("low price") == [("low price", TermKind.PROMOTIONAL)]


def test_removed_characters_leave_a_space() -> None:
    assert clean_chars("Bolt™receiver", frozenset("™"), symbols=False) == "Bolt receiver"
    assert clean_chars("Hose 🔥 20 m\x00", symbols=True) == "Hose   20 m "
    assert clean_chars("Obrót 360°", symbols=True) == "Obrót 360°"


def test_recase_keeps_letters_and_length_safe() -> None:
    assert recase("KOPFHÖRER", "title") == "Kopfhörer"
    assert recase("OVER-EAR", "title") == "Over-Ear"
    assert recase("BIAŁA", "lower") == "biała"


def test_cut_text_ends_on_a_whole_word_without_dangling_connectors() -> None:
    assert cut_text("Dumbbell set with case and", 22) == "Dumbbell set with case"
    assert cut_text("Atomic Habits (Paperback edition)", 28) == "Atomic Habits Paperback"


def test_sentences_split_only_before_a_capital() -> None:
    assert split_sentences("Buty rozm. 36 białe. Wkładka OrthoLite. 4 os. grafitowy") == [
        "Buty rozm. 36 białe.",
        "Wkładka OrthoLite. 4 os. grafitowy",
    ]


def test_language_guess() -> None:
    assert detect_language(["Buty damskie skórzane z wkładką dla kobiet"]) == "pl"
    assert detect_language(["Kopfhörer mit Geräuschunterdrückung für die Reise"]) == "de"
    assert detect_language(["Headphones with noise cancelling for the travel"]) == "en"
    assert detect_language(["WH-1000XM4"]) is None


def test_html_becomes_blocks_without_scripts_or_comments() -> None:
    source = (
        "<h2>Title</h2><p>First &amp; second<br>line</p><!-- hidden --><script>x()</script>"
        "<ul><li>one</li><li onclick='y()'>two</li></ul><style>p{}</style>"
    )
    assert to_blocks(source) == [
        Block("heading", "Title"),
        Block("paragraph", "First & second"),
        Block("paragraph", "line"),
        Block("item", "one"),
        Block("item", "two"),
    ]


def test_plain_text_lines_starting_with_a_dash_are_items() -> None:
    assert to_blocks("Intro\n- one\n• two") == [
        Block("paragraph", "Intro"),
        Block("item", "one"),
        Block("item", "two"),
    ]


def test_sanitize_keeps_only_the_allow_list() -> None:
    html = '<p class="x" onclick="y()">a<font>b</font><script>c</script></p><iframe>d</iframe>'
    assert sanitize(html, frozenset({"p"})) == "<p>ab</p>"


def test_gtin_check_digits() -> None:
    assert valid_gtin("4006923716147")
    assert not valid_gtin("4006923716148")
    assert valid_gtin("036000291452")  # UPC-A
    assert valid_gtin("0-306-40615-2")  # ISBN-10
    assert not valid_gtin("12345")


def test_labels_follow_the_listing_language() -> None:
    assert label_for("colour", "pl") == "Kolor"
    assert label_for("Farbe", "en") == "Color"
    assert label_for("pattern_name", "de") == "Pattern name"
