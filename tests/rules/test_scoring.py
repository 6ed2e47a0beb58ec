"""Scoring: components, reasons, determinism, and before/after on the sample catalog."""

from __future__ import annotations

import pytest
from tests.rules.support import OPTIMIZED_MARKETPLACES, catalog_products

from listingflow.rules.optimizer import optimize_offline
from listingflow.rules.rulebooks import RULEBOOKS, get_rulebook
from listingflow.rules.scoring import listing_from_source, score, weights
from listingflow.rules.types import Issue, Listing, Severity, SourceProduct

COMPONENTS = {"title", "description", "bullets", "keywords", "attributes", "images", "compliance"}
SONY = SourceProduct(
    title="Sony WH-1000XM4 Noise Cancelling Wireless Over-Ear Headphones, Silver",
    description=(
        "Features: industry-leading noise cancelling with HD QN1 processor; up to 30 hours of "
        "battery; Speak-to-Chat; LDAC and DSEE Extreme support. Free shipping and 30-day returns!"
    ),
    category="Electronics > Audio > Headphones",
    brand="Sony",
    images=("https://img.example/1.jpg", "https://img.example/2.jpg"),
    attributes={"color": "silver", "ean": "3004180106580", "condition": "New"},
    language="en",
)


@pytest.mark.parametrize("marketplace", sorted(RULEBOOKS))
def test_component_maxima_add_up_to_100(marketplace: str) -> None:
    assert sum(weights(get_rulebook(marketplace)).values()) == 100


def test_breakdown_names_every_component_within_its_maximum() -> None:
    result = score(optimize_offline(SONY, "amazon"), "amazon", source=SONY)
    assert set(result.breakdown) == COMPONENTS
    assert all(0 <= part.points <= part.max for part in result.breakdown.values())
    assert result.total == sum(part.points for part in result.breakdown.values())
    assert 0 <= result.total <= 100


def test_reasons_are_one_line_for_a_seller() -> None:
    result = score(optimize_offline(SONY, "ebay"), "ebay", source=SONY)
    assert result.breakdown["title"].reason == (
        "Title uses 69 of 80 characters with brand and product type"
    )
    assert result.breakdown["bullets"].max == 0
    assert result.breakdown["images"].reason == "2 images; 8+ recommended"
    assert all("\n" not in part.reason for part in result.breakdown.values())


def test_title_reason_names_what_is_missing() -> None:
    listing = Listing("ebay", title="Noise cancelling thing", description="")
    reason = score(listing, "ebay", source=SONY).breakdown["title"].reason
    assert reason == "Title uses 22 of 80 characters without brand or product type"


def test_compliance_loses_points_per_issue() -> None:
    listing = optimize_offline(SONY, "amazon")
    issues = [
        Issue("title.too_long", "title", Severity.ERROR, "x"),
        Issue("bullets.missing", "bullets", Severity.WARNING, "y"),
    ]
    part = score(listing, "amazon", issues=issues).breakdown["compliance"]
    assert (part.points, part.max) == (10, 20)
    assert part.reason == "1 error and 1 warning from validation (title.too_long, bullets.missing)"


def test_scoring_is_deterministic() -> None:
    listing = optimize_offline(SONY, "amazon")
    assert score(listing, "amazon", source=SONY) == score(listing, "amazon", source=SONY)


def test_optimized_scores_higher_than_the_raw_product() -> None:
    for marketplace in OPTIMIZED_MARKETPLACES:
        before = score(listing_from_source(SONY, marketplace), marketplace, source=SONY)
        after = score(optimize_offline(SONY, marketplace), marketplace, source=SONY)
        assert after.total > before.total, (marketplace, before, after)


def test_catalog_products_never_score_lower_after_optimization() -> None:
    gains = []
    for product in catalog_products():
        for marketplace in OPTIMIZED_MARKETPLACES:
            before = score(listing_from_source(product, marketplace), marketplace, source=product)
            after = score(optimize_offline(product, marketplace), marketplace, source=product)
            assert after.total >= before.total, (marketplace, product.title)
            gains.append(after.total - before.total)
    assert sum(gains) / len(gains) >= 10
