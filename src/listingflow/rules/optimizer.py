"""The offline engine: a SourceProduct rewritten for one marketplace, pure and deterministic.

`optimize_offline` never adds a fact: every word it writes comes from the product's title,
description, brand, category or attributes, apart from attribute labels (terms.LABEL_WORDS).
It keeps the source language and notes when the marketplace reads another one (translation is
the LLM engine's job). `listing_from_source` is the same product as a listing with no rewriting,
so the scorer can show before and after.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from listingflow.rules import attributes as attrs
from listingflow.rules.content import (
    Content,
    build_bullets,
    clean_attribute_lines,
    extract_content,
    fit_search_terms,
    fit_tags,
    keyword_candidates,
    render_description,
)
from listingflow.rules.marketplaces import resolve
from listingflow.rules.markup import html_to_text
from listingflow.rules.rulebooks import Rulebook, get_rulebook
from listingflow.rules.terms import LANGUAGE_NAMES
from listingflow.rules.text import core_of, detect_language, fold, has_digit, squash
from listingflow.rules.titles import TitleFacts, build_title
from listingflow.rules.types import Listing, SourceProduct
from listingflow.rules.validation import acronyms, brand_word_folds, readable

_TAGS_PRACTICAL_MAX = 20  # Shopify allows 250 tags; more than a couple of dozen is noise


def optimize_offline(
    product: SourceProduct, marketplace: str, *, rulebook: Rulebook | None = None
) -> Listing:
    """The product rewritten within the marketplace's rules, without inventing anything."""
    book = rulebook or get_rulebook(marketplace)
    target_language = resolve(marketplace)[1].language
    product = _normalized(product)
    language = source_language(product)
    brand = attrs.value_text(_plain(product.brand))  # "N/A" or "null" is no brand
    # Raw brand words count too: "<b>Sony</b>" must keep "b" and "sony" out of search terms.
    brand_folds = brand_word_folds(brand) | brand_word_folds(attrs.value_text(product.brand))
    category = _plain(product.category)
    content = extract_content(product.description, brand_folds)
    pairs = attrs.display_attributes(product.attributes)
    labels = [attrs.label_for(key, language) for key, _ in pairs]
    attribute_lines = clean_attribute_lines(pairs, labels, brand_folds)
    description = render_description(content, attribute_lines, book)
    facts = TitleFacts(
        brand=brand,
        language=language,
        attributes=[(attrs.canonical_key(key), value) for key, value in pairs],
        casing=(
            casing_forms(content, pairs, category)
            if _has_capitals(product.title, *(value for _, value in pairs))
            else {}
        ),
        # The validator vouches for capitals the description uses; the title must agree with it.
        known_caps=acronyms(readable(description)),
        fallback=_fallback_texts(brand, category, content),
    )
    title = build_title(product.title, book, facts)
    listing = Listing(
        marketplace=marketplace,
        title=title,
        description=description,
        bullets=(
            build_bullets(content, attribute_lines, title, book, brand_folds)
            if book.has_bullets
            else []
        ),
        keywords=_keywords(book, title, brand_folds, content, pairs, category),
        attributes=_listing_attributes(product),
        images=_images(product.images, book),
        language=language,
    )
    if language and language != target_language:
        listing.notes.append(
            f"Translation to {LANGUAGE_NAMES.get(target_language, target_language)} "
            "needs the LLM engine."
        )
    return listing


def listing_from_source(product: SourceProduct, marketplace: str) -> Listing:
    """The product as it would be listed without optimization (the "before" of a score)."""
    attributes = product.attributes
    return Listing(
        marketplace=marketplace,
        title=product.title,
        description=product.description or "",
        bullets=_text_list(attributes, "bullets", "bullet_points"),
        keywords=_text_list(attributes, "search_terms", "keywords", "tags"),
        attributes=_listing_attributes(product),
        images=list(product.images),
        language=source_language(product),
    )


