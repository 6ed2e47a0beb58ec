"""The LLM server timing out on every call: with LISTINGFLOW_LLM_FALLBACK=offline each item is
written by the offline engine and its note says why; with `fail` each item fails with a clear
message once its retries are spent (each attempt ends at the LLM deadline, so nothing hangs)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from listingflow.config import Settings
from listingflow.job.runner import MAX_ATTEMPTS
from tests.factories import product_payload
from tests.fakes.openai_server import FakeLLMServer

PRODUCTS = 3


@pytest.fixture
def hanging_llm(settings: Settings) -> Iterator[FakeLLMServer]:
    """Every chat call answers only after 5 s; our client gives up on a call after 0.5 s and
    on a listing after 2 s."""
    with FakeLLMServer(hang_seconds=5.0, rpd_limit=100_000, tpm_limit=10_000_000) as server:
        server.plan(then="timeout")
        settings.llm_api_key = SecretStr(server.api_key)
        settings.llm_base_url = server.base_url
        settings.llm_rpm = settings.llm_tpm = settings.llm_rpd = None
        settings.llm_timeout = 0.5
        settings.llm_deadline = 2.0
        settings.job_wait_seconds = 30
        yield server


async def _batch(client: httpx.AsyncClient, prefix: str) -> dict[str, object]:
    batch = [product_payload(source_id=f"{prefix}-{i}") for i in range(PRODUCTS)]
    assert (await client.post("/api/import/batch", json=batch)).status_code == 200
    page = (await client.get("/api/products", params={"page_size": 100})).json()
    ids = [p["id"] for p in page["items"]]
    response = await client.post(
        "/api/ai/batch-optimize",
        json={"product_ids": ids, "target_marketplace": "ebay", "engine": "llm"},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_llm_timeouts_fall_back_to_offline_with_the_reason_noted(
    client: httpx.AsyncClient, settings: Settings, hanging_llm: FakeLLMServer
) -> None:
    settings.llm_fallback = "offline"
    body = await _batch(client, "LT")
    assert body["status"] == "success", body
    assert body["success_count"] == PRODUCTS
    assert hanging_llm.chat_requests  # the LLM was really tried
    for result in body["results"]:  # type: ignore[union-attr]
        listings = (await client.get(f"/api/products/{result['product_id']}/listings")).json()
        [listing] = listings
        assert listing["engine"] == "offline"
        notes = " ".join(listing["notes"])
        assert re.search(r"LLM engine failed \(no reply within [\d.]+s\)", notes), notes


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # ~35 s of retries
async def test_llm_timeouts_with_fallback_fail_fail_cleanly_within_the_deadline(
    client: httpx.AsyncClient, settings: Settings, hanging_llm: FakeLLMServer
) -> None:
    settings.llm_fallback = "fail"
    settings.job_wait_seconds = 0
    # A job: each attempt ends at its deadline; the item is retried with backoff as a
    # transient failure and, after the last attempt, fails with the reason. Nothing written.
    body = await _batch(client, "LF")
    job_id = body["job_id"]
    job: dict[str, Any] = {}
    for _ in range(120):
        job = (await client.get(f"/api/jobs/{job_id}")).json()
        if job["status"] == "completed":
            break
        await asyncio.sleep(0.5)
    assert job["status"] == "completed" and job["failed"] == job["total"] == PRODUCTS, job
    for item in job["items"]:
        assert item["status"] == "failed"
        assert item["attempts"] == MAX_ATTEMPTS
        assert re.search(r"LLM.*no reply within [\d.]+s", item["last_error"]), item
        listings = (await client.get(f"/api/products/{item['product_id']}/listings")).json()
        assert listings == []
