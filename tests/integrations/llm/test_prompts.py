"""The versioned prompt and the parsing of the reply it asks for."""

from __future__ import annotations

import json

import pytest
from tests.integrations.llm.samples import AMAZON_LIMITS, HEADPHONES

from listingflow.integrations.llm.prompts import (
    PROMPT_VERSION,
    ReplyInvalid,
    build_messages,
    parse_draft,
)


def test_the_prompt_carries_version_rules_and_source_facts() -> None:
    system, user = build_messages(HEADPHONES, "Amazon", AMAZON_LIMITS, "de")

    assert "JSON" in system["content"] and '"de"' in system["content"]
    assert '"best", "cheapest"' in system["content"]
    payload = json.loads(user["content"])
    assert payload["prompt_version"] == PROMPT_VERSION == "2026-11-30.1"
    assert payload["marketplace"] == "amazon"
    assert payload["product"]["price"] == "349.00"
    assert payload["limits"]["search_terms_max_bytes"] == 60


def test_a_reply_in_a_code_fence_with_loose_shapes_is_accepted() -> None:
    content = """Here you go:
```json
{"title": " Sony headphones ", "description": ["One.", "Two."],
 "bullets": "- Light\\n- Black", "keywords": "sony, wireless; anc", "extra": 1}
```"""

    draft = parse_draft(content)

    assert draft.title == "Sony headphones"
    assert draft.description == "One.\n\nTwo."
    assert draft.bullets == ["Light", "Black"]
    assert draft.keywords == ["sony", "wireless", "anc"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "empty"),
        ('{"title": "unterminated', "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"description": "no title"}', "title"),
        ('{"title": ""}', "title"),
    ],
)
def test_unusable_replies_are_refused_with_a_reason(content: str, reason: str) -> None:
    with pytest.raises(ReplyInvalid, match=reason):
        parse_draft(content)
