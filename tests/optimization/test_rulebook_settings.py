"""Rulebook values from settings: overrides for unverified limits, category requirements."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from tests.factories import product_payload

from listingflow.config import Settings


async def _optimize(client: httpx.AsyncClient, marketplace: str, **overrides: object) -> dict:
    payload = product_payload(**overrides)
    product_id = (await client.post("/api/import/product", json=payload)).json()["product_id"]
    response = await client.post(
        f"/api/ai/optimize/{product_id}?target_marketplace={marketplace}&engine=offline"
    )
    assert response.status_code == 200, response.text
    [listing] = (await client.get(f"/api/products/{product_id}/listings")).json()
    return listing


async def test_an_override_changes_the_limit(client: httpx.AsyncClient, settings: Settings) -> None:
    default = await _optimize(client, "allegro")
    settings.rulebook_overrides = {"allegro": {"title_max": 30}}
    short = await _optimize(client, "allegro")
    assert len(default["title"]) > 30
    assert len(short["title"]) <= 30


async def test_an_unknown_override_is_a_clear_error(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    settings.rulebook_overrides = {"ebay": {"title_maximum": 70}}
    payload = product_payload()
    product_id = (await client.post("/api/import/product", json=payload)).json()["product_id"]
    response = await client.post(f"/api/ai/optimize/{product_id}?target_marketplace=ebay")
    assert response.status_code == 422
    assert "title_maximum" in response.json()["detail"]


async def test_category_requirements_come_from_the_file(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "requirements.json"
    path.write_text(
        json.dumps({"ebay": {"Elektronika > Audio > Słuchawki": ["impedance_ohm"]}}),
        encoding="utf-8",
    )
    settings.category_requirements_file = path
    missing = await _optimize(client, "ebay")
    assert any("impedance_ohm" in issue["message"] for issue in missing["issues"])
    present = await _optimize(
        client, "ebay", attributes={"impedance_ohm": "32", "condition": "new"}
    )
    assert not any("impedance_ohm" in issue["message"] for issue in present["issues"])
