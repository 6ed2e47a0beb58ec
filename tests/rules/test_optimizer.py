"""The offline optimizer on concrete products: titles, bullets, descriptions, search terms."""

from __future__ import annotations

from listingflow.rules.optimizer import listing_from_source, optimize_offline
from listingflow.rules.types import Severity, SourceProduct
from listingflow.rules.validation import validate

TOMMY = SourceProduct(
    title=(
        "SUPER PROMOCJA!!! KOSZULKA MĘSKA TOMMY HILFIGER T-SHIRT Z LOGO SLIM FIT BIAŁA ROZM. XL "
        "WYSYŁKA 24H!!!"
    ),
    description=(
        "<h2>Koszulka męska Tommy Hilfiger T-shirt z logo slim fit</h2>"
        "<p><b>Najważniejsze cechy:</b></p><ul><li>100% bawełna organiczna</li>"
        "<li>krój slim fit</li><li>haftowane logo na piersi</li></ul>"
        "<p>Sprzedajemy wyłącznie oryginalne produkty z polskiej dystrybucji. Zwrot do 30 dni.</p>"
        "<script>alert(1)</script>"
    ),
    category="Moda > Odzież męska > Koszulki",
    brand="Tommy Hilfiger",
    images=("https://img.example/1.jpg",),
    attributes={"color": "biały", "material": "bawełna", "size": "XL", "ean": "3004080060203"},
)
SONY = SourceProduct(
    title="Sony WH-1000XM4 Noise Cancelling Wireless Over-Ear Headphones, Silver",
    description=(
        "Sony WH-1000XM4 Noise Cancelling Wireless Over-Ear Headphones. Features: "
        "industry-leading noise cancelling with HD QN1 processor; up to 30 hours of battery; "
        "Speak-to-Chat; LDAC and DSEE Extreme support. Manufacturer warranty included. "
        "30-day hassle-free returns."
    ),
    category="Electronics > Audio > Headphones",
    brand="Sony",
    images=tuple(f"https://img.example/{i}.jpg" for i in range(12)),
    attributes={"color": "silver", "material": "plastic", "ean": "3004180106580"},
)


def test_allegro_title_drops_sales_talk_and_shouting() -> None:
    listing = optimize_offline(TOMMY, "allegro")
    assert listing.title == "Koszulka męska Tommy Hilfiger T-shirt z logo slim fit biała rozm. XL"


def test_amazon_title_starts_with_the_brand() -> None:
    source = SourceProduct(
        title="Słuchawki nauszne Sony WH-1000XM4 ANC z redukcją szumów czarne", brand="Sony"
    )
    assert optimize_offline(source, "amazon").title == (
        "Sony WH-1000XM4 ANC Słuchawki nauszne z redukcją szumów czarne"
    )


def test_only_the_brand_moves_when_the_model_cannot_be_delimited() -> None:
    source = SourceProduct(
        title="Kompresor samochodowy Xiaomi Mi Portable Air Pump 2 pompka czarny", brand="Xiaomi"
    )
    assert optimize_offline(source, "ebay").title == (
        "Xiaomi Kompresor samochodowy Mi Portable Air Pump 2 pompka czarny"
    )


def test_allegro_puts_the_brand_after_the_product_type() -> None:
    source = SourceProduct(
        title="Pościel bawełniana satynowa z 2 poszewkami DORMEO", brand="Dormeo"
    )
    assert optimize_offline(source, "allegro").title == (
        "Pościel bawełniana satynowa Dormeo z 2 poszewkami"
    )


def test_english_shouting_becomes_title_case_and_amazon_adds_key_attributes() -> None:
    source = SourceProduct(
        title='BEST PRICE!! GARDENA COMFORT FLEX GARDEN HOSE 1/2" 20M, GREEN FREE SHIPPING!!!',
        description='Gardena Comfort FLEX Garden Hose 1/2" 20m. Features: UV resistant.',
        brand="Gardena",
        attributes={"color": "green", "material": "PVC"},
        language="en",
    )
    assert optimize_offline(source, "amazon").title == (
        'Gardena Comfort FLEX Garden Hose 1/2" 20M, Green, PVC'
    )


