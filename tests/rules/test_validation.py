"""Validation: one test per rule, with the message a seller reads."""

from __future__ import annotations

from typing import Any

from listingflow.rules.rulebooks import get_rulebook
from listingflow.rules.types import Issue, Listing, Severity
from listingflow.rules.validation import has_errors, validate

GOOD_EAN = "4006923716147"
IMAGE = "https://img.example/1.jpg"


def listing(marketplace: str = "amazon", **fields: Any) -> Listing:
    """A listing that passes every rule of every marketplace; tests change one thing."""
    values: dict[str, Any] = {
        "title": "Gardena Comfort Flex Garden Hose 1/2 inch 20 m, Green, for watering gardens",
        "description": "Kink-resistant Power-Grip profile.\nUV resistant, 25 bar burst pressure.",
        "bullets": [
            "Kink-resistant Power-Grip profile for a firm hold",
            "UV resistant material for long outdoor use",
        ],
        "keywords": ["pvc", "irrigation", "kink"] if marketplace == "amazon" else [],
        "attributes": {
            "brand": "Gardena",
            "ean": GOOD_EAN,
            "category": "Garden > Hoses",
            "condition": "New",
        },
        "images": [IMAGE],
        "language": "en",
    }
    if marketplace != "amazon":
        values["bullets"] = []
    values.update(fields)
    return Listing(marketplace=marketplace, **values)


def codes(issues: list[Issue]) -> set[str]:
    return {issue.code for issue in issues}


def find(issues: list[Issue], code: str) -> Issue:
    return next(issue for issue in issues if issue.code == code)


def test_the_baseline_listing_passes_on_amazon_ebay_allegro() -> None:
    for marketplace in ("amazon", "ebay", "allegro"):
        language = "pl" if marketplace == "allegro" else "en"
        assert validate(listing(marketplace, language=language), marketplace) == []


# --- title -------------------------------------------------------------------------------


def test_title_over_the_limit_is_an_error() -> None:
    issue = find(validate(listing("ebay", title="x" * 93), "ebay"), "title.too_long")
    assert issue.severity is Severity.ERROR
    assert issue.message == "Title is 93 characters; eBay allows 80."


def test_empty_title_is_an_error() -> None:
    assert (
        find(validate(listing(title="  "), "amazon"), "title.missing").message == "Title is empty."
    )


def test_amazon_title_over_80_is_a_readability_warning() -> None:
    issue = find(validate(listing(title="Gardena " + "garden hose " * 9), "amazon"), "title.long")
    assert issue.severity is Severity.WARNING


def test_kaufland_title_under_50_is_a_warning() -> None:
    issue = find(
        validate(listing("kaufland", title="Gardena Garden Hose 20 m"), "kaufland"), "title.short"
    )
    assert issue.severity is Severity.WARNING
    assert issue.message == "Title is 24 characters; Kaufland recommends 50 to 80."


def test_amazon_forbidden_title_character() -> None:
    issue = find(validate(listing(title="Gardena Garden Hose!"), "amazon"), "title.forbidden_char")
    assert issue.severity is Severity.ERROR
    assert issue.message == "Title contains '!', which Amazon does not allow in titles."


def test_etsy_forbidden_title_characters() -> None:
    issues = validate(listing("etsy", title="Mug $15 ^_^"), "etsy")
    assert {i.message for i in issues if i.code == "title.forbidden_char"} == {
        "Title contains '$', which Etsy does not allow in titles.",
        "Title contains '^', which Etsy does not allow in titles.",
    }


def test_amazon_restricted_character_is_fine_inside_an_identifier() -> None:
    assert "title.restricted_char" not in codes(
        validate(listing(title="Gardena Hose #18000"), "amazon")
    )
    issue = find(validate(listing(title="Gardena *Hose*"), "amazon"), "title.restricted_char")
    assert issue.severity is Severity.WARNING


def test_amazon_word_repeated_three_times_is_an_error() -> None:
    title = "Sony Wireless Headphones, Wireless Charging Case, Wireless Adapter"
    issue = find(validate(listing(title=title), "amazon"), "title.repeated_word")
    assert issue.severity is Severity.ERROR
    assert issue.message == "Title repeats 'wireless' 3 times; Amazon allows a word twice."


def test_repetition_rule_spares_prepositions_and_articles() -> None:
    title = "Case for iPhone for Kids for School with Strap with Clip with Hook"
    assert "title.repeated_word" not in codes(validate(listing(title=title), "amazon"))


