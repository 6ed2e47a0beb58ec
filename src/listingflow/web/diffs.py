"""Word-level differences between an original text and its optimized version (difflib)."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

_TOKENS = re.compile(r"\s+|[^\s]+")


@dataclass(frozen=True)
class Piece:
    op: str  # "same", "del" (only in the original) or "ins" (only in the new text)
    text: str


def word_diff(original: str, changed: str) -> tuple[list[Piece], list[Piece]]:
    """The original with its removed words marked, and the new text with its added words."""
    a, b = _TOKENS.findall(original or ""), _TOKENS.findall(changed or "")
    left: list[Piece] = []
    right: list[Piece] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            left.append(Piece("same", "".join(a[i1:i2])))
            right.append(Piece("same", "".join(b[j1:j2])))
            continue
        if i2 > i1:
            left.append(Piece("del", "".join(a[i1:i2])))
        if j2 > j1:
            right.append(Piece("ins", "".join(b[j1:j2])))
    return left, right
