"""Validation: every finding a marketplace's rulebook makes about a listing, as Issues.

Errors are what the marketplace refuses (publishing is blocked); warnings are accepted but hurt
ranking or get edited by the marketplace; info is advice. Codes are stable; messages are one
sentence a seller understands. Field checks live in checks.py and requirements.py; this module
holds the entry point and the title rules.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from listingflow.rules import attributes as attrs
from listingflow.rules.checks import (
    check_bullets,
    check_description,
    check_keywords,
    verb,
)
from listingflow.rules.marketplaces import resolve
from listingflow.rules.markup import html_to_text
from listingflow.rules.requirements import check_attributes, check_images, check_language
from listingflow.rules.rulebooks import Rulebook, get_rulebook
from listingflow.rules.terms import TermKind
from listingflow.rules.text import (
    STOP_FOLDS,
    core_of,
    find_terms,
    fold,
    has_digit,
    has_letter,
    is_odd_symbol,
    is_shouting,
    word_tokens,
)
from listingflow.rules.types import Issue, Listing, Severity

# Issues that mean the source lacks data the marketplace requires: no rewrite can fix them.
MISSING_DATA_CODES: frozenset[str] = frozenset(
    {
        "title.missing",
        "description.missing",
        "brand.missing",
        "gtin.missing",
        "gtin.invalid",
        "category.missing",
        "attribute.missing",
        "images.missing",
    }
)
_TIMES = {1: "once", 2: "twice"}


def validate(
    listing: Listing,
    marketplace: str,
    *,
    rulebook: Rulebook | None = None,
    required_attributes: Sequence[str] = (),
) -> list[Issue]:
    """Every issue the marketplace's rules find in the listing, errors first."""
    book = rulebook or get_rulebook(marketplace)
    brand = attrs.get(listing.attributes, "brand", "manufacturer")
    brand_folds = brand_word_folds(brand)
    description_text = readable(listing.description)
    issues = check_title(listing.title, book, brand_folds, acronyms(description_text))
    issues += check_bullets(listing.bullets, book, brand_folds)
    issues += check_description(listing.description, description_text, book, brand_folds)
    issues += check_keywords(listing.keywords, book, brand_folds, title_folds(listing.title))
    issues += check_attributes(listing.attributes, book, required_attributes)
    issues += check_images(listing.images, book)
    issues += check_language(listing.language, resolve(marketplace)[1])
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    return sorted(issues, key=lambda issue: order[issue.severity])


def readable(description: str) -> str:
    """The description as buyers read it (markup resolved)."""
    return html_to_text(description) if "<" in description else description


def has_errors(issues: Iterable[Issue]) -> bool:
    return any(issue.severity is Severity.ERROR for issue in issues)


def brand_word_folds(brand: str | None) -> frozenset[str]:
    """Folds of the brand's words and of their letter/digit runs, so the brand is recognised
    however a title splits it ("Hop-Sport", "Hop Sport")."""
    if not brand:
        return frozenset()
    cores = [core for core in map(core_of, brand.split()) if core]
    return frozenset(map(fold, [*cores, *word_tokens(brand)]))


def title_folds(title: str) -> frozenset[str]:
    return frozenset(fold(token) for token in word_tokens(title))


def acronyms(text: str) -> frozenset[str]:
    """ALL CAPS words a calm description also writes in capitals ("AMOLED", "OEKO-TEX"):
    names and acronyms, not shouting. A description that mostly shouts vouches for nothing."""
    words = [core_of(w) for w in text.split()]
    lettered = [w for w in words if has_letter(w)]
    caps = [w for w in lettered if w.isupper() and not has_digit(w)]
    if not caps or len(caps) * 3 > len(lettered):
        return frozenset()
    return frozenset(fold(w) for w in caps)


def check_title(
    title: str, book: Rulebook, brand_folds: frozenset[str], known_caps: frozenset[str]
) -> list[Issue]:
    if not title.strip():
        return [Issue("title.missing", "title", Severity.ERROR, "Title is empty.")]
    issues = _title_length(title, book) + _title_characters(title, book)
    words = title.split()
    cores = [core_of(w) for w in words]
    folds = [fold(c) for c in cores]
    issues += _title_terms(words, folds, book, brand_folds)
    issues += _title_repeats(cores, folds, book)
    shouted = [
        c
        for c, f in zip(cores, folds, strict=True)
        if is_shouting(c) and f not in brand_folds and f not in known_caps
    ]
    if shouted:
        listed = ", ".join(f"'{w}'" for w in dict.fromkeys(shouted[:3]))
        tail = (
            f"{book.name} allows capitals only for brands"
            if book.shouting is Severity.ERROR
            else "write them in normal case (brands excepted)"
        )
        issues.append(
            Issue(
                "title.shouting",
                "title",
                book.shouting,
                f"Title has ALL CAPS words ({listed}); {tail}.",
            )
        )
    return issues