def test_promotional_title_is_an_error_on_amazon_and_a_warning_on_ebay() -> None:
    amazon = find(
        validate(listing(title="Gardena Hose FREE SHIPPING"), "amazon"), "title.promotional"
    )
    assert amazon.severity is Severity.ERROR
    assert amazon.message == (
        "Title contains 'FREE SHIPPING'; Amazon does not allow promotional words in titles."
    )
    ebay = find(
        validate(listing("ebay", title="Gardena Hose best price"), "ebay"), "title.promotional"
    )
    assert ebay.severity is Severity.WARNING


def test_polish_and_german_promotional_terms_are_found() -> None:
    for title in ("Wąż ogrodowy WYPRZEDAŻ", "Gartenschlauch kostenloser Versand", "Wąż tanio"):
        assert "title.promotional" in codes(validate(listing("allegro", title=title), "allegro"))


def test_brand_words_are_never_promotional() -> None:
    title = "Best Choice Products Garden Hose 20 m green"
    attributes = {"brand": "Best Choice Products", "category": "Garden"}
    issues = validate(listing("allegro", title=title, attributes=attributes), "allegro")
    assert "title.promotional" not in codes(issues)


def test_condition_advertising_is_an_error_on_kaufland() -> None:
    issue = find(
        validate(
            listing("kaufland", title="NEU Gardena Gartenschlauch 20 m grün für den Garten"),
            "kaufland",
        ),
        "title.time_bound",
    )
    assert issue.severity is Severity.ERROR


def test_seller_details_in_an_allegro_title_are_an_error() -> None:
    issue = find(
        validate(listing("allegro", title="Wąż ogrodowy Gardena WYSYŁKA 24H"), "allegro"),
        "title.seller_info",
    )
    assert issue.severity is Severity.ERROR
    assert "WYSYŁKA" in issue.message


def test_shouting_is_an_error_on_kaufland_and_a_warning_elsewhere() -> None:
    title = "Gardena GARTENSCHLAUCH Comfort Flex 20 m grün für Garten und Balkon"
    kaufland = find(validate(listing("kaufland", title=title), "kaufland"), "title.shouting")
    assert kaufland.severity is Severity.ERROR
    assert kaufland.message == (
        "Title has ALL CAPS words ('GARTENSCHLAUCH'); Kaufland allows capitals only for brands."
    )
    ebay = find(validate(listing("ebay", title=title), "ebay"), "title.shouting")
    assert ebay.severity is Severity.WARNING


def test_shouting_spares_the_brand_identifiers_and_short_acronyms() -> None:
    title = "GARDENA Hose TWK3A011 LED USB 20 m green for garden and balcony, 25 bar"
    attributes = {"brand": "GARDENA", "ean": GOOD_EAN}
    assert "title.shouting" not in codes(
        validate(listing("kaufland", title=title, attributes=attributes), "kaufland")
    )


def test_capitals_the_description_also_uses_are_names_not_shouting() -> None:
    title = "Samsung Galaxy A54 Smartphone with Super AMOLED display, 128 GB, black"
    description = "Super AMOLED display with 120 Hz. Camera with 50 megapixels and OIS."
    issues = validate(listing("kaufland", title=title, description=description), "kaufland")
    assert "title.shouting" not in codes(issues)


def test_emoji_in_a_kaufland_title_is_an_error() -> None:
    issue = find(
        validate(
            listing(
                "kaufland", title="Gardena Gartenschlauch 🔥 Comfort Flex 20 m grün für den Garten"
            ),
            "kaufland",
        ),
        "title.symbol",
    )
    assert issue.severity is Severity.ERROR
    assert issue.message == (
        "Title contains '🔥'; Kaufland does not allow emojis and symbols in titles."
    )


def test_etsy_allows_some_characters_once() -> None:
    issue = find(validate(listing("etsy", title="Mug: blue: large"), "etsy"), "title.repeated_char")
    assert issue.message == "Title uses ':' 2 times; Etsy allows it once."


# --- bullets -----------------------------------------------------------------------------


def test_banned_character_in_an_amazon_bullet() -> None:
    bullets = ["Soft ear cushions", "Long battery", "Bluetooth™ 5.0 connection"]
    issue = find(validate(listing(bullets=bullets), "amazon"), "bullet.forbidden_char")
    assert issue.field == "bullets[2]"
    assert issue.message == "Bullet 3 contains '™', which Amazon does not allow in bullets."


def test_emoji_in_an_amazon_bullet_is_an_error() -> None:
    issue = find(validate(listing(bullets=["Great sound 🎧"]), "amazon"), "bullet.forbidden_char")
    assert issue.severity is Severity.ERROR


