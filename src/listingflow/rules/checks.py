"""Content checks behind validate(): bullets, description, search terms and tags.

Each check takes one field and the rulebook and returns Issues; validation.py runs them in turn
(required data, images and language are in requirements.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from listingflow.rules.markup import inspect_markup, looks_like_html
from listingflow.rules.rulebooks import ACTIVE_CONTENT_TAGS, Rulebook
from listingflow.rules.terms import PLACEHOLDERS, TermKind
from listingflow.rules.text import core_of, find_terms, fold, is_odd_symbol
from listingflow.rules.types import Issue, Severity

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
_WORD_PLACEHOLDERS = frozenset({"n/a", "tbd", "tba"})
_PROMO_KINDS = (TermKind.PROMOTIONAL, TermKind.SUBJECTIVE)


def verb(severity: Severity) -> str:
    return "does not allow" if severity is ERROR else "advises against"


def _quoted(items: Sequence[str], limit: int = 3) -> str:
    return ", ".join(f"'{item}'" for item in list(dict.fromkeys(items))[:limit])


# --- bullets -----------------------------------------------------------------------------


def check_bullets(bullets: list[str], book: Rulebook, brand_folds: frozenset[str]) -> list[Issue]:
    if not book.has_bullets:
        if not bullets:
            return []
        return [
            Issue(
                "bullets.unsupported",
                "bullets",
                INFO,
                f"{book.name} has no bullet points; these {len(bullets)} are not published.",
            )
        ]
    issues: list[Issue] = []
    if not bullets:
        issues.append(
            Issue(
                "bullets.missing",
                "bullets",
                WARNING,
                f"No bullet points; {book.name} shows up to {book.bullets_max}.",
            )
        )
    elif len(bullets) > book.bullets_max:
        issues.append(
            Issue(
                "bullets.too_many",
                "bullets",
                ERROR,
                f"There are {len(bullets)} bullets; {book.name} allows {book.bullets_max}.",
            )
        )
    for index, bullet in enumerate(bullets):
        issues += _check_bullet(index, bullet, book, brand_folds)
    return issues


def _check_bullet(
    index: int, bullet: str, book: Rulebook, brand_folds: frozenset[str]
) -> list[Issue]:
    where, name = f"bullets[{index}]", f"Bullet {index + 1}"
    if not bullet.strip():
        return [Issue("bullet.empty", where, WARNING, f"{name} is empty.")]
    issues: list[Issue] = []
    size = len(bullet)
    if book.bullet_max_length and size > book.bullet_max_length:
        issues.append(
            Issue(
                "bullet.too_long",
                where,
                ERROR,
                f"{name} is {size} characters; {book.name} allows {book.bullet_max_length}.",
            )
        )
    elif book.bullet_recommended_length and size > book.bullet_recommended_length:
        issues.append(
            Issue(
                "bullet.long",
                where,
                WARNING,
                f"{name} is {size} characters; {book.name} recommends at most "
                f"{book.bullet_recommended_length}.",
            )
        )
    banned = [
        ch
        for ch in bullet
        if ch in book.bullet_forbidden_chars or (book.bullet_symbols and is_odd_symbol(ch))
    ]
    for ch in dict.fromkeys(banned):
        issues.append(
            Issue(
                "bullet.forbidden_char",
                where,
                book.bullet_symbols or ERROR,
                f"{name} contains '{ch}', which {book.name} does not allow in bullets.",
            )
        )
    if looks_like_html(bullet):
        issues.append(
            Issue(
                "bullet.html", where, ERROR, f"{name} contains HTML; {book.name} takes plain text."
            )
        )
    words = bullet.split()
    folds = [fold(core_of(w)) for w in words]
    if book.bullet_placeholders:
        placeholder = next(
            (w for w, f in zip(words, folds, strict=True) if f in _WORD_PLACEHOLDERS), None
        )
        if placeholder is None and fold(core_of(bullet.strip())) in PLACEHOLDERS:
            placeholder = bullet.strip()
        if placeholder is not None:
            issues.append(
                Issue(
                    "bullet.placeholder",
                    where,
                    ERROR,
                    f"{name} has the placeholder '{core_of(placeholder) or placeholder}'; "
                    f"{book.name} removes placeholder bullets.",
                )
            )
    promo = [h.phrase for h in find_terms(words, folds, brand_folds) if h.kind in _PROMO_KINDS]
    if promo:
        issues.append(
            Issue(
                "bullet.promotional",
                where,
                WARNING,
                f"{name} contains {_quoted(promo)}; {book.name} advises against promotional "
                "claims in bullets.",
            )
        )
    return issues


# --- description -------------------------------------------------------------------------


def check_description(
    description: str, text: str, book: Rulebook, brand_folds: frozenset[str]
) -> list[Issue]:
    if not text.strip():
        severity = ERROR if book.description_required else WARNING
        return [
            Issue(
                "description.missing",
                "description",
                severity,
                f"Description is empty; {book.name} "
                f"{'requires one' if severity is ERROR else 'buyers and search rely on it'}.",
            )
        ]
    issues: list[Issue] = []
    size = len(description)
    if book.description_max and size > book.description_max:
        issues.append(
            Issue(
                "description.too_long",
                "description",
                ERROR,
                f"Description is {size:,} characters; {book.name} allows {book.description_max:,}.",
            )
        )
    report = inspect_markup(description)
    if report.active:
        issues.append(
            Issue(
                "description.active_content",
                "description",
                ERROR,
                f"Description contains active content ({', '.join(sorted(report.active))}); "
                f"{book.name} rejects scripts, frames and event handlers.",
            )
        )
    if book.description_format == "plain":
        used = sorted(report.tags - {"br"} - ACTIVE_CONTENT_TAGS)
        if used:
            issues.append(
                Issue(
                    "description.html",
                    "description",
                    ERROR,
                    f"Description contains HTML ({_tags(used)}); {book.name} allows plain text "
                    "with line breaks only.",
                )
            )
    else:
        extra = sorted(report.tags - book.description_tags - ACTIVE_CONTENT_TAGS)
        if extra:
            issues.append(
                Issue(
                    "description.tag_not_allowed",
                    "description",
                    WARNING,
                    f"Description uses {_tags(extra)}, which ListingFlow removes before "
                    f"publishing to {book.name}.",
                )
            )
    issues += _description_terms(text, book, brand_folds)
    return issues


def _tags(names: Sequence[str]) -> str:
    return ", ".join(f"<{name}>" for name in names[:4])


def _description_terms(text: str, book: Rulebook, brand_folds: frozenset[str]) -> list[Issue]:
    words = text.split()
    hits = find_terms(words, [fold(core_of(w)) for w in words], brand_folds)
    issues = []
    promo = [h.phrase for h in hits if h.kind in _PROMO_KINDS]
    if promo:
        issues.append(
            Issue(
                "description.promotional",
                "description",
                WARNING,
                f"Description contains promotional wording ({_quoted(promo)}); buyers on "
                f"{book.name} look for product facts.",
            )
        )
    seller = [h.phrase for h in hits if h.kind is TermKind.SELLER_INFO]
    if seller and book.seller_info_in_description:
        issues.append(
            Issue(
                "description.seller_info",
                "description",
                book.seller_info_in_description,
                f"Description mentions {_quoted(seller)}; {book.name} wants delivery, warranty "
                "and seller details in their own fields.",
            )
        )
    return issues


# --- keywords ----------------------------------------------------------------------------


def check_keywords(
    keywords: list[str], book: Rulebook, brand_folds: frozenset[str], in_title: frozenset[str]
) -> list[Issue]:
    if book.keyword_kind is None:
        if not keywords:
            return []
        return [
            Issue(
                "keywords.unsupported",
                "keywords",
                INFO,
                f"{book.name} has no search-terms field; these keywords are not published.",
            )
        ]
    if book.keyword_kind == "tags":
        return _check_tags(keywords, book)
    return _check_search_terms(keywords, book, brand_folds, in_title)


def _check_search_terms(
    keywords: list[str], book: Rulebook, brand_folds: frozenset[str], in_title: frozenset[str]
) -> list[Issue]:
    joined = " ".join(k.strip() for k in keywords if k.strip())
    if not joined:
        return [
            Issue(
                "keywords.missing",
                "keywords",
                WARNING,
                f"No search terms; {book.name} indexes up to {book.search_terms_max_bytes} "
                "bytes of them.",
            )
        ]
    issues: list[Issue] = []
    size = len(joined.encode("utf-8"))
    if book.search_terms_max_bytes and size > book.search_terms_max_bytes:
        issues.append(
            Issue(
                "keywords.too_long",
                "keywords",
                ERROR,
                f"Search terms are {size} bytes; {book.name} allows {book.search_terms_max_bytes}.",
            )
        )
    words = joined.split()
    cores = [core_of(w) for w in words]
    folds = [fold(c) for c in cores]
    brands = [c for c, f in zip(cores, folds, strict=True) if f in brand_folds]
    if brands:
        issues.append(
            Issue(
                "keywords.brand",
                "keywords",
                WARNING,
                f"Search terms contain the brand ({_quoted(brands)}); {book.name} does not "
                "want brand names there.",
            )
        )
    banned = [h.phrase for h in find_terms(words, folds) if h.kind is not TermKind.SELLER_INFO]
    if banned:
        issues.append(
            Issue(
                "keywords.banned",
                "keywords",
                WARNING,
                f"Search terms contain {_quoted(banned)}; {book.name} does not want "
                "time-bound, subjective or promotional words there.",
            )
        )
    repeated = [c for c, n in Counter(folds).items() if n > 1 and c]
    if repeated:
        issues.append(
            Issue(
                "keywords.duplicate",
                "keywords",
                INFO,
                f"Search terms repeat {_quoted(repeated)}; once is enough.",
            )
        )
    overlap = [
        c for c, f in zip(cores, folds, strict=True) if f in in_title and f not in brand_folds
    ]
    if overlap:
        issues.append(
            Issue(
                "keywords.in_title",
                "keywords",
                INFO,
                f"Search terms repeat title words ({_quoted(overlap)}); {book.name} already "
                "indexes the title.",
            )
        )
    return issues


def _check_tags(tags: list[str], book: Rulebook) -> list[Issue]:
    issues: list[Issue] = []
    if book.tags_max is not None and len(tags) > book.tags_max:
        issues.append(
            Issue(
                "tags.too_many",
                "keywords",
                ERROR,
                f"There are {len(tags)} tags; {book.name} allows {book.tags_max}.",
            )
        )
    for index, tag in enumerate(tags):
        where = f"keywords[{index}]"
        if book.tag_max_length is not None and len(tag) > book.tag_max_length:
            issues.append(
                Issue(
                    "tag.too_long",
                    where,
                    ERROR,
                    f"Tag '{tag}' is {len(tag)} characters; {book.name} allows "
                    f"{book.tag_max_length}.",
                )
            )
        if tag[:1] and tag[0] in book.tag_bad_starts:
            issues.append(
                Issue(
                    "tag.bad_start",
                    where,
                    WARNING,
                    f"Tag '{tag}' starts with '{tag[0]}'; {book.name} rejects that.",
                )
            )
    repeated = [t for t, n in Counter(t.strip().casefold() for t in tags).items() if n > 1]
    if repeated:
        issues.append(
            Issue(
                "tags.duplicate",
                "keywords",
                WARNING,
                f"Tags repeat {_quoted(repeated)}; {book.name} counts each tag once.",
            )
        )
    return issues
