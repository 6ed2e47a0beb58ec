"""Deterministic repairs of a model's draft so it fits a marketplace's hard limits (pure).

A model asked for 80 characters sometimes writes 95, or slips in a banned word. Asking again
costs a request from a small daily budget and may fail the same way, so we repair instead:
trim at a word boundary, drop banned terms, cap bullets and keywords. Every repair is reported
in words a seller understands.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from listingflow.integrations.llm.base import ListingLimits

# Characters that make no sense at the end of a trimmed title or bullet, or around a removed word.
_DANGLING = " \t\n,;:-\u2013\u2014|/&+\u00b7\u2022"


@dataclass(slots=True)
class Repaired:
    title: str
    description: str
    bullets: list[str]
    keywords: list[str]
    repaired: list[str] = field(default_factory=list)


@lru_cache(maxsize=512)
def _term_pattern(term: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in term.split()]
    # Whole words only ("best" is banned, "bestseller" is not); any whitespace between words.
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE)


def find_terms(text: str, terms: Iterable[str]) -> list[str]:
    """The banned terms that occur in `text` as whole words, case-insensitively."""
    return [t for t in terms if t.strip() and _term_pattern(t.strip()).search(text)]


def tidy(text: str) -> str:
    """Collapse the spaces and separators a removal leaves behind; keep paragraph breaks."""
    lines = []
    for line in text.splitlines():
        line = re.sub(r"[ \t\u00a0]+", " ", line)
        line = re.sub(r"\s+([,.;:!?])", r"\1", line)
        line = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", line)
        line = re.sub(r"[,;:]+([.!?])", r"\1", line)
        line = re.sub(r"\(\s*\)|\[\s*\]", "", line)
        line = re.sub(r"(\s[-\u2013\u2014|/&+])(?:\s*[-\u2013\u2014|/&+](?=\s|$))+", r"\1", line)
        line = re.sub(r"[ \t]+", " ", line)
        lines.append(line.strip(_DANGLING))
    joined = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", joined).strip()


def remove_terms(text: str, terms: Iterable[str]) -> tuple[str, list[str]]:
    """Remove every whole-word occurrence of the terms; returns the text and the terms found."""
    found: list[str] = []
    # Removing one term can join words into another banned phrase: repeat until nothing changes.
    for _ in range(5):
        changed = False
        for term in terms:
            term = term.strip()
            if not term:
                continue
            new, count = _term_pattern(term).subn(" ", text)
            if count:
                changed = True
                text = new
                if term not in found:
                    found.append(term)
        if not changed:
            break
        text = tidy(text)
    return text, found


def trim_at_word(text: str, max_chars: int) -> str:
    """At most `max_chars` characters, cut at the last whitespace that fits.

    A single word longer than the limit is cut hard; separators left dangling at the end go.
    """
    if max_chars <= 0:
        return ""
    if len(text) <= max_chars:
        return text
    head = text[: max_chars + 1]
    cut = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
    trimmed = text[:cut].rstrip(_DANGLING) if cut > 0 else ""
    if not trimmed:
        trimmed = text[:max_chars].rstrip(_DANGLING)
    return trimmed


def trim_at_sentence(text: str, max_chars: int) -> str:
    """Prefer ending on a full sentence when one ends in the second half of the limit."""
    if len(text) <= max_chars:
        return text
    head = text[: max_chars + 1]
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s)", head)]
    if ends and ends[-1] >= max_chars // 2:
        return text[: ends[-1]].rstrip()
    return trim_at_word(text, max_chars)


def squash(text: str) -> str:
    """Runs of spaces within a line become one; paragraph breaks stay."""
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _clean(
    text: str, limit: int | None, banned: Sequence[str], *, sentences: bool = False
) -> tuple[str, list[str], int]:
    """Banned terms out, then the length; repeated because a hard cut can expose a term."""
    removed: list[str] = []
    original = len(text)
    text = squash(text)
    for _ in range(3):
        text, found = remove_terms(text, banned)
        removed += [t for t in found if t not in removed]
        if limit is not None and len(text) > limit:
            text = trim_at_sentence(text, limit) if sentences else trim_at_word(text, limit)
            continue
        break
    return text, removed, original


def _note_cleaning(
    notes: list[str], name: str, original: int, text: str, removed: list[str], limit: int | None
) -> None:
    for term in removed:
        notes.append(f"{name}: removed the banned term '{term}'")
    if limit is not None and original > limit:
        notes.append(f"{name}: shortened from {original} to {len(text)} characters (limit {limit})")


def fit_bullets(
    bullets: Sequence[str], *, max_count: int, max_chars: int, banned: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    notes: list[str] = []
    kept: list[str] = []
    for i, bullet in enumerate(bullets):
        text, removed, original = _clean(bullet, max_chars, banned)
        _note_cleaning(notes, f"bullets[{i}]", original, text, removed, max_chars)
        if text and text.casefold() not in {b.casefold() for b in kept}:
            kept.append(text)
    if len(kept) > max_count:
        notes.append(f"bullets: kept {max_count} of {len(kept)} (limit {max_count})")
        kept = kept[: max(max_count, 0)]
    return kept, notes


def fit_keywords(
    keywords: Sequence[str],
    *,
    max_bytes: int,
    max_count: int | None = None,
    max_chars: int | None = None,
    banned: Sequence[str] = (),
) -> tuple[list[str], list[str]]:
    """Clean, de-duplicate, then keep keywords in order while they fit the byte budget.

    Bytes count the UTF-8 of the keywords joined by single spaces: the stricter reading of
    Amazon's search-terms rule (whether spaces count is disputed).
    """
    notes: list[str] = []
    cleaned: list[str] = []
    seen: set[str] = set()
    for keyword in keywords:
        text, removed, _ = _clean(" ".join(keyword.split()), max_chars, banned)
        notes += [f"keywords: removed the banned term '{t}'" for t in removed]
        if text and text.casefold() not in seen:
            seen.add(text.casefold())
            cleaned.append(text)
    if max_count is not None and len(cleaned) > max_count:
        notes.append(f"keywords: kept {max_count} of {len(cleaned)} (limit {max_count})")
        cleaned = cleaned[: max(max_count, 0)]
    kept: list[str] = []
    size = 0
    for keyword in cleaned:
        cost = len(keyword.encode()) + (1 if kept else 0)
        if size + cost <= max_bytes:
            kept.append(keyword)
            size += cost
    if len(kept) < len(cleaned):
        notes.append(
            f"keywords: dropped {len(cleaned) - len(kept)} to fit {max_bytes} bytes "
            f"({size} bytes kept)"
        )
    return kept, notes


def repair_listing(
    *,
    title: str,
    description: str,
    bullets: Sequence[str],
    keywords: Sequence[str],
    limits: ListingLimits,
    fallback_title: str = "",
) -> Repaired:
    """Every field within `limits`; `fallback_title` (the source's) if no title is left."""
    notes: list[str] = []
    banned = [t for t in limits.banned_terms if t.strip()]

    new_title, removed, original = _clean(title, limits.title_max, banned)
    _note_cleaning(notes, "title", original, new_title, removed, limits.title_max)
    if not new_title and fallback_title:
        new_title, _, _ = _clean(fallback_title, limits.title_max, banned)
        notes.append("title: nothing usable was left, the source title was used")

    new_description, removed, original = _clean(
        description, limits.description_max, banned, sentences=True
    )
    _note_cleaning(notes, "description", original, new_description, removed, limits.description_max)

    new_bullets, bullet_notes = fit_bullets(
        bullets, max_count=limits.bullets_max, max_chars=limits.bullet_max_chars, banned=banned
    )
    new_keywords, keyword_notes = fit_keywords(
        keywords,
        max_bytes=limits.search_terms_max_bytes,
        max_count=limits.keywords_max,
        max_chars=limits.keyword_max_chars,
        banned=banned,
    )
    return Repaired(
        title=new_title,
        description=new_description,
        bullets=new_bullets,
        keywords=new_keywords,
        repaired=notes + bullet_notes + keyword_notes,
    )
