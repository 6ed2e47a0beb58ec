"""The rulebooks as this installation configures them: overrides and category requirements.

Values the reference marks unverified are settings (LISTINGFLOW_RULEBOOK_OVERRIDES), and a
category's extra required attributes come from LISTINGFLOW_CATEGORY_REQUIREMENTS_FILE (from the
marketplaces' own schema APIs later).
"""

from __future__ import annotations

import json
from functools import lru_cache

from listingflow import config
from listingflow.exceptions import ValidationFailed
from listingflow.rules.rulebooks import (
    Rulebook,
    category_required_attributes,
    get_rulebook,
    load_category_requirements,
)


@lru_cache(maxsize=64)
def _rulebook(marketplace: str, overrides_json: str) -> Rulebook:
    return get_rulebook(marketplace, json.loads(overrides_json) or None)


def rulebook_for(marketplace: str) -> Rulebook:
    """The marketplace's rulebook with the operator's overrides from settings."""
    overrides = config.settings.rulebook_overrides.get(marketplace) or {}
    try:
        return _rulebook(marketplace, json.dumps(overrides, sort_keys=True))
    except ValueError as exc:
        raise ValidationFailed(
            f"LISTINGFLOW_RULEBOOK_OVERRIDES: {exc}", field="rulebook_overrides"
        ) from exc


@lru_cache(maxsize=4)
def _requirements(path: str, mtime: float) -> dict[str, dict[str, list[str]]]:
    return load_category_requirements(path)


def required_attributes_for(marketplace: str, category: str | None) -> list[str]:
    """A category's extra required attributes from LISTINGFLOW_CATEGORY_REQUIREMENTS_FILE."""
    path = config.settings.category_requirements_file
    if path is None:
        return []
    try:
        requirements = _requirements(str(path), path.stat().st_mtime)
    except (OSError, ValueError) as exc:
        raise ValidationFailed(
            f"LISTINGFLOW_CATEGORY_REQUIREMENTS_FILE: {exc}", field="category_requirements_file"
        ) from exc
    return category_required_attributes(requirements, marketplace, category)
