"""The LLM engine through the API, against the local OpenAI-compatible server over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr
from tests.conftest import running_app
from tests.factories import product_payload
from tests.fakes.openai_server import FakeLLMServer

from listingflow.config import Settings


@pytest.fixture(scope="module")
def llm_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(retry_after=1, hang_seconds=1.0) as server:
        yield server


@pytest.fixture
def llm(llm_server: FakeLLMServer, settings: Settings) -> Iterator[FakeLLMServer]:
    llm_server.reset()
    settings.llm_api_key = SecretStr(llm_server.api_key)
    settings.llm_base_url = llm_server.base_url
    settings.llm_rpm = settings.llm_tpm = settings.llm_rpd = None
    settings.llm_timeout = 0.5
    settings.llm_deadline = 5
    yield llm_server
    llm_server.reset()


async def _product(client: httpx.AsyncClient) -> int:
    payload = product_payload(
        title="Słuchawki bezprzewodowe Sony WH-1000XM5 czarne",
        description="Słuchawki nauszne z ANC, Bluetooth 5.3, do 30 godzin pracy.",
        attributes={"color": "czarny", "ean": "4548736132610"},
    )
    return int((await client.post("/api/import/product", json=payload)).json()["product_id"])


async def test_llm_listing_records_engine_model_and_prompt_version(
    client: httpx.AsyncClient, llm: FakeLLMServer
) -> None:
    product_id = await _product(client)
    response = await client.post(
        f"/api/ai/optimize/{product_id}?target_marketplace=ebay&engine=llm"
    )
    assert response.status_code == 200, response.text
    [listing] = (await client.get(f"/api/products/{product_id}/listings")).json()
    assert listing["engine"] == "llm"
    assert listing["model"] == "llama-3.3-70b-versatile"
    assert listing["prompt_version"]
    assert len(listing["title"]) <= 80
    assert not any(i["severity"] == "error" for i in listing["issues"])
    assert len(llm.chat_requests) == 1
    # The key went to the server as a Bearer token, and the prompt carried the source facts.
    request = llm.chat_requests[0]
    assert "WH-1000XM5" in str(request.body)


async def test_the_same_input_is_never_paid_for_twice(
    client: httpx.AsyncClient, llm: FakeLLMServer
) -> None:
    product_id = await _product(client)
    for _ in range(3):
        await client.post(f"/api/ai/optimize/{product_id}?target_marketplace=allegro")
    assert len(llm.chat_requests) == 1  # the default engine is the LLM once a key is set


async def test_invented_facts_are_removed_and_noted(
    client: httpx.AsyncClient, llm: FakeLLMServer
) -> None:
    llm.plan("invent")
    product_id = await _product(client)
    await client.post(f"/api/ai/optimize/{product_id}?target_marketplace=ebay&engine=llm")
    [listing] = (await client.get(f"/api/products/{product_id}/listings")).json()
    text = " ".join([listing["title"], listing["description"], *listing["bullets"]])
    assert "5000" not in text
    assert any("5000 mAh" in note for note in listing["notes"])


async def test_an_unreachable_llm_falls_back_to_offline(
    client: httpx.AsyncClient, llm: FakeLLMServer, settings: Settings
) -> None:
    settings.llm_api_key = SecretStr("wrong-key")
    product_id = await _product(client)
    response = await client.post(
        f"/api/ai/optimize/{product_id}?target_marketplace=ebay&engine=llm"
    )
    assert response.status_code == 200
    [listing] = (await client.get(f"/api/products/{product_id}/listings")).json()
    assert listing["engine"] == "offline"
    assert any("LLM engine failed" in note for note in listing["notes"])


async def test_fallback_fail_answers_502(
    client: httpx.AsyncClient, llm: FakeLLMServer, settings: Settings
) -> None:
    settings.llm_fallback = "fail"
    settings.llm_api_key = SecretStr("wrong-key")
    product_id = await _product(client)
    response = await client.post(f"/api/ai/optimize/{product_id}?engine=llm")
    assert response.status_code == 502
    assert "LLM" in response.json()["detail"]


async def test_llm_engine_without_a_key_is_422(client: httpx.AsyncClient) -> None:
    product_id = await _product(client)
    response = await client.post(f"/api/ai/optimize/{product_id}?engine=llm")
    assert response.status_code == 422
    assert "LISTINGFLOW_LLM_API_KEY" in response.json()["detail"]


async def test_usage_is_counted_per_workspace_per_day(
    client: httpx.AsyncClient, llm: FakeLLMServer
) -> None:
    before = (await client.get("/api/ai/usage")).json()
    assert before["calls"] == 0
    assert before["llm_configured"] is True
    product_id = await _product(client)
    await client.post(f"/api/ai/optimize/{product_id}?target_marketplace=ebay&engine=llm")
    after = (await client.get("/api/ai/usage")).json()
    assert after["calls"] == 1
    assert after["prompt_tokens"] > 0
    assert after["quota"]["requests_per_day"] is None  # the fixture lifts the budgets
    assert after["provider_usage"] is not None


async def test_usage_without_an_llm(client: httpx.AsyncClient) -> None:
    usage = (await client.get("/api/ai/usage")).json()
    assert usage["llm_configured"] is False
    assert usage["calls"] == 0
    assert usage["quota"]["requests_per_minute"] == 30


async def test_llm_answers_are_shared_through_redis_by_every_process(
    settings: Settings, llm: FakeLLMServer, redis_url: str
) -> None:
    """Two API processes (two apps, one Redis): the second never pays for the same input."""
    settings.redis_url = redis_url
    payload = product_payload(source_id="SHARED-1", title="Czajnik elektryczny Bosch 1,7 l")
    calls = []
    for _ in range(2):
        async with running_app(settings) as (_, client):
            product = (await client.post("/api/import/product", json=payload)).json()
            # A hand edit makes the stored listing unusable, so only the cache can help.
            url = f"/api/ai/optimize/{product['product_id']}?target_marketplace=ebay"
            await client.post(url)
            [listing] = (await client.get(f"/api/products/{product['product_id']}/listings")).json()
            await client.patch(f"/api/listings/{listing['id']}", json={"title": "Czajnik"})
            await client.post(url)
            [listing] = (await client.get(f"/api/products/{product['product_id']}/listings")).json()
            assert listing["engine"] == "llm"
        calls.append(len(llm.chat_requests))
    assert calls == [1, 1]


async def test_batch_llm_work_runs_on_the_llm_queue(
    client: httpx.AsyncClient, llm: FakeLLMServer
) -> None:
    ids = [await _product(client) for _ in range(2)]
    body = (
        await client.post(
            "/api/ai/batch-optimize",
            json={"product_ids": ids, "target_marketplace": "ebay", "engine": "llm"},
        )
    ).json()
    assert body["status"] == "success", body
    listings = [(await client.get(f"/api/products/{i}/listings")).json()[0] for i in ids]
    assert {item["engine"] for item in listings} == {"llm"}
