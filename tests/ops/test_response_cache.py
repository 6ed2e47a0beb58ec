"""The front door's response cache (response_cache.py): a repeated read of dashboard stats or a
product list page is answered from the process's memory with the bytes the full stack sent, and
never at the expense of freshness, authentication, the abuse limits or the request metrics."""

from __future__ import annotations

import gzip

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import select
from tests.conftest import make_api_key, running_app
from tests.factories import product_payload

from listingflow.auth.service import auth_service
from listingflow.config import Settings
from listingflow.kit.uow import UnitOfWork
from listingflow.models import ApiKey
from listingflow.response_cache import ResponseCacheMiddleware

STATS = "/api/products/stats/summary"
LIST = "/api/products?page_size=20"


def _hits() -> float:
    labels = {"backend": "process", "kind": "response", "result": "hit"}
    return REGISTRY.get_sample_value("listingflow_cache_requests_total", labels) or 0.0


def _answered(route: str) -> float:
    labels = {"method": "GET", "route": route, "status": "200"}
    return REGISTRY.get_sample_value("listingflow_http_requests_total", labels) or 0.0


async def _import(client: httpx.AsyncClient, n: int) -> None:
    body = (
        await client.post("/api/import/batch", json=[product_payload() for _ in range(n)])
    ).json()
    assert body["failed_count"] == 0, body


def _headers(response: httpx.Response) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in response.headers.multi_items() if k != "x-request-id")


@pytest.fixture(params=["memory", "redis"])
def backend_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    if request.param == "redis":
        settings.redis_url = request.getfixturevalue("redis_url")
    return settings


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
async def test_a_repeated_read_is_replayed_byte_for_byte(
    backend_settings: Settings, encoding: str
) -> None:
    async with running_app(backend_settings) as (_, client):
        await _import(client, 30)  # the list page is over 1 KB: gzipped when accepted
        for path in (STATS, LIST):
            answers = []
            for _ in range(4):  # key checked, answer stored, then replayed twice
                hits = _hits()
                answers.append(await client.get(path, headers={"Accept-Encoding": encoding}))
            assert _hits() == hits + 1, path
            first, *rest = answers
            assert first.status_code == 200
            for answer in rest:
                assert answer.status_code == 200
                assert answer.content == first.content
                assert _headers(answer) == _headers(first)
        listed = answers[-1]
        assert listed.headers["etag"].startswith('W/"')
        assert listed.headers["content-security-policy"]
        assert (listed.headers.get("content-encoding") == "gzip") == (encoding == "gzip")
        if encoding == "gzip":  # the replay is the compressed body, with its length
            async with client.stream("GET", LIST, headers={"Accept-Encoding": "gzip"}) as raw:
                compressed = b"".join([chunk async for chunk in raw.aiter_raw()])
            assert int(raw.headers["content-length"]) == len(compressed)
            assert gzip.decompress(compressed) == listed.content
        assert len(listed.json()["items"]) == 20


async def test_a_write_is_seen_by_the_next_read(backend_settings: Settings) -> None:
    async with running_app(backend_settings) as (_, client):
        await _import(client, 2)
        for _ in range(3):
            assert (await client.get(STATS)).json()["total_products"] == 2
            assert (await client.get(LIST)).json()["total"] == 2
        await _import(client, 1)
        assert (await client.get(STATS)).json()["total_products"] == 3
        assert (await client.get(LIST)).json()["total"] == 3


async def test_a_write_through_another_process_is_seen_at_once(
    settings: Settings, redis_url: str
) -> None:
    settings.redis_url = redis_url
    async with running_app(settings) as (_, writer), running_app(settings) as (_, reader):
        for round_ in range(1, 4):
            for _ in range(3):  # the reader answers from its memory...
                assert (await reader.get(STATS)).json()["total_products"] == round_ - 1
            hits = _hits()
            await _import(writer, 1)  # ...until the other app's commit moves the generation
            assert (await reader.get(STATS)).json()["total_products"] == round_
            assert (await reader.get(LIST)).json()["total"] == round_
            assert _hits() == hits


