"""The invented-facts guard (pure): specs a model writes must come from the source product.

Checked in the model's output: numbers with or without units ("5000 mAh", "30 h", "2,4 GHz",
"10%"), model codes (tokens mixing letters and digits, "WH-1000XM5") and named features written
in capitals or CamelCase ("ANC", "LDAC", "MagSafe"). Plain words are not checked: translation and
rephrasing are the model's job, new specs are not. Numbers compare by value, so a decimal comma
and point, thousands separators and spacing do not matter; a unit must match too (a source
"30 W" does not allow "30 h"), except that a number the source gives without a unit (an
attribute value) allows any unit.

What fails is taken out: the span from a title, the sentence from a description or a bullet (a
sentence left with a hole would still be a claim, or nonsense), the keyword from keywords.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from listingflow.integrations.llm.repair import tidy
from listingflow.rules.types import SourceProduct

_UNITS: dict[str, str] = {
    **{u: u for u in ("mah", "ah", "wh", "kwh", "mwh", "ms", "hz", "khz", "mhz", "ghz", "w")},
    **{u: u for u in ("kw", "v", "kv", "mv", "a", "ma", "mm", "cm", "m", "km", "nm", "ft")},
    **{u: u for u in ("g", "kg", "mg", "oz", "l", "ml", "cl", "gb", "tb", "mb", "kb", "%")},
    **{u: u for u in ("gbps", "mbps", "k", "p", "x", "rpm", "fps", "lm", "ppi", "dpi", "bar")},
    **{u: u for u in ("psi", "nit", "min", "s", "db", "°", "°c", "°f", "µm")},
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours", "std", "stunden", "godz", "godzin"), "h"),
    **dict.fromkeys(("godziny", "heures", "ore", "uur"), "h"),
    **dict.fromkeys(("mins", "minute", "minutes", "minuten", "minut"), "min"),
    **dict.fromkeys(("sec", "secs", "second", "seconds", "sek", "sekunden"), "s"),
    **dict.fromkeys(("dba", "db(a)"), "db"),
    **dict.fromkeys(("in", "inch", "inches", "zoll", "cal", "″"), "in"),
    **dict.fromkeys(("lb", "lbs"), "lb"),
    **dict.fromkeys(("ltr", "litre", "liter", "litr", "litry", "litrów"), "l"),
    **dict.fromkeys(("mp", "mpx", "megapixel"), "mp"),
    **dict.fromkeys(("lumen", "lumens"), "lm"),
    **dict.fromkeys(("nits",), "nit"),
    **dict.fromkeys(("pcs", "pc", "szt", "stk", "stück", "pieces", "piece", "pack", "pak"), "pcs"),
    **dict.fromkeys(("year", "years", "yr", "yrs", "lat", "lata", "jahr", "jahre"), "year"),
    **dict.fromkeys(("month", "months", "monate", "miesięcy", "miesiące"), "month"),
}

_NUM = r"[-+±]?\d+(?:[.,]\d+)*"
_NUMBER = re.compile(rf"^{_NUM}$")
_GLUED = re.compile(rf"^(?P<num>{_NUM})-?(?P<unit>[^\d\s]+)$")  # "5000mAh", "30-hour"
_TIMES = "x\u00d7*/\\-\u2013"  # 10x20, 20-20000; also the times sign and an en dash
_SERIES = re.compile(rf"^(?P<nums>{_NUM}(?:[{_TIMES}]{_NUM})+)(?P<unit>[^\d\s]*)$")
_SERIES_SPLIT = re.compile(rf"(?<=\d)[{_TIMES}](?=[-+\u00b1]?\d)")
_QUOTES = "\"'\u201c\u201d\u201e\u00ab\u00bb\u201a\u2018\u2019"
_LEAD = _QUOTES + "([{<"
_TRAIL = _QUOTES + ")]}>,;:!?."
_CAMEL = re.compile(r"[a-z][A-Z]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
# Thin, narrow no-break and no-break spaces between digit groups are thousands separators.
_GROUP_SPACE = "\u00a0\u202f\u2009"


@dataclass(frozen=True, slots=True)
class Fact:
    """One checkable claim found in a text."""

    text: str  # as written: "5000 mAh"
    kind: Literal["number", "code", "name"]
    values: frozenset[str] = frozenset()  # numbers: every reading of the digits ("5,000": 5000, 5)
    unit: str | None = None
    start: int = 0
    end: int = 0


def _canonical(number: str) -> str:
    try:
        return format(Decimal(number).normalize(), "f")
    except InvalidOperation:
        return number


def number_values(raw: str) -> frozenset[str]:
    """Every value the digits can mean: "2,4" is 2.4; "5,000" is 5000 or 5.0; "1.234,5" 1234.5."""
    s = raw.lstrip("+-±")
    if "," in s and "." in s:
        decimal = "," if s.rfind(",") > s.rfind(".") else "."
        thousands = "." if decimal == "," else ","
        return frozenset({_canonical(s.replace(thousands, "").replace(decimal, "."))})
    separators = [c for c in s if c in ",."]
    if not separators:
        return frozenset({_canonical(s)})
    parts = s.split(separators[0])
    if len(set(separators)) == 1 and len(parts) > 2:
        if all(len(p) == 3 for p in parts[1:]):
            return frozenset({_canonical("".join(parts))})
        return frozenset({s})  # a version number such as 1.2.3: compared as written
    if len(parts[1]) == 3:
        return frozenset({_canonical(parts[0] + parts[1]), _canonical(f"{parts[0]}.{parts[1]}")})
    return frozenset({_canonical(f"{parts[0]}.{parts[1]}")})


def _unit(text: str) -> str | None:
    return _UNITS.get(text.casefold().rstrip("."))


def _tokens(text: str) -> Iterator[tuple[str, int, int]]:
    """Whitespace tokens without surrounding quotes and punctuation, with their spans."""
    for match in re.finditer(r"\S+", text):
        raw = match.group()
        lead = len(raw) - len(raw.lstrip(_LEAD))
        core = raw[lead:].rstrip(_TRAIL)
        if core:
            start = match.start() + lead
            yield core, start, start + len(core)


def extract_facts(text: str, *, lenient: bool = False) -> list[Fact]:
    """The numbers, codes and named features in `text`.

    `lenient` is for the source side: digit groups split by an ordinary space ("5 000 mAh")
    are also read as one number, so a model that writes "5000 mAh" is not flagged.
    """
    original = text
    for space in _GROUP_SPACE:
        # One character for one, so spans still index the original text.
        text = re.sub(rf"(?<=\d){space}(?=\d{{3}}(?!\d))", "\u2060", text)
    tokens = [(t.replace("\u2060", ""), s, e) for t, s, e in _tokens(text)]
    text = re.sub(f"[{_GROUP_SPACE}]", " ", original)
    facts: list[Fact] = []
    i = 0
    while i < len(tokens):
        token, start, end = tokens[i]
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        # A lone "x" between numbers is a dimension ("3 x 2 cm"), not a zoom factor.
        next_unit = _unit(following[0]) if following and following[0] not in "x\u00d7*" else None
        if _NUMBER.match(token):
            if lenient and following and re.fullmatch(r"\d{3}", following[0]):
                joined = token + following[0]
                after = tokens[i + 2][0] if i + 2 < len(tokens) else ""
                values = number_values(joined)
                facts.append(Fact(joined, "number", values, _unit(after), start, end))
            unit = next_unit
            stop = following[2] if unit and following else end
            facts.append(Fact(text[start:stop], "number", number_values(token), unit, start, stop))
            i += 2 if unit else 1
            continue
        glued = _GLUED.match(token)
        if glued and _unit(glued["unit"]):
            values = number_values(glued["num"])
            facts.append(Fact(token, "number", values, _unit(glued["unit"]), start, end))
            i += 1
            continue
        series = _SERIES.match(token)
        if series and (not series["unit"] or _unit(series["unit"])):
            unit = _unit(series["unit"]) if series["unit"] else next_unit
            stop = following[2] if not series["unit"] and next_unit and following else end
            for part in _SERIES_SPLIT.split(series["nums"]):
                facts.append(
                    Fact(text[start:stop], "number", number_values(part), unit, start, stop)
                )
            i += 2 if stop != end else 1
            continue
        letters = any(c.isalpha() for c in token)
        if letters and any(c.isdigit() for c in token):
            facts.append(Fact(token, "code", start=start, end=end))
        elif letters and _unit(token) is None and _is_named(token):
            facts.append(Fact(token, "name", start=start, end=end))
        i += 1
    return facts


def _is_named(token: str) -> bool:
    letters = [c for c in token if c.isalpha()]
    capitals = sum(c.isupper() for c in letters)
    return (capitals >= 2 and capitals == len(letters)) or bool(_CAMEL.search(token))


def _compact(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).upper()


def _flatten(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield str(k)
            yield from _flatten(v)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            yield from _flatten(v)
    elif value is not None:
        yield str(value)


@dataclass(slots=True)
class SourceFacts:
    """What the source product states, indexed for the checks."""

    values: set[str] = field(default_factory=set)  # every number, whatever its unit
    unitless: set[str] = field(default_factory=set)  # numbers given without a unit
    with_unit: set[tuple[str, str]] = field(default_factory=set)
    words: set[str] = field(default_factory=set)  # upper-cased words
    compact: str = ""  # upper-cased letters and digits only, for codes

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> SourceFacts:
        facts = cls()
        joined = "\n".join(t for t in texts if t)
        for fact in extract_facts(joined, lenient=True):
            if fact.kind != "number":
                continue
            facts.values |= fact.values
            if fact.unit is None:
                facts.unitless |= fact.values
            else:
                facts.with_unit |= {(v, fact.unit) for v in fact.values}
        facts.words = {w.upper() for w in re.findall(r"\w+", joined)}
        facts.compact = _compact(joined)
        return facts

    @classmethod
    def from_product(cls, product: SourceProduct) -> SourceFacts:
        texts = [product.title, product.description or "", product.category or ""]
        texts += [product.brand or "", product.currency or ""]
        if product.price is not None:
            texts.append(format(product.price, "f"))
        texts += [f"{k}: {' '.join(_flatten(v))}" for k, v in (product.attributes or {}).items()]
        return cls.from_texts(texts)

    def allows(self, fact: Fact) -> bool:
        if fact.kind == "number":
            if fact.unit is None:
                return bool(fact.values & self.values)
            return any(v in self.unitless or (v, fact.unit) in self.with_unit for v in fact.values)
        if fact.kind == "code":
            return _compact(fact.text) in self.compact
        parts = [p for p in re.split(r"[\W_]+", fact.text) if p]
        return all(p.upper() in self.words for p in parts) or _compact(fact.text) in self.compact


def invented(text: str, source: SourceFacts) -> list[Fact]:
    """The facts in `text` the source does not back."""
    return [f for f in extract_facts(text) if not source.allows(f)]


@dataclass(slots=True)
class Guarded:
    title: str
    description: str
    bullets: list[str]
    keywords: list[str]
    flagged: list[str] = field(default_factory=list)


def _remove_spans(text: str, facts: Sequence[Fact]) -> str:
    spans: list[tuple[int, int]] = []
    for start, end in sorted({(f.start, f.end) for f in facts}):
        if spans and start <= spans[-1][1]:  # a dimension's numbers share one span
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    for start, end in reversed(spans):
        text = text[:start] + " " + text[end:]
    return tidy(text)


def _drop_sentences(text: str, source: SourceFacts, flagged: list[str]) -> str:
    if not invented(text, source):
        return text
    lines = []
    for line in text.splitlines():
        kept = []
        for sentence in _SENTENCE.split(line):
            bad = invented(sentence, source)
            if bad:
                _note(flagged, bad)
            else:
                kept.append(sentence)
        lines.append(" ".join(kept))
    return tidy("\n".join(lines))


def _note(flagged: list[str], facts: Iterable[Fact]) -> None:
    for fact in facts:
        if fact.text not in flagged:
            flagged.append(fact.text)


def guard_listing(
    *,
    title: str,
    description: str,
    bullets: Sequence[str],
    keywords: Sequence[str],
    source: SourceFacts,
) -> Guarded:
    """The listing without the facts the source does not back, and those facts as written."""
    flagged: list[str] = []
    bad = invented(title, source)
    _note(flagged, bad)
    new_title = _remove_spans(title, bad) if bad else title
    new_description = _drop_sentences(description, source, flagged)
    new_bullets = [b for b in (_drop_sentences(b, source, flagged) for b in bullets) if b]
    new_keywords = []
    for keyword in keywords:
        bad = invented(keyword, source)
        _note(flagged, bad)
        if not bad:
            new_keywords.append(keyword)
    return Guarded(new_title, new_description, new_bullets, new_keywords, flagged)
