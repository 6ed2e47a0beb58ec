"""Listing quality score, 0-100, with a per-component breakdown a seller can read.

The same function scores the raw product (`listing_from_source`) and the optimized listing, so
the UI can show before and after. Components: title, description, bullets, keywords,
attributes, images, compliance (penalties from validation). Weights depend on which fields the
marketplace has; a component the marketplace lacks has max 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from listingflow.rules import attributes as attrs
from listingflow.rules.markup import html_to_text, inspect_markup
from listingflow.rules.optimizer import listing_from_source
from listingflow.rules.rulebooks import Rulebook, get_rulebook
from listingflow.rules.terms import TermKind
from listingflow.rules.text import core_of, find_terms, fold, word_tokens
from listingflow.rules.types import Issue, Listing, Severity, SourceProduct
from listingflow.rules.validation import validate

__all__ = ["ComponentScore", "Score", "listing_from_source", "score", "weights"]

_ERROR_PENALTY = 8
_WARNING_PENALTY = 2
_GOOD_DESCRIPTION_CHARS = 200
_GOOD_SEARCH_TERM_BYTES = 150
_BULLET_MIN_CHARS = 20
_TITLE_PROBLEMS = frozenset(
    {
        "title.forbidden_char",
        "title.symbol",
        "title.promotional",
        "title.time_bound",
        "title.seller_info",
        "title.repeated_word",
        "title.shouting",
        "title.restricted_char",
    }
)
_TERM_NAMES = {
    TermKind.PROMOTIONAL: "promotional wording",
    TermKind.SUBJECTIVE: "subjective claims",
    TermKind.TIME_BOUND: "time-bound words",
    TermKind.SELLER_INFO: "seller details",
}


@dataclass(frozen=True, slots=True)
class ComponentScore:
    points: int
    max: int
    reason: str


@dataclass(frozen=True, slots=True)
class Score:
    total: int
    breakdown: dict[str, ComponentScore]


def weights(book: Rulebook) -> dict[str, int]:
    """Points per component, summing to 100 for the fields this marketplace has."""
    if book.has_bullets:
        return {
            "title": 20,
            "description": 10,
            "bullets": 15,
            "keywords": 10,
            "attributes": 15,
            "images": 10,
            "compliance": 20,
        }
    if book.keyword_kind is not None:
        return {
            "title": 25,
            "description": 15,
            "bullets": 0,
            "keywords": 10,
            "attributes": 10,
            "images": 20,
            "compliance": 20,
        }
    return {
        "title": 30,
        "description": 20,
        "bullets": 0,
        "keywords": 0,
        "attributes": 20,
        "images": 10,
        "compliance": 20,
    }


def score(
    listing: Listing,
    marketplace: str,
    *,
    source: SourceProduct | None = None,
    issues: list[Issue] | None = None,
    rulebook: Rulebook | None = None,
    required_attributes: Sequence[str] = (),
) -> Score:
    """Score a listing; pass `issues` if validation already ran, `source` for brand/category."""
    book = rulebook or get_rulebook(marketplace)
    if issues is None:
        issues = validate(
            listing, marketplace, rulebook=book, required_attributes=required_attributes
        )
    brand = (source.brand if source else None) or attrs.get(
        listing.attributes, "brand", "manufacturer"
    )
    category = (source.category if source else None) or attrs.get(listing.attributes, "category")
    parts = {
        "title": _title(listing.title, book, brand, category, issues),
        "description": _description(listing.description, book),
        "bullets": _bullets(listing.bullets, book, issues),
        "keywords": _keywords(listing.keywords, book, issues),
        "attributes": _attributes(listing, book, required_attributes),
        "images": _images(listing.images, book),
        "compliance": _compliance(issues),
    }
    breakdown = {}
    for name, weight in weights(book).items():
        fraction, reason = parts[name]
        breakdown[name] = ComponentScore(
            round(max(0.0, min(1.0, fraction)) * weight), weight, reason
        )
    total = sum(component.points for component in breakdown.values())
    return Score(total=max(0, min(100, total)), breakdown=breakdown)


def _weighted(parts: Sequence[tuple[float, float | None]]) -> float:
    """Weighted mean of (weight, value) pairs; None values (cannot judge) are left out."""
    counted = [(w, v) for w, v in parts if v is not None]
    total = sum(w for w, _ in counted)
    return sum(w * v for w, v in counted) / total if total else 0.0


def _title(
    title: str, book: Rulebook, brand: str | None, category: str | None, issues: list[Issue]
) -> tuple[float, str]:
    size = len(title)
    if not title.strip():
        return 0.0, "Title is empty"
    recommended = book.title_recommended_max or book.title_max
    shortest = book.title_recommended_min or min(40, recommended // 2)
    if size > book.title_max:
        length = 0.0
    elif size > recommended:
        length = 0.6
    else:
        length = min(1.0, size / shortest)
    folds = {fold(t) for t in word_tokens(title)}
    has_brand = None if not brand else all(fold(t) in folds for t in word_tokens(brand))
    has_type = None if not category else _mentions_type(folds, category)
    problems = sorted(
        {i.code.split(".")[1].replace("_", " ") for i in issues if i.code in _TITLE_PROBLEMS}
    )
    clean = max(0.0, 1.0 - 0.34 * len(problems))
    fraction = _weighted([(0.4, length), (0.2, has_brand), (0.2, has_type), (0.2, clean)])
    said = [name for name, flag in (("brand", has_brand), ("product type", has_type)) if flag]
    missing = [
        name for name, flag in (("brand", has_brand), ("product type", has_type)) if flag is False
    ]
    reason = f"Title uses {size} of {book.title_max} characters"
    if said:
        reason += " with " + " and ".join(said)
    if missing:
        reason += (", " if said else " ") + "without " + " or ".join(missing)
    if problems:
        reason += "; issues: " + ", ".join(problems)
    return fraction, reason


def _mentions_type(folds: set[str], category: str) -> bool:
    """Does the title name the category leaf? Prefixes absorb plural and case: Kompresory ~
    kompresor, Headphones ~ headphones."""
    leaf = category.rsplit(">", 1)[-1]
    for token in word_tokens(leaf):
        key = fold(token)
        if len(key) < 4:
            continue
        stem = key[: max(4, len(key) - 2)]
        if any(
            word.startswith(stem) or (key.startswith(word) and len(word) >= 4) for word in folds
        ):
            return True
    return False


def _description(description: str, book: Rulebook) -> tuple[float, str]:
    if not description.strip():
        return 0.0, "No description"
    report = inspect_markup(description)
    text = html_to_text(description) if report.tags else description
    size = len(text)
    items = (
        description.count("<li>")
        if report.tags
        else sum(1 for line in text.splitlines() if line.startswith("- "))
    )
    if book.description_format == "html":
        structure = 1.0 if items else 0.5 if report.tags else 0.3
        if report.tags - book.description_tags or report.active:
            structure = 0.0
    else:
        structure = 0.0 if report.tags - {"br"} else 1.0 if "\n" in text else 0.5
    words = text.split()
    kinds = sorted({h.kind for h in find_terms(words, [fold(core_of(w)) for w in words])})
    clean = max(0.0, 1.0 - 0.6 * len(kinds))
    too_long = bool(book.description_max and len(description) > book.description_max)
    length = 0.0 if too_long else min(1.0, size / _GOOD_DESCRIPTION_CHARS)
    fraction = _weighted([(0.4, length), (0.3, structure), (0.3, clean)])
    reason = f"Description has {size:,} characters"
    if items:
        reason += f" with a {items}-item feature list"
    if too_long:
        reason += f", over {book.name}'s {book.description_max:,}"
    if kinds:
        reason += "; contains " + ", ".join(_TERM_NAMES[k] for k in kinds)
    return fraction, reason


def _bullets(bullets: list[str], book: Rulebook, issues: list[Issue]) -> tuple[float, str]:
    if not book.has_bullets:
        return 0.0, f"{book.name} has no bullet points; features go in the description"
    if not bullets:
        return 0.0, f"No bullet points; {book.name} shows {book.bullets_max}"
    count = min(len(bullets), book.bullets_max)
    longest = book.bullet_recommended_length or book.bullet_max_length or 250
    good = sum(1 for b in bullets if _BULLET_MIN_CHARS <= len(b) <= longest)
    flagged = {
        i.field
        for i in issues
        if i.field.startswith("bullets[") and i.severity is not Severity.INFO
    }
    fraction = _weighted(
        [
            (0.5, count / book.bullets_max),
            (0.25, good / len(bullets)),
            (0.25, 1 - len(flagged) / len(bullets)),
        ]
    )
    reason = (
        f"{count} of {book.bullets_max} bullets, {good} of them "
        f"{_BULLET_MIN_CHARS}-{longest} characters"
    )
    if flagged:
        reason += f"; {len(flagged)} with issues"
    return fraction, reason


def _keywords(keywords: list[str], book: Rulebook, issues: list[Issue]) -> tuple[float, str]:
    if book.keyword_kind is None:
        return 0.0, f"{book.name} has no keyword field"
    problems = sorted(
        {
            i.code.split(".", 1)[1]
            for i in issues
            if i.code.startswith(("keywords.", "tags.", "tag."))
            and i.code not in ("keywords.missing", "keywords.unsupported")
        }
    )
    clean = max(0.0, 1.0 - 0.25 * len(problems))
    if book.keyword_kind == "tags":
        wanted = min(book.tags_max or 13, 13)
        fraction = (
            _weighted([(0.6, min(1.0, len(keywords) / wanted)), (0.4, clean)]) if keywords else 0.0
        )
        return fraction, f"{len(keywords)} tags of {book.tags_max} allowed" + _problems(problems)
    used = len(" ".join(k.strip() for k in keywords if k.strip()).encode("utf-8"))
    if not used:
        return 0.0, f"No search terms; {book.name} indexes {book.search_terms_max_bytes} bytes"
    fraction = _weighted([(0.6, min(1.0, used / _GOOD_SEARCH_TERM_BYTES)), (0.4, clean)])
    return fraction, f"Search terms use {used} of {book.search_terms_max_bytes} bytes" + _problems(
        problems
    )


def _problems(problems: list[str]) -> str:
    if not problems:
        return ", no brand, banned or title words"
    return "; issues: " + ", ".join(p.replace("_", " ") for p in problems)


def _attributes(listing: Listing, book: Rulebook, extra: Sequence[str]) -> tuple[float, str]:
    values = listing.attributes
    gtin_ok = any(attrs.valid_gtin(v) for _, v in attrs.gtin_values(values)) or (
        book.gtin_exemption_allowed and attrs.gtin_exempt(values)
    )
    checks: dict[str, bool] = {}
    required: list[str] = []
    if book.requires_brand:
        required.append("brand")
    if book.requires_gtin:
        required.append("EAN")
    if book.requires_category:
        required.append("category")
    if book.condition_default:
        required.append("condition")
    required += [*book.required_attributes, *extra]
    for name in dict.fromkeys([*required, "brand", "EAN", "category", "color", "size", "material"]):
        if name == "EAN":
            checks[name] = gtin_ok
        elif name == "brand":
            checks[name] = attrs.get(values, "brand", "manufacturer") is not None
        else:
            checks[name] = attrs.get(values, name) is not None
    required_ok = sum(checks[n] for n in dict.fromkeys(required))
    common_ok = sum(checks.values())
    fraction = _weighted(
        [
            (0.6, required_ok / len(set(required)) if required else None),
            (0.4, common_ok / len(checks)),
        ]
    )
    missing = [n for n, ok in checks.items() if not ok]
    reason = f"{common_ok} of {len(checks)} key attributes present"
    if missing:
        reason += "; missing: " + ", ".join(missing)
    return fraction, reason


def _images(images: list[str], book: Rulebook) -> tuple[float, str]:
    count = len(images)
    if not count:
        return 0.0, f"No images; {book.name} needs at least {max(book.images_min, 1)}"
    fraction = min(1.0, count / book.images_recommended)
    reason = f"{count} image{'s' if count != 1 else ''}; {book.images_recommended}+ recommended"
    if book.images_max is not None and count > book.images_max:
        fraction *= 0.5
        reason += f", over {book.name}'s maximum of {book.images_max}"
    return fraction, reason


def _compliance(issues: list[Issue]) -> tuple[float, str]:
    errors = [i for i in issues if i.severity is Severity.ERROR]
    warnings = [i for i in issues if i.severity is Severity.WARNING]
    if not errors and not warnings:
        return 1.0, "No validation errors or warnings"
    penalty = _ERROR_PENALTY * len(errors) + _WARNING_PENALTY * len(warnings)
    fraction = max(0.0, 1.0 - penalty / 20)
    parts = []
    if errors:
        parts.append(f"{len(errors)} error{'s' if len(errors) != 1 else ''}")
    if warnings:
        parts.append(f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''}")
    codes = ", ".join(dict.fromkeys(i.code for i in (*errors, *warnings)))
    return fraction, f"{' and '.join(parts)} from validation ({codes})"
