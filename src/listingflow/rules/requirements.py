"""Required data behind validate(): attributes (brand, GTIN, category, condition, category
extras), images and the listing's language. Most of these are facts only the source can supply,
so their errors are the ones an optimizer cannot fix (validation.MISSING_DATA_CODES).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from listingflow.rules import attributes as attrs
from listingflow.rules.marketplaces import Region
from listingflow.rules.rulebooks import Rulebook
from listingflow.rules.terms import LANGUAGE_NAMES
from listingflow.rules.types import Issue, Severity

ERROR, WARNING = Severity.ERROR, Severity.WARNING


def check_attributes(
    attributes: Mapping[str, Any], book: Rulebook, extra_required: Sequence[str]
) -> list[Issue]:
    issues: list[Issue] = []
    if book.requires_brand and attrs.get(attributes, "brand", "manufacturer") is None:
        what = "Manufacturer (brand)" if book.marketplace == "kaufland" else "Brand"
        issues.append(
            Issue(
                "brand.missing",
                "attributes.brand",
                ERROR,
                f"{what} is missing; {book.name} requires it.",
            )
        )
    gtins = list(attrs.gtin_values(attributes))
    exempt = book.gtin_exemption_allowed and attrs.gtin_exempt(attributes)
    if book.requires_gtin and not gtins and not exempt:
        message = (
            f"No GTIN (EAN, UPC or ISBN); {book.name} requires one or a GTIN exemption."
            if book.gtin_exemption_allowed
            else f"EAN is missing; {book.name} requires it."
        )
        issues.append(Issue("gtin.missing", "attributes.ean", ERROR, message))
    for key, value in gtins:
        if not attrs.valid_gtin(value):
            issues.append(
                Issue(
                    "gtin.invalid",
                    f"attributes.{key}",
                    ERROR if book.requires_gtin else WARNING,
                    f"{key.upper()} '{value}' is not a valid GTIN (wrong length or check digit).",
                )
            )
    if book.requires_category and attrs.get(attributes, "category", "category_id") is None:
        issues.append(
            Issue(
                "category.missing",
                "attributes.category",
                ERROR,
                f"Category is missing; {book.name} needs the offer's leaf category.",
            )
        )
    if book.condition_default and attrs.get(attributes, "condition") is None:
        issues.append(
            Issue(
                "condition.missing",
                "attributes.condition",
                WARNING,
                f"Condition is missing; {book.name} defaults to {book.condition_default}.",
            )
        )
    for key in dict.fromkeys((*book.required_attributes, *extra_required)):
        if attrs.get(attributes, key) is None:
            issues.append(
                Issue(
                    "attribute.missing",
                    f"attributes.{key}",
                    ERROR,
                    f"Attribute '{key}' is required for this category on {book.name}.",
                )
            )
    return issues


def check_images(images: list[str], book: Rulebook) -> list[Issue]:
    issues: list[Issue] = []
    count = len(images)
    if count < book.images_min:
        verb_phrase = "requires" if book.images_min_severity is ERROR else "needs"
        issues.append(
            Issue(
                "images.missing",
                "images",
                book.images_min_severity,
                f"{'No images' if count == 0 else f'Only {count} image(s)'}; {book.name} "
                f"{verb_phrase} at least {book.images_min} to show the listing.",
            )
        )
    if book.images_max is not None and count > book.images_max:
        issues.append(
            Issue(
                "images.too_many",
                "images",
                ERROR,
                f"There are {count} images; {book.name} allows {book.images_max}.",
            )
        )
    for index, url in enumerate(images):
        if not url.startswith(("http://", "https://")):
            issues.append(
                Issue(
                    "images.not_url",
                    f"images[{index}]",
                    book.image_url_severity,
                    f"Image {index + 1} is not a full http(s) URL; {book.name} downloads "
                    "images from one.",
                )
            )
    if len(set(images)) < count:
        issues.append(
            Issue("images.duplicate", "images", WARNING, "The same image is listed twice.")
        )
    return issues


def check_language(language: str | None, region: Region) -> list[Issue]:
    if not language or language == region.language:
        return []
    have = LANGUAGE_NAMES.get(language, language)
    want = LANGUAGE_NAMES.get(region.language, region.language)
    return [
        Issue(
            "language.mismatch",
            "language",
            WARNING,
            f"Listing is in {have}; {region.site} shows {want}.",
        )
    ]