def test_german_shouting_takes_the_casing_the_description_uses() -> None:
    source = SourceProduct(
        title="NEU & OVP SONY WH-1000XM4 KABELLOSE NOISE CANCELLING KOPFHÖRER, SCHWARZ TOP PREIS",
        description="Sony WH-1000XM4 kabellose Noise Cancelling Kopfhörer. Neu und OVP.",
        brand="Sony",
        attributes={"color": "schwarz"},
    )
    listing = optimize_offline(source, "kaufland")
    assert listing.title == "Sony WH-1000XM4 kabellose Noise Cancelling Kopfhörer, schwarz"
    assert listing.notes == []  # German product on kaufland.de


def test_trailing_keyword_strings_are_dropped() -> None:
    source = SourceProduct(
        title=(
            "Garmin Forerunner 265 GPS Laufuhr mit AMOLED Display, Weiß - Geschenk für Männer "
            "Frauen Kinder, ideal für Zuhause, Büro, Reisen, Weihnachten, Geburtstag, Muttertag"
        ),
        description="Laufuhr mit AMOLED Display, GPS und langer Akkulaufzeit.",  # vouches for caps
        brand="Garmin",
    )
    assert optimize_offline(source, "ebay").title == (
        "Garmin Forerunner 265 GPS Laufuhr mit AMOLED Display, Weiß"
    )


def test_repeated_words_are_dropped_but_units_after_numbers_stay() -> None:
    source = SourceProduct(
        title="Samsung Galaxy A54 Smartphone Samsung 128 GB, 8 GB RAM smartphone", brand="Samsung"
    )
    assert (
        optimize_offline(source, "amazon").title == "Samsung Galaxy A54 Smartphone 128 GB, 8 GB RAM"
    )


def test_long_titles_are_cut_at_a_word_boundary_without_dangling_words() -> None:
    source = SourceProduct(
        title="Zestaw mebli ogrodowych technorattan sofa fotele stolik poduszki " * 3 + "z",
        brand="Keter",
    )
    title = optimize_offline(source, "allegro").title
    assert len(title) <= 75
    assert title == "Zestaw mebli ogrodowych technorattan Keter sofa fotele stolik poduszki"


def test_forbidden_characters_and_emojis_leave_the_title() -> None:
    source = SourceProduct(title="Gardena {Garden} Hose ¦ 20 m 🔥 green ^_^ $19?", brand="Gardena")
    assert optimize_offline(source, "amazon").title == "Gardena Garden Hose 20 m green 19"


def test_an_all_junk_title_falls_back_to_brand_and_category() -> None:
    source = SourceProduct(
        title="HIT!!! PROMOCJA!!! GRATIS", brand="Bosch", category="Dom > Czajniki"
    )
    assert optimize_offline(source, "allegro").title == "Bosch Czajniki"


def test_amazon_bullets_come_from_features_and_attributes() -> None:
    listing = optimize_offline(SONY, "amazon")
    assert listing.bullets == [
        "Industry-leading noise cancelling with HD QN1 processor",
        "Up to 30 hours of battery",
        "Speak-to-Chat",
        "LDAC and DSEE Extreme support",
        "Color: silver; Material: plastic",
    ]


def test_bullets_lose_banned_symbols_and_stay_within_250_characters() -> None:
    source = SourceProduct(
        title="Logitech MX Master 3S",
        brand="Logitech",
        description="- Logi Bolt™ receiver ✓\n- " + "Very quiet clicks and a long battery " * 10,
    )
    bullets = optimize_offline(source, "amazon").bullets
    assert bullets[0] == "Logi Bolt receiver"
    assert all(len(b) <= 250 for b in bullets)


def test_no_bullets_where_the_marketplace_has_none() -> None:
    assert optimize_offline(SONY, "ebay").bullets == []


def test_amazon_search_terms_skip_brand_title_words_and_banned_words() -> None:
    source = SourceProduct(
        title="Sony Headphones",
        brand="Sony",
        category="Electronics > Audio",
        description="Wireless headphones by Sony with long battery, great sound. Best price, new.",
    )
    keywords = optimize_offline(source, "amazon").keywords
    assert keywords == ["electronics", "audio", "wireless", "long", "battery", "great", "sound"]


def test_search_terms_stay_under_249_bytes_counting_umlauts() -> None:
    words = " ".join(f"größe{i}" for i in range(200))
    keywords = optimize_offline(SourceProduct(title="Schuh", description=words), "amazon").keywords
    assert len(" ".join(keywords).encode()) <= 249
    assert len(" ".join(keywords).encode()) > 230


