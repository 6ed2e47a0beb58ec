"""The sample catalog, optimized for every marketplace: the only errors left are data the source
genuinely lacks (no EAN, no brand, an EAN whose check digit is wrong, no description at all)."""

from __future__ import annotations

from tests.rules.support import OPTIMIZED_MARKETPLACES, catalog_products, invented_words

from listingflow.rules.attributes import display_attributes, valid_gtin
from listingflow.rules.optimizer import optimize_offline
from listingflow.rules.types import Severity, SourceProduct
from listingflow.rules.validation import validate


def _genuinely_missing(code: str, product: SourceProduct) -> bool:
    ean = product.attributes.get("ean")
    absent = {
        "brand.missing": not product.brand,
        "gtin.missing": not ean,
        "gtin.invalid": bool(ean) and not valid_gtin(str(ean)),
        # identifiers such as the EAN are not buyer-facing text
        "description.missing": not product.description
        and not display_attributes(product.attributes),
        "images.missing": not product.images,
        "category.missing": not product.category,
    }
    return absent.get(code, False)


def test_catalog_has_no_errors_beyond_missing_source_data() -> None:
    products = list(catalog_products())
    assert len(products) >= 200
    unexplained = []
    for product in products:
        for marketplace in OPTIMIZED_MARKETPLACES:
            listing = optimize_offline(product, marketplace)
            for issue in validate(listing, marketplace):
                if issue.severity is Severity.ERROR and not _genuinely_missing(issue.code, product):
                    unexplained.append((marketplace, product.title, issue.message))
            assert not invented_words(listing, product), (marketplace, product.title)
    assert unexplained == []


def test_kaufland_gets_no_ean_error_where_the_catalog_has_a_valid_ean() -> None:
    for product in catalog_products():
        ean = product.attributes.get("ean")
        if ean and valid_gtin(ean):
            issues = validate(optimize_offline(product, "kaufland"), "kaufland")
            assert not [i for i in issues if i.code.startswith("gtin.")]