def _title_length(title: str, book: Rulebook) -> list[Issue]:
    size = len(title)
    if size > book.title_max:
        return [
            Issue(
                "title.too_long",
                "title",
                Severity.ERROR,
                f"Title is {size} characters; {book.name} allows {book.title_max}.",
            )
        ]
    issues = []
    if book.title_recommended_max and size > book.title_recommended_max:
        issues.append(
            Issue(
                "title.long",
                "title",
                Severity.WARNING,
                f"Title is {size} characters; {book.name} recommends at most "
                f"{book.title_recommended_max} for readability.",
            )
        )
    if book.title_recommended_min and size < book.title_recommended_min:
        issues.append(
            Issue(
                "title.short",
                "title",
                Severity.WARNING,
                f"Title is {size} characters; {book.name} recommends "
                f"{book.title_recommended_min} to {book.title_recommended_max or book.title_max}.",
            )
        )
    return issues


def _title_characters(title: str, book: Rulebook) -> list[Issue]:
    issues = []
    for ch in dict.fromkeys(ch for ch in title if ch in book.title_forbidden_chars):
        issues.append(
            Issue(
                "title.forbidden_char",
                "title",
                Severity.ERROR,
                f"Title contains '{ch}', which {book.name} does not allow in titles.",
            )
        )
    if book.title_restricted_chars:
        restricted = dict.fromkeys(
            ch
            for word in title.split()
            if not has_digit(word)
            for ch in word
            if ch in book.title_restricted_chars
        )
        for ch in restricted:
            issues.append(
                Issue(
                    "title.restricted_char",
                    "title",
                    Severity.WARNING,
                    f"Title contains '{ch}' outside an identifier or measurement; "
                    f"{book.name} allows it only there.",
                )
            )
    for ch in sorted(book.title_once_chars):
        count = title.count(ch)
        if count > 1:
            issues.append(
                Issue(
                    "title.repeated_char",
                    "title",
                    Severity.WARNING,
                    f"Title uses '{ch}' {count} times; {book.name} allows it once.",
                )
            )
    if not title.isascii():
        symbols = list(dict.fromkeys(ch for ch in title if is_odd_symbol(ch)))
        if symbols:
            shown = ", ".join(f"'{ch}'" for ch in symbols[:3])
            issues.append(
                Issue(
                    "title.symbol",
                    "title",
                    book.title_symbols,
                    f"Title contains {shown}; {book.name} {verb(book.title_symbols)} emojis "
                    "and symbols in titles.",
                )
            )
    return issues


_TITLE_TERM_RULES = {
    TermKind.PROMOTIONAL: ("title.promotional", "promotional_in_title", "promotional words"),
    TermKind.SUBJECTIVE: ("title.promotional", "promotional_in_title", "subjective claims"),
    TermKind.TIME_BOUND: (
        "title.time_bound",
        "time_bound_in_title",
        "time-bound or condition words",
    ),
    TermKind.SELLER_INFO: (
        "title.seller_info",
        "seller_info_in_title",
        "delivery, warranty or seller details",
    ),
}


def _title_terms(
    words: list[str], folds: list[str], book: Rulebook, brand_folds: frozenset[str]
) -> list[Issue]:
    issues = []
    for hit in find_terms(words, folds, brand_folds):
        code, field_name, what = _TITLE_TERM_RULES[hit.kind]
        severity: Severity = getattr(book, field_name)
        issues.append(
            Issue(
                code,
                "title",
                severity,
                f"Title contains '{hit.phrase}'; {book.name} {verb(severity)} {what} in titles.",
            )
        )
    return issues


def _title_repeats(cores: list[str], folds: list[str], book: Rulebook) -> list[Issue]:
    limit = book.title_max_word_repeats
    if limit is None:
        return []
    counts = Counter(
        f
        for c, f in zip(cores, folds, strict=True)
        if has_letter(c) and f not in STOP_FOLDS and len(f) > 1
    )
    first_form = {f: c for c, f in reversed(list(zip(cores, folds, strict=True)))}
    return [
        Issue(
            "title.repeated_word",
            "title",
            Severity.ERROR,
            f"Title repeats '{first_form[f].lower()}' {n} times; {book.name} allows a word "
            f"{_TIMES.get(limit, f'{limit} times')}.",
        )
        for f, n in counts.items()
        if n > limit
    ]