def test_html_description_keeps_facts_drops_seller_details_and_scripts() -> None:
    listing = optimize_offline(TOMMY, "allegro")
    assert listing.description == (
        "<h2>Koszulka męska Tommy Hilfiger T-shirt z logo slim fit</h2><ul>"
        "<li>100% bawełna organiczna</li><li>Krój slim fit</li><li>Haftowane logo na piersi</li>"
        "<li>Kolor: biały</li><li>Materiał: bawełna</li><li>Rozmiar: XL</li></ul>"
    )


def test_amazon_description_is_plain_text_with_line_breaks() -> None:
    description = optimize_offline(SONY, "amazon").description
    assert "<" not in description
    assert description.startswith(
        "Sony WH-1000XM4 Noise Cancelling Wireless Over-Ear Headphones.\n\n- "
    )
    assert "warranty" not in description and "returns" not in description


def test_ebay_description_is_sanitized_html_with_a_feature_list() -> None:
    description = optimize_offline(SONY, "ebay").description
    assert description.startswith("<p>Sony WH-1000XM4")
    assert "<ul><li>Industry-leading noise cancelling with HD QN1 processor</li>" in description
    assert description.endswith("<li>Color: silver</li><li>Material: plastic</li></ul>")


def test_source_markup_text_is_escaped_not_executed() -> None:
    source = SourceProduct(title="Hose", description="Use &lt;script&gt; tags? 5 &gt; 3 &amp; more")
    description = optimize_offline(source, "ebay").description
    assert "<script" not in description
    assert description == "<p>Use script tags? 5 3 &amp; more</p>"


def test_translation_note_when_the_marketplace_reads_another_language() -> None:
    assert optimize_offline(TOMMY, "amazon").notes == [
        "Translation to English needs the LLM engine."
    ]
    assert optimize_offline(TOMMY, "allegro").notes == []
    assert optimize_offline(SONY, "amazon.de").notes == [
        "Translation to German needs the LLM engine."
    ]


def test_a_given_language_beats_detection() -> None:
    source = SourceProduct(title="Mata do jogi", language="en")
    assert optimize_offline(source, "amazon").notes == []
    assert optimize_offline(source, "amazon").language == "en"


def test_images_are_distinct_urls_within_the_limit() -> None:
    listing = optimize_offline(SONY, "amazon")
    assert len(listing.images) == 9
    source = SourceProduct(title="Hose", images=("photo.jpg", "https://a/1.jpg", "https://a/1.jpg"))
    assert optimize_offline(source, "ebay").images == ["https://a/1.jpg"]


def test_missing_required_data_stays_an_error() -> None:
    source = SourceProduct(
        title="Gardena Gartenschlauch 20 m", brand="Gardena", description="Grün."
    )
    errors = {
        i.code
        for i in validate(optimize_offline(source, "kaufland"), "kaufland")
        if i.severity is Severity.ERROR
    }
    assert errors == {"gtin.missing", "images.missing"}


def test_optimized_listings_pass_validation_when_the_source_has_the_data() -> None:
    for marketplace in ("amazon", "ebay", "allegro", "kaufland"):
        issues = validate(optimize_offline(TOMMY, marketplace), marketplace)
        assert not [i for i in issues if i.severity is Severity.ERROR], (marketplace, issues)


def test_etsy_and_shopify_get_tags_within_their_limits() -> None:
    for marketplace, count, length in (("etsy", 13, 20), ("shopify", 250, 255)):
        listing = optimize_offline(SONY, marketplace)
        assert 0 < len(listing.keywords) <= count
        assert all(len(tag) <= length for tag in listing.keywords)
        assert not [i for i in validate(listing, marketplace) if i.severity is Severity.ERROR]


def test_listing_from_source_changes_nothing() -> None:
    source = SourceProduct(
        title="HIT!!! Hose",
        description="<p>x</p>",
        brand="Gardena",
        category="Garden",
        images=("a.jpg",),
        attributes={"bullet_points": ["One", "Two"], "search_terms": "a, b"},
    )
    listing = listing_from_source(source, "amazon")
    assert (listing.title, listing.description, listing.images) == (
        "HIT!!! Hose",
        "<p>x</p>",
        ["a.jpg"],
    )
    assert listing.bullets == ["One", "Two"]
    assert listing.keywords == ["a", "b"]
    assert listing.attributes["brand"] == "Gardena"
    assert listing.attributes["category"] == "Garden"
