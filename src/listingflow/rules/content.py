"""Offline body text: facts from the source description, bullets, descriptions, keywords.

The source description is split into a heading, prose sentences and feature items; sentences
that advertise, make claims or carry seller details (delivery, invoices, warranty, returns) are
dropped whole rather than edited, so what remains reads as the seller wrote it. Everything
written here is source text or an attribute line ("Color: black").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from listingflow.rules.markup import escape, sanitize, to_blocks
from listingflow.rules.rulebooks import Rulebook
from listingflow.rules.terms import PLACEHOLDERS, TERM_LISTS
from listingflow.rules.text import (
    STOP_FOLDS,
    capitalize_first,
    clean_chars,
    core_of,
    cut_text,
    find_terms,
    fold,
    has_letter,
    split_sentences,
    squash,
    word_tokens,
)

# Offline descriptions keep the first few thousand characters: past that, feeds are boilerplate.
OFFLINE_DESCRIPTION_MAX = 5000
_PLAIN_NOISE = frozenset("<>")
_MAX_LEAD_WORDS = 3
_MAX_ITEM = 500  # one list item or feature line
_PLACEHOLDER_WORDS = frozenset({"n/a", "tbd", "tba"})
# Single words of every term list: never offered as a keyword or tag.
_BANNED_WORDS = frozenset(
    fold(core_of(term))
    for by_language in TERM_LISTS.values()
    for terms in by_language.values()
    for term in terms
    if " " not in term
)


@dataclass(slots=True)
class Content:
    heading: str | None = None
    paragraphs: list[str] = field(default_factory=list)  # kept sentences, one entry per paragraph
    features: list[str] = field(default_factory=list)  # list items and "Label: a; b; c" parts

    @property
    def sentences(self) -> list[str]:
        return [s for paragraph in self.paragraphs for s in split_sentences(paragraph)]

    def texts(self) -> list[str]:
        return [*([self.heading] if self.heading else []), *self.paragraphs, *self.features]


def extract_content(description: str | None, brand_folds: frozenset[str]) -> Content:
    content = Content()
    for block in to_blocks(description or ""):
        # Cleaned before any check, so no later edit can join words into a banned phrase.
        text = squash(clean_chars(block.text, _PLAIN_NOISE, symbols=True))
        if not text:
            continue
        if block.kind == "heading":
            if content.heading is None and not _is_junk(text, brand_folds):
                content.heading = text
        elif block.kind == "item":
            _add_feature(content.features, split_lead(text)[1], brand_folds)
        else:
            kept = _paragraph_sentences(text, content.features, brand_folds)
            if kept:
                content.paragraphs.append(" ".join(kept))
    return content


def _paragraph_sentences(text: str, features: list[str], brand_folds: frozenset[str]) -> list[str]:
    kept = []
    for sentence in split_sentences(text):
        lead, body = split_lead(sentence)
        if not body:
            continue  # a label alone ("Najważniejsze cechy:") introduces a list, says nothing
        if lead and ";" in body:
            for part in body.rstrip(".").split(";"):
                _add_feature(features, part.strip(), brand_folds)
        elif not _is_junk(sentence, brand_folds):
            kept.append(sentence)
    return kept


def _add_feature(features: list[str], text: str, brand_folds: frozenset[str]) -> None:
    text = text.strip().rstrip(".;,").strip()
    if text and has_letter(text) and not _is_junk(text, brand_folds):
        features.append(capitalize_first(text))


def split_lead(sentence: str) -> tuple[str | None, str]:
    """Split a lead-in label (up to three words before a colon) from the rest:
    'Features: a; b' -> ('Features', 'a; b')."""
    head, colon, rest = sentence.partition(":")
    if not colon or len(head.split()) > _MAX_LEAD_WORDS or not has_letter(head):
        return None, sentence
    return head, rest.strip()


def _is_junk(text: str, brand_folds: frozenset[str]) -> bool:
    """Advertising, claims, seller details, or a placeholder ("N/A") Amazon deletes."""
    words = text.split()
    folds = [fold(core_of(w)) for w in words]
    return bool(find_terms(words, folds, brand_folds)) or any(
        f in _PLACEHOLDER_WORDS for f in folds
    )


def clean_attribute_lines(
    pairs: Sequence[tuple[str, str]], labels: Sequence[str], brand_folds: frozenset[str]
) -> list[str]:
    """Attribute lines ('Color: black') for attributes whose value is not itself junk."""
    lines = []
    for (_, value), label in zip(pairs, labels, strict=True):
        value_text = squash(clean_chars(value, _PLAIN_NOISE, symbols=True))
        label_text = squash(clean_chars(label, _PLAIN_NOISE, symbols=True))
        line = f"{label_text}: {value_text}"
        if value_text and label_text and not _is_junk(line, brand_folds):
            lines.append(line)
    return lines


# --- bullets -----------------------------------------------------------------------------


def build_bullets(
    content: Content,
    attribute_lines: Sequence[str],
    title: str,
    book: Rulebook,
    brand_folds: frozenset[str],
) -> list[str]:
    limit = book.bullet_recommended_length or book.bullet_max_length or 250
    remove = book.bullet_forbidden_chars | _PLAIN_NOISE
    said = {fold(t) for t in word_tokens(title)}
    bullets: list[str] = []
    seen: set[str] = set()
    sentences = [split_lead(s)[1] for s in content.sentences]
    for candidate in (*content.features, *sentences):
        text = cut_text(
            capitalize_first(squash(clean_chars(candidate, remove, symbols=True))), limit
        )
        key = fold(text)
        if not has_letter(text) or key in seen or key.strip(".") in PLACEHOLDERS:
            continue
        if _is_junk(text, brand_folds):
            continue  # removing a banned character ("free€shipping") can make a phrase
        if {fold(t) for t in word_tokens(text)} <= said:
            continue  # repeats the title, tells the buyer nothing new
        seen.add(key)
        bullets.append(text)
    attributes = _attribute_bullet(attribute_lines, remove, limit, brand_folds)
    slots = book.bullets_max - (1 if attributes else 0)
    return bullets[:slots] + ([attributes] if attributes else [])


def _attribute_bullet(
    lines: Sequence[str], remove: frozenset[str], limit: int, brand_folds: frozenset[str]
) -> str | None:
    parts: list[str] = []
    for line in lines:
        text = squash(clean_chars(line, remove, symbols=True))
        if not text or ":" not in text or not text.split(":", 1)[1].strip():
            continue
        if _is_junk(text, brand_folds):
            continue
        if len("; ".join([*parts, text])) <= limit:
            parts.append(text)
    return "; ".join(parts) or None


# --- descriptions ------------------------------------------------------------------------


def render_description(content: Content, attribute_lines: Sequence[str], book: Rulebook) -> str:
    limit = min(book.description_max or OFFLINE_DESCRIPTION_MAX, OFFLINE_DESCRIPTION_MAX)
    if book.description_format == "plain":
        return _render_plain(content, attribute_lines, limit)
    return _render_html(content, attribute_lines, book, limit)


def _render_plain(content: Content, attribute_lines: Sequence[str], limit: int) -> str:
    def plain(text: str) -> str:
        return squash(clean_chars(text, _PLAIN_NOISE, symbols=True))

    blocks = [plain(p) for p in ([content.heading] if content.heading else [])]
    blocks += [plain(p) for p in content.paragraphs]
    items = [plain(f) for f in content.features]
    if not blocks and not items:
        items = [plain(line) for line in attribute_lines]
    if items:
        blocks.append("\n".join(f"- {item}" for item in items if item))
    return _fill([b for b in blocks if b], "\n\n", limit)


def _render_html(
    content: Content, attribute_lines: Sequence[str], book: Rulebook, limit: int
) -> str:
    tags = book.description_tags
    blocks: list[tuple[str, str]] = []
    if content.heading:
        blocks.append(("h2" if "h2" in tags else "p", content.heading))
    blocks += [("p", paragraph) for paragraph in content.paragraphs]
    items = [cut_text(item, _MAX_ITEM) for item in (*content.features, *attribute_lines)]
    as_list = {"ul", "li"} <= tags
    if not as_list:
        blocks += [("p", item) for item in items]
    pieces: list[str] = []
    room = limit
    for tag, text in blocks:
        piece = _element(tag, text, room)
        if piece is None:
            break
        pieces.append(piece)
        room -= len(piece)
    if as_list and items:
        rows = []
        room -= len("<ul></ul>")
        for item in items:
            row = f"<li>{escape(item)}</li>"
            if len(row) > room:
                break
            rows.append(row)
            room -= len(row)
        if rows:
            pieces.append("<ul>" + "".join(rows) + "</ul>")
    html = sanitize("".join(pieces), tags)
    while len(html) > limit and pieces:  # only if sanitizing lengthened it: never seen, but sure
        pieces.pop()
        html = sanitize("".join(pieces), tags)
    return html


def _element(tag: str, text: str, room: int) -> str | None:
    """<tag>text</tag> within room characters, the text cut at a word boundary if needed."""
    overhead = 2 * len(tag) + 5
    budget = room - overhead
    while budget > 40:
        body = escape(cut_text(text, budget))
        if len(body) + overhead <= room:
            return f"<{tag}>{body}</{tag}>" if body else None
        budget -= len(body) + overhead - room
    return None


def _fill(blocks: Iterable[str], separator: str, limit: int) -> str:
    """Whole blocks while they fit; the first block that does not is cut at a word boundary."""
    out: list[str] = []
    size = 0
    for block in blocks:
        extra = len(block) + (len(separator) if out else 0)
        if size + extra <= limit:
            out.append(block)
            size += extra
            continue
        room = limit - size - (len(separator) if out else 0)
        if room > 40:
            out.append(cut_text(block, room))
        break
    return separator.join(out)


# --- keywords ----------------------------------------------------------------------------


def keyword_candidates(
    sources: Iterable[str], title: str, brand_folds: frozenset[str]
) -> list[str]:
    """Lower-case words of the sources, in order, not in the title, not the brand, not banned."""
    said = {fold(t) for t in word_tokens(title)} | set(brand_folds)
    seen: set[str] = set()
    words = []
    for source in sources:
        for token in word_tokens(source):
            key = fold(token)
            if (
                key in seen
                or key in said
                or key in STOP_FOLDS
                or key in _BANNED_WORDS
                or len(token) < 2
                or token.isdigit()
            ):
                continue
            seen.add(key)
            lowered = token.lower()
            words.append(lowered if fold(lowered) == key else token)
    return words


def fit_search_terms(words: Iterable[str], max_bytes: int) -> list[str]:
    kept: list[str] = []
    size = 0
    for word in words:
        extra = len(word.encode("utf-8")) + (1 if kept else 0)
        if size + extra <= max_bytes:
            kept.append(word)
            size += extra
    return kept


def fit_tags(words: Iterable[str], count: int, max_length: int) -> list[str]:
    return [w for w in words if len(w) <= max_length][:count]