def source_language(product: SourceProduct) -> str | None:
    if product.language:
        return product.language.lower()[:2]
    description = product.description or ""
    if "<" in description:
        description = html_to_text(description)
    return detect_language([product.title, description])


def casing_forms(
    content: Content, pairs: list[tuple[str, str]], category: str | None
) -> dict[str, str]:
    """How the source writes words when it is not shouting: fold -> form, lower case first."""
    forms: dict[str, str] = {}
    texts = [*content.texts(), *(value for _, value in pairs), category or ""]
    for text in texts:
        for word in text.split():
            core = core_of(word)
            if not core or has_digit(core) or (core.isupper() and len(core) > 1):
                continue
            key = fold(core)
            known = forms.get(key)
            if known is None or (core.islower() and not known.islower()):
                forms[key] = core
    return forms


def _has_capitals(*texts: str) -> bool:
    """Does any word need re-casing? Only then is the source's own casing worth collecting."""
    return any(word.isupper() for text in texts for word in text.split())


def _normalized(product: SourceProduct) -> SourceProduct:
    """NFC text, so byte counts and comparisons see one form of "ó"."""

    def nfc(text: str | None) -> str | None:
        if text is None or text.isascii() or unicodedata.is_normalized("NFC", text):
            return text
        return unicodedata.normalize("NFC", text)

    return replace(
        product,
        title=nfc(product.title) or "",
        description=nfc(product.description),
        category=nfc(product.category),
        brand=nfc(product.brand),
        attributes={
            str(nfc(str(k))): nfc(v) if isinstance(v, str) else v
            for k, v in product.attributes.items()
        },
    )


def _plain(text: str | None) -> str | None:
    """A one-line field as text: markup in a brand ("<b>Sony</b>") is not part of the name."""
    if not text:
        return None
    return squash(html_to_text(text) if "<" in text else text) or None


def _fallback_texts(brand: str | None, category: str | None, content: Content) -> list[str]:
    leaf = category.rsplit(">", 1)[-1].strip() if category else ""
    texts = [f"{brand or ''} {leaf}".strip()]
    if content.heading:
        texts.append(content.heading)
    texts += content.sentences[:1]
    return [t for t in texts if t]


def _keywords(
    book: Rulebook,
    title: str,
    brand_folds: frozenset[str],
    content: Content,
    pairs: list[tuple[str, str]],
    category: str | None,
) -> list[str]:
    if book.keyword_kind is None:
        return []
    sources = [
        *(category.split(">") if category else []),
        *(value for _, value in pairs),
        *content.features,
        *content.paragraphs,
        content.heading or "",
    ]
    words = keyword_candidates(sources, title, brand_folds)
    if book.keyword_kind == "search_terms":
        return fit_search_terms(words, book.search_terms_max_bytes or 249)
    count = min(book.tags_max or _TAGS_PRACTICAL_MAX, _TAGS_PRACTICAL_MAX)
    return fit_tags(words, count, book.tag_max_length or 20)


def _listing_attributes(product: SourceProduct) -> dict[str, Any]:
    result = dict(product.attributes)
    if product.brand and attrs.get(result, "brand", "manufacturer") is None:
        result["brand"] = product.brand
    if product.category and attrs.get(result, "category") is None:
        result["category"] = product.category
    return result


def _images(images: tuple[str, ...], book: Rulebook) -> list[str]:
    """Distinct http(s) URLs, as many as the marketplace takes: anything else cannot be fetched."""
    urls = (url.strip() for url in images if url)
    unique = list(dict.fromkeys(u for u in urls if u.startswith(("http://", "https://"))))
    return unique[: book.images_max] if book.images_max is not None else unique


def _text_list(attributes: Mapping[str, Any], *keys: str) -> list[str]:
    for key, value in attributes.items():
        if attrs.normalize_key(key) not in keys:
            continue
        if isinstance(value, list | tuple):
            return [str(v) for v in value if str(v).strip()]
        if isinstance(value, str) and value.strip():
            separator = "," if "," in value else None
            return [part.strip() for part in value.split(separator) if part.strip()]
    return []