def test_more_than_five_bullets_is_an_error() -> None:
    issue = find(
        validate(listing(bullets=[f"Feature number {i}" for i in range(7)]), "amazon"),
        "bullets.too_many",
    )
    assert issue.message == "There are 7 bullets; Amazon allows 5."


def test_bullet_length_hard_and_recommended_limits() -> None:
    issues = validate(listing(bullets=["a " * 300, "b " * 150]), "amazon")
    assert (
        find(issues, "bullet.too_long").message == "Bullet 1 is 600 characters; Amazon allows 500."
    )
    long = find(issues, "bullet.long")
    assert long.severity is Severity.WARNING
    assert long.message == "Bullet 2 is 300 characters; Amazon recommends at most 250."


def test_placeholder_bullet_is_an_error() -> None:
    issue = find(
        validate(listing(bullets=["Color: N/A", "Fits all"]), "amazon"), "bullet.placeholder"
    )
    assert (
        issue.message == "Bullet 1 has the placeholder 'N/A'; Amazon removes placeholder bullets."
    )


def test_html_in_a_bullet_is_an_error() -> None:
    assert "bullet.html" in codes(validate(listing(bullets=["<b>Strong</b> hose"]), "amazon"))


def test_missing_amazon_bullets_are_a_warning() -> None:
    issue = find(validate(listing(bullets=[]), "amazon"), "bullets.missing")
    assert issue.severity is Severity.WARNING


def test_bullets_on_a_marketplace_without_them_are_only_info() -> None:
    issue = find(validate(listing("ebay", bullets=["One"]), "ebay"), "bullets.unsupported")
    assert issue.severity is Severity.INFO


# --- description ------------------------------------------------------------------------


def test_html_in_an_amazon_description_is_an_error() -> None:
    issue = find(
        validate(listing(description="<p>Great</p><ul><li>hose</li></ul>"), "amazon"),
        "description.html",
    )
    assert issue.severity is Severity.ERROR
    assert issue.message == (
        "Description contains HTML (<li>, <p>, <ul>); "
        "Amazon allows plain text with line breaks only."
    )
    assert "description.html" not in codes(validate(listing(description="Line<br>break"), "amazon"))


def test_active_content_in_a_description_is_an_error() -> None:
    description = '<p onclick="steal()">Hose</p><script>document.cookie</script>'
    issue = find(
        validate(listing("ebay", description=description), "ebay"), "description.active_content"
    )
    assert issue.severity is Severity.ERROR
    assert "<script>" in issue.message and "onclick=" in issue.message


def test_tags_outside_the_allow_list_are_a_warning() -> None:
    description = "<p>Hose</p><font color=red>Sale</font>"
    issue = find(
        validate(listing("allegro", description=description), "allegro"),
        "description.tag_not_allowed",
    )
    assert issue.severity is Severity.WARNING


def test_amazon_description_over_2000_characters() -> None:
    issue = find(validate(listing(description="word " * 500), "amazon"), "description.too_long")
    assert issue.message == "Description is 2,500 characters; Amazon allows 2,000."


def test_an_unverified_limit_can_be_set_by_override() -> None:
    book = get_rulebook("kaufland", {"description_max": 100})
    issues = validate(listing("kaufland", description="word " * 30), "kaufland", rulebook=book)
    assert "description.too_long" in codes(issues)


def test_kaufland_requires_a_description() -> None:
    issue = find(validate(listing("kaufland", description=""), "kaufland"), "description.missing")
    assert issue.severity is Severity.ERROR


def test_seller_details_in_an_allegro_description_are_a_warning() -> None:
    description = "<p>Wąż ogrodowy. Wysyłka w 24h, wystawiamy faktury VAT.</p>"
    issue = find(
        validate(listing("allegro", description=description), "allegro"), "description.seller_info"
    )
    assert issue.severity is Severity.WARNING


# --- keywords ----------------------------------------------------------------------------


def test_search_terms_over_249_bytes_are_an_error() -> None:
    keywords = ["größe"] * 33  # 5 letters, 7 bytes: ö and ß take two each
    issue = find(validate(listing(keywords=keywords), "amazon"), "keywords.too_long")
    assert issue.severity is Severity.ERROR
    assert issue.message == "Search terms are 263 bytes; Amazon allows 249."


def test_brand_and_time_bound_words_in_search_terms_are_warnings() -> None:
    issues = validate(listing(keywords=["gardena", "new", "best", "watering"]), "amazon")
    assert find(issues, "keywords.brand").severity is Severity.WARNING
    banned = find(issues, "keywords.banned")
    assert "'new'" in banned.message and "'best'" in banned.message


def test_search_terms_repeating_the_title_are_info() -> None:
    issue = find(validate(listing(keywords=["hose", "garden"]), "amazon"), "keywords.in_title")
    assert issue.severity is Severity.INFO


