"""Rulebooks: the reference limits, overrides for unverified values, category requirements,
and the marketplace registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from listingflow.rules.marketplaces import (
    MARKETPLACES,
    UnknownMarketplaceError,
    marketplace_language,
    resolve,
)
from listingflow.rules.rulebooks import (
    RULEBOOKS,
    category_required_attributes,
    get_rulebook,
    load_category_requirements,
)
from listingflow.rules.types import Severity


@pytest.mark.parametrize(
    ("marketplace", "title_max"),
    [
        ("amazon", 200),
        ("ebay", 80),
        ("allegro", 75),
        ("kaufland", 80),
        ("etsy", 140),
        ("shopify", 255),
    ],
)
def test_title_limits_follow_the_reference(marketplace: str, title_max: int) -> None:
    assert get_rulebook(marketplace).title_max == title_max


def test_amazon_rulebook_holds_bullet_search_term_and_image_limits() -> None:
    book = get_rulebook("amazon")
    assert (book.bullets_max, book.bullet_max_length, book.bullet_recommended_length) == (
        5,
        500,
        250,
    )
    assert book.search_terms_max_bytes == 249
    assert book.title_max_word_repeats == 2
    assert set("!$?_{}^¬¦") == book.title_forbidden_chars
    assert {"™", "®", "©", "€"} <= book.bullet_forbidden_chars
    assert book.description_format == "plain" and book.description_max == 2000
    assert (book.images_max, book.min_image_px) == (9, 500)


def test_kaufland_treats_80_as_the_cap_and_under_50_as_short() -> None:
    book = get_rulebook("kaufland")
    assert (book.title_recommended_min, book.title_max) == (50, 80)
    assert book.shouting is Severity.ERROR
    assert book.requires_gtin and book.requires_brand and book.description_required


def test_tag_limits_for_etsy_and_shopify() -> None:
    assert (get_rulebook("etsy").tags_max, get_rulebook("etsy").tag_max_length) == (13, 20)
    assert (get_rulebook("shopify").tags_max, get_rulebook("shopify").tag_max_length) == (250, 255)


def test_image_counts_per_marketplace() -> None:
    maxima = {m: RULEBOOKS[m].images_max for m in RULEBOOKS}
    assert maxima == {
        "amazon": 9,
        "ebay": 24,
        "allegro": 16,
        "kaufland": None,
        "etsy": 10,
        "shopify": 250,
    }
    assert RULEBOOKS["ebay"].images_min == RULEBOOKS["kaufland"].images_min == 1


def test_unverified_values_are_marked() -> None:
    assert "description_max" in get_rulebook("ebay").unverified
    assert "title_max" in get_rulebook("allegro").unverified
    assert "description_max" in get_rulebook("kaufland").unverified


def test_overrides_replace_fields_and_keep_the_default_untouched() -> None:
    book = get_rulebook("allegro", {"title_max": 70, "description_max": 40_000})
    assert (book.title_max, book.description_max) == (70, 40_000)
    assert get_rulebook("allegro").title_max == 75


def test_overrides_from_json_settings_are_coerced() -> None:
    book = get_rulebook(
        "kaufland",
        {"required_attributes": ["voltage"], "title_forbidden_chars": ["#"], "shouting": "warning"},
    )
    assert book.required_attributes == ("voltage",)
    assert book.title_forbidden_chars == frozenset("#")
    assert book.shouting is Severity.WARNING


def test_unknown_override_field_is_refused() -> None:
    with pytest.raises(ValueError, match="title_maximum"):
        get_rulebook("ebay", {"title_maximum": 90})


def test_a_regional_site_uses_its_marketplace_rulebook() -> None:
    assert get_rulebook("amazon.de") is RULEBOOKS["amazon"]
    assert get_rulebook("ebay.co.uk") is RULEBOOKS["ebay"]


def test_unknown_marketplace_is_refused() -> None:
    with pytest.raises(UnknownMarketplaceError, match="wish"):
        get_rulebook("wish")


def test_category_requirements_load_from_json(tmp_path: Path) -> None:
    path = tmp_path / "requirements.json"
    path.write_text(
        json.dumps({"allegro": {"Elektronika > Audio > Słuchawki": ["typ", "łączność"]}}),
        encoding="utf-8",
    )
    requirements = load_category_requirements(path)
    assert requirements == {"allegro": {"Elektronika > Audio > Słuchawki": ["typ", "łączność"]}}
    assert category_required_attributes(
        requirements, "allegro", "Elektronika > Audio > Słuchawki"
    ) == ["typ", "łączność"]
    assert category_required_attributes(requirements, "allegro", "Dom > Kuchnia") == []
    assert category_required_attributes(requirements, "ebay", "Anything") == []


def test_category_requirements_match_a_leaf_name(tmp_path: Path) -> None:
    path = tmp_path / "requirements.json"
    path.write_text(json.dumps({"ebay": {"Headphones": ["Connectivity"]}}), encoding="utf-8")
    requirements = load_category_requirements(path)
    assert category_required_attributes(requirements, "ebay.de", "Audio > Headphones") == [
        "Connectivity"
    ]


@pytest.mark.parametrize(
    "content",
    ['["allegro"]', '{"wish": {}}', '{"ebay": ["x"]}', '{"ebay": {"Cat": "brand"}}'],
)
def test_malformed_category_requirements_are_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "requirements.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError):
        load_category_requirements(path)


def test_registry_lists_every_marketplace_with_regions() -> None:
    assert set(MARKETPLACES) == {"amazon", "ebay", "allegro", "kaufland", "etsy", "shopify"}
    amazon = MARKETPLACES["amazon"]
    assert amazon.name == "Amazon"
    assert {"us", "de", "uk", "pl"} <= {region.code for region in amazon.regions}
    assert {"en", "de", "pl"} <= set(amazon.languages)
    assert not MARKETPLACES["etsy"].has_offline_optimizer


@pytest.mark.parametrize(
    ("site", "language"),
    [
        ("amazon", "en"),
        ("amazon.com", "en"),
        ("amazon.de", "de"),
        ("amazon.co.uk", "en"),
        ("ebay", "en"),
        ("ebay.de", "de"),
        ("allegro", "pl"),
        ("kaufland", "de"),
        ("kaufland.pl", "pl"),
    ],
)
def test_default_language_follows_the_site(site: str, language: str) -> None:
    assert marketplace_language(site) == language


def test_resolve_names_marketplace_and_region() -> None:
    marketplace, region = resolve("ebay.de")
    assert (marketplace.id, region.code, region.currency) == ("ebay", "de", "EUR")
