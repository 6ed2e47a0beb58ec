"""HTML in and out: source descriptions to text blocks, marketplace-safe description HTML.

Parsing and sanitizing go through nh3 (Ammonia, an html5ever parser), never regexes: a source
description is first reduced by nh3 to a few structural tags without attributes, and only that
canonical output is walked. Descriptions we write are escaped text in an allow-list of tags,
passed through the marketplace's nh3 cleaner once more before they leave.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from typing import Literal

import nh3

from listingflow.rules.rulebooks import ACTIVE_CONTENT_TAGS
from listingflow.rules.text import clean_chars, squash

BlockKind = Literal["heading", "paragraph", "item"]

_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_ITEMS = frozenset({"li", "dt", "dd"})
_BREAKS = frozenset({"p", "br", "div", "ul", "ol", "dl", "table", "tr", "td", "th", "blockquote"})
# Tags whose content is not description text: dropped with everything inside them.
_DROP_CONTENT = frozenset(
    {
        "script",
        "style",
        "iframe",
        "object",
        "embed",
        "applet",
        "noscript",
        "template",
        "textarea",
        "title",
        "svg",
        "math",
        "select",
        "frame",
        "frameset",
        "head",
    }
)
_STRUCTURE = nh3.Cleaner(
    tags=set(_HEADINGS | _ITEMS | _BREAKS),
    clean_content_tags=set(_DROP_CONTENT),
    attributes={},
    strip_comments=True,
    link_rel=None,
)
_LIST_MARKERS = ("- ", "* ", "\u2022 ", "\u2013 ", "\u00b7 ", "\u2014 ")


@dataclass(frozen=True, slots=True)
class Block:
    kind: BlockKind
    text: str  # plain text, whitespace squashed


def looks_like_html(text: str) -> bool:
    return "<" in text and nh3.is_html(text)


def to_blocks(source: str) -> list[Block]:
    """Headings, paragraphs and list items of a description, HTML or plain text."""
    if not source:
        return []
    # Control characters become spaces first: the parser would delete NUL and join two words.
    source = clean_chars(source, symbols=False)
    if "<" not in source:
        return _plain_blocks(html.unescape(source) if "&" in source else source)
    blocks: list[Block] = []
    kind: BlockKind = "paragraph"
    parts: list[str] = []

    def flush() -> None:
        text = squash(html.unescape("".join(parts)))
        parts.clear()
        if text:
            blocks.append(Block(kind, text))

    # nh3 output is canonical: only structural tags without attributes, text escaped, so every
    # "<" opens a tag and splitting on it is exact.
    pieces = _STRUCTURE.clean(source).split("<")
    parts.append(pieces[0])
    for piece in pieces[1:]:
        tag, _, text = piece.partition(">")
        closing = tag.startswith("/")
        name = tag.strip("/ ").lower()
        if name in _ITEMS:
            flush()
            kind = "paragraph" if closing else "item"
        elif name in _HEADINGS:
            flush()
            kind = "paragraph" if closing else "heading"
        elif name in _BREAKS:
            flush()
        parts.append(text)
    flush()
    return blocks


def _plain_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith(_LIST_MARKERS):
            item = squash(stripped[2:])
            if item:
                blocks.append(Block("item", item))
        else:
            blocks.append(Block("paragraph", squash(stripped)))
    return blocks


def html_to_text(source: str) -> str:
    """The readable text of a description, one block per line."""
    return "\n".join(block.text for block in to_blocks(source))


@lru_cache(maxsize=32)
def _cleaner(tags: frozenset[str]) -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=set(tags),
        clean_content_tags=set(_DROP_CONTENT - tags),
        attributes={},
        strip_comments=True,
        link_rel=None,
    )


def sanitize(description: str, allowed_tags: frozenset[str]) -> str:
    """The description with only the allowed tags, no attributes, no active content."""
    return _cleaner(allowed_tags).clean(description)


def escape(text: str) -> str:
    return html.escape(text, quote=False)


@dataclass(frozen=True, slots=True)
class MarkupReport:
    tags: frozenset[str]  # every tag name used
    active: frozenset[str]  # script/iframe/... and on* handlers, javascript: URLs


class _Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.active: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag in ACTIVE_CONTENT_TAGS:
            self.active.add(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.active.add(f"{name}=")
            elif value and "javascript:" in value.replace(" ", "").lower():
                self.active.add(f"{name}=javascript:")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


def inspect_markup(text: str) -> MarkupReport:
    """Which tags a description uses and whether any of it is active content."""
    if "<" not in text:
        return MarkupReport(frozenset(), frozenset())
    inspector = _Inspector()
    inspector.feed(text)
    inspector.close()
    return MarkupReport(frozenset(inspector.tags), frozenset(inspector.active))