async def test_each_workspace_gets_its_own_answers(backend_settings: Settings) -> None:
    async with running_app(backend_settings) as (app, client):
        other_key = await make_api_key(app, "other")
        await _import(client, 2)
        for _ in range(3):
            assert (await client.get(STATS)).json()["total_products"] == 2
            other = await client.get(STATS, headers={"X-API-Key": other_key})
            assert other.json()["total_products"] == 0


async def test_a_revoked_key_is_refused_although_its_answer_is_in_memory(
    backend_settings: Settings,
) -> None:
    async with running_app(backend_settings) as (app, client):
        for _ in range(3):
            assert (await client.get(STATS)).status_code == 200
        async with app.state.db.session() as session:
            key = (await session.execute(select(ApiKey))).scalars().one()
            uow = UnitOfWork(session=session, cache=app.state.cache, workspace_id=key.workspace_id)
            await auth_service.revoke_api_key(session, key.workspace_id, key.id)
            await uow.commit()
        assert (await client.get(STATS)).status_code == 401
        assert (await client.get(STATS, headers={"X-API-Key": "lf_not_a_key"})).status_code == 401
        assert (await client.get(STATS, headers={"X-API-Key": ""})).status_code == 401


async def test_the_abuse_limits_count_every_request_once(
    settings: Settings, redis_url: str
) -> None:
    settings.redis_url = redis_url
    settings.rate_limit_per_key = "5/minute"
    async with running_app(settings) as (_, client):
        statuses = [(await client.get(STATS)).status_code for _ in range(7)]
        assert statuses == [200] * 5 + [429] * 2
        refused = await client.get(STATS)
        assert refused.json()["errors"][0]["field"] == "rate_limit_per_key"
        assert int(refused.headers["retry-after"]) > 0
        assert refused.headers["x-content-type-options"] == "nosniff"
        assert refused.headers["x-request-id"]


async def test_a_conditional_read_gets_304(backend_settings: Settings) -> None:
    async with running_app(backend_settings) as (_, client):
        for _ in range(3):
            answer = await client.get(STATS)
        etag = answer.headers["etag"]
        again = await client.get(STATS, headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""


async def test_replayed_answers_carry_their_own_request_id_and_are_counted(
    backend_settings: Settings,
) -> None:
    async with running_app(backend_settings) as (_, client):
        for _ in range(2):
            await client.get(STATS)
        counted, hits = _answered("/api/products/stats/summary"), _hits()
        ids = {(await client.get(STATS)).headers["x-request-id"] for _ in range(3)}
        assert len(ids) == 3
        given = await client.get(STATS, headers={"X-Request-ID": "trace-42"})
        assert given.headers["x-request-id"] == "trace-42"
        assert _hits() == hits + 4
        assert _answered("/api/products/stats/summary") == counted + 4


async def test_it_can_be_turned_off(settings: Settings) -> None:
    settings.response_cache_seconds = 0
    async with running_app(settings) as (_, client):
        hits = _hits()
        for _ in range(4):
            assert (await client.get(STATS)).status_code == 200
        assert _hits() == hits


def _response_cache(app: FastAPI) -> ResponseCacheMiddleware:
    layer = app.middleware_stack
    while not isinstance(layer, ResponseCacheMiddleware):
        layer = layer.app  # type: ignore[union-attr]
    return layer


async def test_memory_is_bounded_by_entries_and_bytes(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        await _import(client, 30)
        for _ in range(2):
            assert (await client.get(STATS)).status_code == 200
        cache = _response_cache(app)
        cache.max_entries = 3
        for size in range(1, 6):  # five list pages, each its own entry
            for _ in range(2):
                assert (await client.get(f"/api/products?page_size={size}")).status_code == 200
        entries, held = cache.held
        assert entries == 3
        cache.max_total_bytes = held // 2
        assert (await client.get("/api/products?page_size=6")).status_code == 200
        assert (await client.get("/api/products?page_size=6")).status_code == 200
        entries, held = cache.held
        assert held <= cache.max_total_bytes and entries < 3
