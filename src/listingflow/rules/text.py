"""Text primitives for the rules: words and their cores, folding, term search, casing, cutting.

A "word" is a whitespace-separated piece of text as written ("Spray," "(Paperback)"); its
"core" drops the punctuation around it ("Spray", "Paperback") and its "fold" is the core
case-folded without Polish/German diacritics, the key every comparison uses. Removing a
character always leaves a space, so no edit can glue two source words into a new one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from listingflow.rules.terms import (
    ALL_STOPWORDS,
    LANGUAGE_LETTERS,
    LANGUAGE_MARKERS,
    TERM_LISTS,
    TRAILING_JUNK,
    TermKind,
)

_TOKEN = re.compile(r"[^\W_]+")
_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[^\W\d_]")
_SENTENCE_END = re.compile(r"[.!?…]+[\"”')]*\s+")
_DIACRITICS = str.maketrans(
    "ąćęłńóśźżäöüàáâãåçèéêëìíîïñòôõùúûýÿčďěňřšťůž",
    "acelnoszzaouaaaaaceeeeiiiinooouuuyycdenrstuz",
)
_EDGE_KEEP = frozenset("#%+&")
_PHRASE_BREAKS = frozenset('.!?;:,)"')  # kept at a word's edge: "#1", "100%", "Duetto+", "&"
# Symbols that carry measurements and stay in titles although they are category So.
MEASUREMENT_SYMBOLS = frozenset("°℃℉№")
_CONTROL_WHITESPACE = frozenset("\t\n\r")
_PRINTABLE_ASCII = frozenset(map(chr, range(0x20, 0x7F)))
YEAR = re.compile(r"(19|20)\d\d")
NUMBERISH = re.compile(r"\d[\d.,/x]*[^\W\d_]{0,4}%?", re.IGNORECASE)


def word_tokens(text: str) -> list[str]:
    """Runs of letters and digits: the unit of "does the source say this word"."""
    return _TOKEN.findall(text)


@lru_cache(maxsize=65536)
def fold(word: str) -> str:
    """Case- and diacritic-insensitive key: "WYSYŁKA" and "wysylka" fold alike."""
    return word.casefold().translate(_DIACRITICS)


@lru_cache(maxsize=65536)
def core_of(word: str) -> str:
    """The word without surrounding punctuation: "(Paperback)," -> "Paperback"."""
    start, end = 0, len(word)
    while start < end and not (word[start].isalnum() or word[start] in _EDGE_KEEP):
        start += 1
    while end > start and not (word[end - 1].isalnum() or word[end - 1] in _EDGE_KEEP):
        end -= 1
    return word[start:end]


def is_number(word: str) -> bool:
    """A quantity ('20', '1,7', '2.', '1/2'), which binds to the unit after it."""
    core = core_of(word)
    return bool(core) and core[0].isdigit() and not has_letter(core)


def has_digit(word: str) -> bool:
    return _DIGIT.search(word) is not None


def has_letter(word: str) -> bool:
    return _LETTER.search(word) is not None


# --- characters -------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def is_odd_symbol(ch: str) -> bool:
    """Emojis, pictographs, private-use and invisible format characters."""
    if ch in MEASUREMENT_SYMBOLS or ch.isalnum():  # never a letter or digit: no word may split
        return False
    code = ord(ch)
    if 0x1F000 <= code <= 0x1FBFF or 0xFE00 <= code <= 0xFE0F or code == 0x20E3:
        return True
    return unicodedata.category(ch) in ("So", "Co", "Cs", "Cn", "Cf")


@lru_cache(maxsize=16384)
def _unwanted(ch: str, symbols: bool) -> bool:
    if ch in _CONTROL_WHITESPACE:
        return False
    if unicodedata.category(ch) == "Cc":
        return True
    return symbols and is_odd_symbol(ch)


def clean_chars(text: str, remove: frozenset[str] = frozenset(), *, symbols: bool) -> str:
    """Replace removed characters (and odd symbols, control characters) with spaces."""
    # Distinct characters are few even in long texts, and most are plain ASCII: only the rest
    # needs a Unicode lookup.
    chars = set(text)
    unwanted = (chars & remove) | {ch for ch in chars - _PRINTABLE_ASCII if _unwanted(ch, symbols)}
    if not unwanted:
        return text
    return text.translate(dict.fromkeys(map(ord, unwanted), " "))


def squash(text: str) -> str:
    """Collapse every run of whitespace (including no-break spaces) to one space."""
    return " ".join(text.split())


# --- terms -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TermHit:
    start: int  # index of the first word
    end: int  # one past the last word
    kind: TermKind
    phrase: str  # the words as written in the text


def _term_index() -> dict[str, list[tuple[tuple[str, ...], TermKind]]]:
    index: dict[str, list[tuple[tuple[str, ...], TermKind]]] = {}
    for kind, by_language in TERM_LISTS.items():
        for terms in by_language.values():
            for term in terms:
                key = tuple(fold(core_of(part)) for part in term.split())
                entries = index.setdefault(key[0], [])
                if (key, kind) not in entries:
                    entries.append((key, kind))
    for entries in index.values():
        entries.sort(key=lambda entry: -len(entry[0]))  # longest phrase wins
    return index


TERM_INDEX = _term_index()
# Folded forms: comparisons run on folds, so "für" must be stored as "fur".
STOP_FOLDS: frozenset[str] = frozenset(fold(word) for word in ALL_STOPWORDS)
_JUNK_FOLDS: frozenset[str] = frozenset(fold(word) for word in TRAILING_JUNK)


def find_terms(
    words: Sequence[str], folds: Sequence[str], exempt: frozenset[str] = frozenset()
) -> list[TermHit]:
    """Banned or weak terms in a word sequence; words whose fold is exempt (brand) never match."""
    hits: list[TermHit] = []
    i, n = 0, len(folds)
    while i < n:
        entries = TERM_INDEX.get(folds[i])
        matched = False
        if entries and folds[i] not in exempt:
            for key, kind in entries:
                end = i + len(key)
                if end <= n and tuple(folds[i:end]) == key:
                    if any(f in exempt for f in folds[i:end]) or _broken(words, i, end):
                        continue
                    hits.append(TermHit(i, end, kind, " ".join(words[i:end])))
                    i, matched = end, True
                    break
        if not matched:
            i += 1
    return hits


def _broken(words: Sequence[str], start: int, end: int) -> bool:
    """A phrase does not run across punctuation: "low. Price" is not "low price"."""
    return any(words[k][-1:] in _PHRASE_BREAKS for k in range(start, end - 1))


def extend_junk(hit: TermHit, cores: Sequence[str], folds: Sequence[str]) -> tuple[int, int]:
    """Widen a removed term over the scraps it leaves: "WYSYŁKA 24H", "PL DYSTRYBUCJA"."""
    start, end = hit.start, hit.end
    while start > 0 and folds[start - 1] in _JUNK_FOLDS:
        start -= 1
    while end < len(cores):
        core = cores[end]
        if folds[end] in _JUNK_FOLDS:
            end += 1
        elif hit.kind is TermKind.TIME_BOUND:
            if not YEAR.fullmatch(core):
                break
            end += 1
        elif NUMBERISH.fullmatch(core):
            end += 1
        else:
            break
    return start, end


# --- casing ------------------------------------------------------------------------------


def is_shouting(core: str) -> bool:
    """An ALL CAPS word of four or more letters that is not an identifier (no digits)."""
    if not core.isupper() or has_digit(core):
        return False
    return sum(1 for ch in core if ch.isalpha()) >= 4


def same_letters(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


def capitalize_first(text: str) -> str:
    """Upper-case the first letter if the text starts lower case (sentence case)."""
    for index, ch in enumerate(text):
        if ch.isalpha():
            upper = ch.upper()
            if not ch.islower() or len(upper) != 1:  # "ß" -> "SS" would change the length
                return text
            candidate = text[:index] + upper + text[index + 1 :]
            return candidate if same_letters(candidate, text) else text
        if ch.isdigit():
            return text
    return text


def recase(word: str, style: str) -> str:
    """Style 'lower' or 'title' (each hyphen part capitalised); unchanged if letters differ."""
    lowered = word.lower()
    if style == "title":
        lowered = "-".join(capitalize_first(part) for part in lowered.split("-"))
    return lowered if same_letters(lowered, word) else word


# --- lengths -----------------------------------------------------------------------------


def fit_words(words: Sequence[str], limit: int, separator: str = " ") -> list[str]:
    """The longest prefix of words whose join fits the limit; words longer than it are skipped."""
    kept: list[str] = []
    size = 0
    for word in words:
        if len(word) > limit:
            continue
        extra = len(word) + (len(separator) if kept else 0)
        if size + extra > limit:
            break
        kept.append(word)
        size += extra
    return kept


def cut_text(text: str, limit: int) -> str:
    """Cut at a word boundary within the limit and drop dangling connectors."""
    if len(text) <= limit:
        return text
    return tidy_end(" ".join(fit_words(text.split(), limit)))


_DANGLING = ",;:-\u2013\u2014/&+(|\u00b7\u2022"


def tidy_end(text: str) -> str:
    """Trim trailing separators a cut leaves behind: "Set with", "Case, -"."""
    words = text.split()
    while words:
        last = words[-1].rstrip(_DANGLING)
        if not last or (fold(core_of(last)) in STOP_FOLDS and len(words) > 1):
            words.pop()
            continue
        words[-1] = last
        break
    result = " ".join(words)
    return balance_parentheses(result)


def balance_parentheses(text: str) -> str:
    """Drop an opening bracket whose closing one was cut off (and vice versa)."""
    if text.count("(") == text.count(")"):
        return text
    depth, drop = 0, set()
    opened: list[int] = []
    for index, ch in enumerate(text):
        if ch == "(":
            opened.append(index)
            depth += 1
        elif ch == ")":
            if opened:
                opened.pop()
            else:
                drop.add(index)
    drop.update(opened)
    # Only brackets at a word's edge dangle; one inside a word ("0)AAAA") stays, since removing
    # it would split the word in two.
    drop = {i for i in drop if i == 0 or i == len(text) - 1 or " " in text[i - 1 : i + 2]}
    return squash("".join(" " if i in drop else ch for i, ch in enumerate(text)))


# --- sentences ---------------------------------------------------------------------------


def split_sentences(text: str) -> list[str]:
    """Split prose at sentence ends followed by a capital letter ("rozm. 36" stays whole)."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        following = text[match.end() : match.end() + 1]
        if following and (following.isupper() or following in "\"„“'("):
            sentences.append(text[start : match.end()].strip())
            start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return [s for s in sentences if s]


# --- language ----------------------------------------------------------------------------


def detect_language(texts: Iterable[str]) -> str | None:
    """A small guess among pl/de/en from marker words and letters; None when unsure."""
    scores = dict.fromkeys(LANGUAGE_MARKERS, 0)
    for text in texts:
        sample = text[:1500]
        for language, letters in LANGUAGE_LETTERS.items():
            if not letters.isdisjoint(sample):
                scores[language] += 3
        for token in word_tokens(sample.lower()):
            for language in _MARKER_LANGUAGES.get(token, ()):
                scores[language] += 1
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    best, best_score = ranked[0]
    if best_score < 2 or best_score == ranked[1][1]:
        return None
    return best


_MARKER_LANGUAGES: dict[str, tuple[str, ...]] = {}
for _language, _markers in LANGUAGE_MARKERS.items():
    for _marker in _markers:
        _MARKER_LANGUAGES[_marker] = (*_MARKER_LANGUAGES.get(_marker, ()), _language)