def test_etsy_tag_count_and_length() -> None:
    tags = [f"tag{i}" for i in range(14)] + ["handmade ceramic mug blue"]
    issues = validate(listing("etsy", keywords=tags), "etsy")
    assert find(issues, "tags.too_many").message == "There are 15 tags; Etsy allows 13."
    assert find(issues, "tag.too_long").message == (
        "Tag 'handmade ceramic mug blue' is 25 characters; Etsy allows 20."
    )


# --- attributes and images ----------------------------------------------------------------


def test_amazon_needs_a_gtin_or_an_exemption() -> None:
    no_gtin = {"brand": "Gardena"}
    issue = find(validate(listing(attributes=no_gtin), "amazon"), "gtin.missing")
    assert issue.message == "No GTIN (EAN, UPC or ISBN); Amazon requires one or a GTIN exemption."
    exempt = {"brand": "Gardena", "gtin_exemption": True}
    assert "gtin.missing" not in codes(validate(listing(attributes=exempt), "amazon"))


def test_amazon_needs_a_brand() -> None:
    issue = find(validate(listing(attributes={"ean": GOOD_EAN}), "amazon"), "brand.missing")
    assert issue.message == "Brand is missing; Amazon requires it."


def test_a_gtin_with_a_wrong_check_digit_is_invalid() -> None:
    issue = find(
        validate(listing(attributes={"brand": "Gardena", "ean": "4006923716148"}), "amazon"),
        "gtin.invalid",
    )
    assert issue.severity is Severity.ERROR
    assert issue.message == "EAN '4006923716148' is not a valid GTIN (wrong length or check digit)."


def test_kaufland_needs_ean_and_manufacturer() -> None:
    issues = validate(listing("kaufland", attributes={}), "kaufland")
    assert find(issues, "gtin.missing").message == "EAN is missing; Kaufland requires it."
    assert (
        find(issues, "brand.missing").message
        == "Manufacturer (brand) is missing; Kaufland requires it."
    )
    with_manufacturer = {"manufacturer": "Gardena", "ean": GOOD_EAN}
    assert not has_errors(
        validate(
            listing(
                "kaufland",
                title="Gardena Gartenschlauch Comfort Flex 20 m grün für den Garten",
                attributes=with_manufacturer,
            ),
            "kaufland",
        )
    )


def test_ebay_condition_defaults_to_new() -> None:
    issue = find(
        validate(listing("ebay", attributes={"brand": "Gardena"}), "ebay"), "condition.missing"
    )
    assert issue.severity is Severity.WARNING
    assert issue.message == "Condition is missing; eBay defaults to New."


def test_allegro_needs_a_category() -> None:
    issue = find(
        validate(listing("allegro", attributes={"brand": "Gardena"}), "allegro"), "category.missing"
    )
    assert issue.severity is Severity.ERROR


def test_category_requirements_add_required_attributes() -> None:
    issues = validate(listing("allegro"), "allegro", required_attributes=["Długość węża", "color"])
    missing = [i for i in issues if i.code == "attribute.missing"]
    assert [i.message for i in missing] == [
        "Attribute 'Długość węża' is required for this category on Allegro.",
        "Attribute 'color' is required for this category on Allegro.",
    ]
    attributes = {"category": "Ogród", "kolor": "zielony", "Długość węża": "20 m"}
    issues = validate(
        listing("allegro", attributes=attributes),
        "allegro",
        required_attributes=["Długość węża", "color"],
    )
    assert "attribute.missing" not in codes(issues)


def test_image_limits() -> None:
    assert find(validate(listing(images=[IMAGE] * 10), "amazon"), "images.too_many").message == (
        "There are 10 images; Amazon allows 9."
    )
    missing = find(validate(listing("kaufland", images=[]), "kaufland"), "images.missing")
    assert missing.severity is Severity.ERROR
    assert missing.message == "No images; Kaufland requires at least 1 to show the listing."
    not_url = find(
        validate(listing("kaufland", images=["photo.jpg"]), "kaufland"), "images.not_url"
    )
    assert not_url.severity is Severity.ERROR


def test_language_mismatch_is_a_warning() -> None:
    issue = find(validate(listing(language="pl"), "amazon.de"), "language.mismatch")
    assert issue.message == "Listing is in Polish; amazon.de shows German."


def test_errors_come_first() -> None:
    issues = validate(listing(title="x" * 300, keywords=[]), "amazon")
    severities = [i.severity for i in issues]
    assert severities == sorted(
        severities, key=[Severity.ERROR, Severity.WARNING, Severity.INFO].index
    )
