"""The versioned listing prompt per marketplace and the reply it asks for.

Change any text here and bump PROMPT_VERSION: cached results are keyed by it, so a new prompt
re-optimizes instead of serving listings written under the old one. The user message is JSON
(the rules and the source facts), which models follow well and local test servers can read.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from listingflow.integrations.llm.base import ListingLimits
from listingflow.rules.types import SourceProduct

PROMPT_VERSION = "2026-11-30.1"

SYSTEM_PROMPT = """\
You write product listings for the online marketplace {marketplace}.
Reply with one JSON object and nothing else, with exactly these keys:
"title" (string), "description" (plain text string), "bullets" (array of strings),
"keywords" (array of strings).

Facts:
- Use only facts stated in "product". Never invent numbers, measurements, capacities,
  certifications, model codes, compatibility or features. Leave out what the product does not say.
- Keep brand names, model codes, numbers and units exactly as the product gives them.

Language: write every field in the language "{language}"; translate the product's text
faithfully if it is in another language.

Limits (the marketplace rejects listings that break them):
- title: at most {title_max} characters.
- bullets: at most {bullets_max}, each at most {bullet_max_chars} characters.
- keywords: search terms a buyer would type, no brand names, no repeats of title words where
  avoidable; all keywords joined by spaces at most {search_terms_max_bytes} UTF-8 bytes.
- never use these terms: {banned_terms}.
- no HTML, no emojis, no ALL CAPS words, no promotional claims, prices, shipping or warranty
  promises.

{marketplace} rules: {guidance}
"""

# What each marketplace asks beyond the limits (shared/reference/marketplace-rules.md).
MARKETPLACE_GUIDANCE: dict[str, str] = {
    "amazon": (
        "title as brand, product line, product type, key attributes; no ! $ ? _ { } ^ "
        "characters; no word more than twice; bullets start with the benefit; no special "
        "characters such as trademark signs; keywords without brand names, 'new' or 'best'."
    ),
    "ebay": (
        "title of the words buyers search for, most important first; the description may use "
        "short paragraphs; item specifics belong in the bullets."
    ),
    "allegro": (
        "write in Polish; title with the product's name, model and key parameter; the "
        "description has only product information, no delivery, returns or seller details."
    ),
    "kaufland": (
        "title 50-80 characters in correct grammar; no symbols, emojis or ALL CAPS (brands "
        "excepted), no keyword strings, no price or condition advertising."
    ),
    "etsy": (
        "short readable title; keywords are tags: at most 13, each at most 20 characters, "
        "no duplicates."
    ),
    "shopify": "a clear title; a description that reads well on a product page.",
    "bol": (
        "title pattern: brand, series, product group, size, count or feature; no English words "
        "in a Dutch listing; no sales slogans, websites, prices or delivery times."
    ),
}
DEFAULT_GUIDANCE = "a clear, factual listing that a buyer can scan quickly."


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def product_facts(product: SourceProduct) -> dict[str, Any]:
    """The source facts the model may use (images are left out: they carry no facts for text)."""
    facts: dict[str, Any] = {
        "title": product.title,
        "description": product.description,
        "brand": product.brand,
        "category": product.category,
        "price": product.price,
        "currency": product.currency,
        "language": product.language,
        "attributes": product.attributes or {},
    }
    return _jsonable({k: v for k, v in facts.items() if v not in (None, "", {})})


def build_messages(
    product: SourceProduct, marketplace: str, limits: ListingLimits, target_language: str
) -> list[dict[str, str]]:
    key = marketplace.strip().lower()
    system = SYSTEM_PROMPT.format(
        marketplace=marketplace,
        language=target_language,
        title_max=limits.title_max,
        bullets_max=limits.bullets_max,
        bullet_max_chars=limits.bullet_max_chars,
        search_terms_max_bytes=limits.search_terms_max_bytes,
        banned_terms=", ".join(f'"{t}"' for t in limits.banned_terms) or "(none)",
        guidance=MARKETPLACE_GUIDANCE.get(key, DEFAULT_GUIDANCE),
    )
    user = {
        "prompt_version": PROMPT_VERSION,
        "marketplace": key,
        "target_language": target_language,
        "limits": limits.as_dict(),
        "product": product_facts(product),
    }
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": json.dumps(user, ensure_ascii=False)},
    ]


class ListingDraft(BaseModel):
    """The reply the prompt asks for; lenient in shape, strict in content."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    title: str = Field(min_length=1)
    description: str = ""
    bullets: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)

    @field_validator("description", mode="before")
    @classmethod
    def _join_paragraphs(cls, value: Any) -> Any:
        # Some models return paragraphs as a list.
        if isinstance(value, list):
            return "\n\n".join(str(v) for v in value)
        return "" if value is None else value

    @field_validator("bullets", mode="before")
    @classmethod
    def _split_bullets(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [line.strip(" -*\u2022") for line in value.splitlines() if line.strip()]
        return [] if value is None else value

    @field_validator("keywords", mode="before")
    @classmethod
    def _split_keywords(cls, value: Any) -> Any:
        # Amazon-style search terms often come back as one space- or comma-separated string.
        if isinstance(value, str):
            return [k for k in re.split(r"[,;\n]+" if "," in value else r"\s+", value) if k]
        return [] if value is None else value

    @field_validator("bullets", "keywords", mode="after")
    @classmethod
    def _drop_empty(cls, value: list[str]) -> list[str]:
        return [v.strip() for v in value if v.strip()]


class ReplyInvalid(ValueError):
    """The model's text is not the JSON object the prompt asked for."""


def parse_draft(content: str | None) -> ListingDraft:
    """Parse a reply, tolerating a code fence or prose around the JSON object."""
    if not content or not content.strip():
        raise ReplyInvalid("the reply is empty")
    text = content.strip()
    fenced = re.search(r"```(?:json)?\s*(\{.*\})\s*```", text, re.DOTALL)
    if fenced:
        text = fenced.group(1)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            raise ReplyInvalid("the reply is not JSON") from None
        try:
            data = json.loads(text[start : end + 1])
        except json.JSONDecodeError as exc:
            raise ReplyInvalid(f"the reply is not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ReplyInvalid("the reply is not a JSON object")
    try:
        return ListingDraft.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ReplyInvalid(f"the reply's {where or 'object'} is invalid: {first['msg']}") from None
