"""Offline title rewriting: the source title, cleaned and reordered for one marketplace.

Only words of the source survive (title, brand, attribute values; category as a last resort):
promotional, subjective, time-bound and seller-info terms are dropped with the scraps they
leave ("WYSYŁKA 24H"), forbidden characters and emojis go, SHOUTING is re-cased (the form the
description uses wins, else Title Case for en/de and lower case for pl), repeated words are
dropped, the brand moves to where the marketplace wants it, key attributes fill spare room,
and the result is cut at a word boundary.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from listingflow.rules.rulebooks import Rulebook
from listingflow.rules.terms import TermKind
from listingflow.rules.text import (
    STOP_FOLDS,
    capitalize_first,
    clean_chars,
    core_of,
    extend_junk,
    find_terms,
    fit_words,
    fold,
    has_digit,
    has_letter,
    is_number,
    is_shouting,
    recase,
    squash,
    tidy_end,
    word_tokens,
)
from listingflow.rules.types import Severity

# Characters no title needs on any marketplace: shouting punctuation, markup, price signs.
TITLE_NOISE = frozenset("!?<>{}|~^¬¦_\\`*$")
_SEPARATORS = frozenset("-\u2013\u2014&/+,|:;\u00b7")
_SEGMENT_BREAKS = frozenset("-\u2013\u2014|")  # "Product - Gift for men, women, ..."
_KEYWORD_LIST_COMMAS = 4  # a segment with this many commas is a keyword string
_MODEL_RUN_MAX = 5
_UNIT_MAX = 3  # letters in a unit: "GB", "mm", "kg"
_TYPE_RUN_MAX = 4


@dataclass(slots=True)
class TitleFacts:
    """What the title may draw on besides the source title itself."""

    brand: str | None
    language: str | None
    attributes: Sequence[tuple[str, str]]  # (canonical key, value) in priority order
    casing: Mapping[str, str] = field(default_factory=dict)  # fold -> form the source uses
    known_caps: frozenset[str] = frozenset()  # acronyms the description writes in capitals
    fallback: Sequence[str] = ()  # texts to build from if nothing of the title survives


def title_chars(book: Rulebook) -> frozenset[str]:
    return TITLE_NOISE | book.title_forbidden_chars | (book.title_restricted_chars - {"#"})


def build_title(source_title: str, book: Rulebook, facts: TitleFacts) -> str:
    remove = title_chars(book)
    brand_words = [
        w for w in clean_chars(facts.brand or "", remove, symbols=True).split() if core_of(w)
    ]
    brand_folds = tuple(fold(core_of(w)) for w in brand_words)
    if "&" in source_title:
        source_title = html.unescape(source_title)  # "Fish &amp; Chips" from HTML exports
    words = _clean_words(clean_chars(source_title, remove, symbols=True).split(), book, brand_folds)
    if not any(has_letter(core_of(w)) for w in words):
        words = _fallback(facts.fallback, remove, book, brand_folds)
    words = _recase(words, brand_folds, facts)
    words = _tidy_separators(_dedupe(words))
    words = _dedupe(_place_brand(words, brand_words, brand_folds, book))
    words = _append_attributes(words, facts, remove, book, brand_folds)
    title = _scrub(_join(_tidy_separators(words)), book, brand_folds)
    title = tidy_end(_join(fit_words(title.split(), book.title_max)))
    title = _start_upper(title, brand_folds)
    return _limit_once_chars(title, book.title_once_chars)


def _scrub(title: str, book: Rulebook, brand_folds: tuple[str, ...]) -> str:
    """Last pass: dropping words can bring two halves of a banned phrase together."""
    for _ in range(3):
        words = title.split()
        folds = [fold(core_of(w)) for w in words]
        drop = {
            index
            for hit in find_terms(words, folds, frozenset(brand_folds))
            if not (hit.kind is TermKind.TIME_BOUND and _keep_time_word(words, hit.start, book))
            for index in range(hit.start, hit.end)
        }
        if not drop:
            break
        title = _join(_tidy_separators([w for i, w in enumerate(words) if i not in drop]))
    return title


def _join(words: Iterable[str]) -> str:
    return squash(" ".join(words))


def _clean_words(words: list[str], book: Rulebook, brand_folds: tuple[str, ...]) -> list[str]:
    """Drop banned terms with their scraps, and trailing keyword strings ("... - Gift for men
    women kids, ideal for home, office, travel, Christmas")."""
    words = [w.replace("#", " ").strip() if "#" in w and not has_digit(w) else w for w in words]
    words = [w for w in words if w]
    cores = [core_of(w) for w in words]
    folds = [fold(c) for c in cores]
    drop: set[int] = set()
    for hit in find_terms(words, folds, frozenset(brand_folds)):
        if hit.kind is TermKind.TIME_BOUND and _keep_time_word(words, hit.start, book):
            continue
        start, end = extend_junk(hit, cores, folds)
        drop.update(range(start, end))
    segment_of = _segments(words)
    commas = [0] * (segment_of[-1] + 1 if segment_of else 0)
    branded = set()
    for index, word in enumerate(words):
        commas[segment_of[index]] += word.endswith(",")
        if folds[index] in brand_folds:
            branded.add(segment_of[index])
    lists = {i for i, n in enumerate(commas) if i and n >= _KEYWORD_LIST_COMMAS} - branded
    return [w for i, w in enumerate(words) if i not in drop and segment_of[i] not in lists]


def _segments(words: list[str]) -> list[int]:
    """Segment number of each word; a lone dash or bar starts the next segment."""
    numbers, current = [], 0
    for word in words:
        if word in _SEGMENT_BREAKS:
            current += 1
        numbers.append(current)
    return numbers


def _keep_time_word(words: list[str], index: int, book: Rulebook) -> bool:
    """Keep a time-bound word that is part of a name ("New York"); "NEW", a leading "New" and
    "new" before lower case are claims."""
    if book.time_bound_in_title is Severity.ERROR or index == 0:
        return False
    word, following = words[index], words[index + 1] if index + 1 < len(words) else ""
    return word[:1].isupper() and not word.isupper() and following[:1].isupper()


def _recase(words: list[str], brand_folds: tuple[str, ...], facts: TitleFacts) -> list[str]:
    cores = [core_of(w) for w in words]
    lettered = [c for c in cores if has_letter(c)]
    caps = [c for c in lettered if c.isupper() and not has_digit(c)]
    mostly_shouting = len(caps) * 2 >= len(lettered) > 0
    result = []
    starts = True  # at the start of the title or of a segment: "The" stays capitalised
    unit = False
    for word, core in zip(words, cores, strict=True):
        key = fold(core)
        new_core = core
        if core and key not in brand_folds and key not in facts.known_caps:
            if is_shouting(core):
                new_core = _normal_case(core, key, facts, starts)
            elif mostly_shouting and core.isupper() and not has_digit(core):
                if key in STOP_FOLDS:
                    new_core = _normal_case(core, key, facts, starts)
                elif key in facts.casing:  # "FIT" -> "fit"; "XL", with no other form, stays
                    known = facts.casing[key]
                    title_case = facts.language in ("en", None) and not unit
                    new_core = recase(core, "title") if title_case and known.islower() else known
        result.append(word.replace(core, new_core, 1) if new_core != core else word)
        starts = word in _SEPARATORS or word.endswith(":") or word.endswith(".")
        unit = is_number(word)  # the next word is a unit ("6 MM" -> "6 mm", not "6 Mm")
    return result


def _normal_case(core: str, key: str, facts: TitleFacts, starts: bool) -> str:
    """How a shouted word is written: as the description writes it, else by language rule.
    English titles use Title Case, so only a form with capitals counts there ("SkinIQ"); German
    and Polish lower-case forms are meaningful (adjectives, not nouns)."""
    known = facts.casing.get(key)
    if facts.language == "en" or facts.language is None:
        if known is not None and not known.islower():
            return known
        if key in STOP_FOLDS and not starts:
            return core.lower()
        return recase(core, "title")
    if known is not None:
        return known
    return recase(core, "lower" if facts.language == "pl" else "title")


def _dedupe(words: list[str]) -> list[str]:
    """Keep the first of repeated words. Stopwords repeat freely; a short unit after a number
    may appear twice ("128 GB, 8 GB RAM"), Amazon's limit for any word."""
    seen: dict[str, int] = {}
    kept: list[str] = []
    for word in words:
        core = core_of(word)
        key = fold(core)
        if has_letter(core) and len(key) > 1 and key not in STOP_FOLDS:
            unit = len(key) <= _UNIT_MAX and bool(kept) and is_number(kept[-1])
            if seen.get(key, 0) >= (2 if unit else 1):
                continue
            seen[key] = seen.get(key, 0) + 1
        kept.append(word)
    return kept


def _find(words: Sequence[str], folds: Sequence[str]) -> int:
    size = len(folds)
    if not size:
        return -1
    for i in range(len(words) - size + 1):
        if all(fold(core_of(words[i + k])) == folds[k] for k in range(size)):
            return i
    return -1


def _place_brand(
    words: list[str], brand_words: list[str], brand_folds: tuple[str, ...], book: Rulebook
) -> list[str]:
    if not brand_folds or not words:
        return words
    size = len(brand_folds)
    at = _find(words, brand_folds)
    if at >= 0:
        # The brand as the seller spells it ("adidas", "De'Longhi"), punctuation of the title kept.
        last = words[at + size - 1]
        core = core_of(last)
        tail = last[last.find(core) + len(core) :]
        words = [*words[:at], *brand_words[:-1], brand_words[-1] + tail, *words[at + size :]]
    if book.title_order == "type_first":
        return _brand_after_type(words, brand_words, at)
    if at == 0:
        return words
    if at < 0:
        return [*brand_words, *words]
    run = _model_run(words, at + size)
    return [*words[at : at + size + run], *words[:at], *words[at + size + run :]]


def _model_run(words: list[str], start: int) -> int:
    """How many words after the brand name its product line ("Galaxy A54 5G", "MX Master 3S").
    0 when the line does not end cleanly ("Air Max 90 sneakersy": the number binds to what
    follows): then only the brand moves, and the model stays where the seller put it."""
    count = 0
    while start + count < len(words):
        word = words[start + count]
        core = core_of(word)
        if not core or fold(core) in STOP_FOLDS or word in _SEPARATORS:
            break
        following = core_of(words[start + count + 1]) if start + count + 1 < len(words) else ""
        if is_number(word) and (not following or not following[:1].isupper()):
            return 0  # "10 elementów", "Pump 2 pompka": a quantity, or a model we cannot delimit
        if not (core[:1].isupper() or has_digit(core)):
            break
        count += 1
        if count > _MODEL_RUN_MAX:
            return 0
        if word.endswith(","):
            break
    return count


def _brand_after_type(words: list[str], brand_words: list[str], at: int) -> list[str]:
    """Allegro reads "product type + brand + model": put the brand after the leading type words."""
    type_end = _type_run_end(words)
    if at >= 0:
        if type_end is None or at <= type_end:
            return words
        size = len(brand_words)
        rest = [*words[:at], *words[at + size :]]
        return [*rest[:type_end], *words[at : at + size], *rest[type_end:]]
    if type_end is None:
        return [*brand_words, *words]
    return [*words[:type_end], *brand_words, *words[type_end:]]


def _type_run_end(words: list[str]) -> int | None:
    """End of "Buty damskie" or "Mata do jogi" at the start of "Buty damskie adidas ...": the
    first word and the lower-case words after it. None when the title is Title Case and the
    type cannot be told apart."""
    if len(words) < 2 or not core_of(words[1])[:1].islower():
        return None
    end = 1
    while end < len(words) and end < _TYPE_RUN_MAX:
        core = core_of(words[end])
        if not core or not core.islower() or has_digit(core) or words[end - 1].endswith(","):
            break
        if fold(core) in STOP_FOLDS:
            following = core_of(words[end + 1]) if end + 1 < len(words) else ""
            if not following.islower() or has_digit(following) or end + 2 > _TYPE_RUN_MAX:
                break
            end += 1  # "do jogi", "na telefon": the preposition belongs to the type
        end += 1
    return end


def _fallback(
    texts: Sequence[str], remove: frozenset[str], book: Rulebook, brand_folds: tuple[str, ...]
) -> list[str]:
    for text in texts:
        words = _clean_words(clean_chars(text, remove, symbols=True).split(), book, brand_folds)
        if any(has_letter(core_of(w)) for w in words):
            return words
    return []


def _present(value: str, title_folds: set[str]) -> bool:
    """Is an attribute value already said? Prefix match absorbs inflection: czarny ~ czarna."""
    for token in word_tokens(value):
        key = fold(token)
        if key in title_folds:
            continue
        if len(key) < 4 or not any(_similar(key, other) for other in title_folds):
            return False
    return True


def _similar(a: str, b: str) -> bool:
    if len(b) < 4:
        return False
    common = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        common += 1
    return common >= 4 and common >= min(len(a), len(b)) - 2


def _append_attributes(
    words: list[str],
    facts: TitleFacts,
    remove: frozenset[str],
    book: Rulebook,
    brand_folds: tuple[str, ...],
) -> list[str]:
    if not words:
        return words
    target = book.title_recommended_max or book.title_max
    title = tidy_end(_join(words))
    title_folds = {fold(t) for t in word_tokens(title)}
    for key, value in facts.attributes:
        if key not in book.title_attribute_keys:
            continue
        text = _join(_recase(clean_chars(value, remove, symbols=True).split(), brand_folds, facts))
        if not text or len(text) > 40 or _present(text, title_folds):
            continue
        parts = text.split()
        if find_terms(parts, [fold(core_of(p)) for p in parts]):
            continue
        if book.title_attribute_separator == ", ":
            text = capitalize_first(text)
        candidate = f"{title}{book.title_attribute_separator}{text}"
        if len(candidate) > target:
            continue
        title = candidate
        title_folds.update(fold(t) for t in word_tokens(text))
    return title.split()


def _tidy_separators(words: list[str]) -> list[str]:
    """No title starts with, ends with or doubles a lone separator."""
    kept: list[str] = []
    for word in words:
        lone = word in _SEPARATORS or not core_of(word)
        if lone and (not kept or kept[-1] in _SEPARATORS or kept[-1].endswith(",")):
            continue
        kept.append(word)
    while kept and (kept[-1] in _SEPARATORS or not core_of(kept[-1])):
        kept.pop()
    return kept


def _start_upper(title: str, brand_folds: tuple[str, ...]) -> str:
    first = title.split(" ", 1)[0] if title else ""
    core = core_of(first)
    if not core or not core.islower() or has_digit(core) or fold(core) in brand_folds:
        return title
    return capitalize_first(title)


def _limit_once_chars(title: str, once: frozenset[str]) -> str:
    for ch in once:
        first = title.find(ch)
        if first >= 0 and title.count(ch) > 1:
            title = title[: first + 1] + title[first + 1 :].replace(ch, " ")
    return squash(title) if once else title
