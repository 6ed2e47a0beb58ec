"""Abuse limits of the JSON API: per API key and per client address, 429 with Retry-After and a
JSON error naming the limit; /health and /metrics never counted; shared through Redis by every
app instance (memory storage keeps them per process)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from listingflow.app import create_app
from listingflow.auth.limits import AbuseLimits
from listingflow.config import Settings
from tests.conftest import make_api_key

LOOPBACK = ("127.0.0.1", 5000)


@asynccontextmanager
async def running(settings: Settings, **overrides: Any) -> AsyncIterator[FastAPI]:
    app = create_app(settings.model_copy(update=overrides))
    async with LifespanManager(app):
        yield app


def client_for(app: FastAPI, key: str | None = None, ip: str = "198.51.100.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 5000))
    headers = {"X-API-Key": key} if key else {}
    return httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers)


@pytest.fixture(params=["memory", "redis"])
def storage(request: pytest.FixtureRequest) -> str | None:
    """The limits' storage: this process's memory, or the test Redis database."""
    return request.getfixturevalue("redis_url") if request.param == "redis" else None


async def test_a_key_over_its_limit_gets_429_with_retry_after(
    settings: Settings, storage: str | None
) -> None:
    async with running(settings, redis_url=storage, rate_limit_per_key="3/minute") as app:
        key = await make_api_key(app)
        other = await make_api_key(app, "other")
        async with client_for(app, key) as client, client_for(app, other) as neighbour:
            statuses = [(await client.get("/api/products")).status_code for _ in range(3)]
            refused = await client.get("/api/products")
            assert statuses == [200, 200, 200]
            assert refused.status_code == 429
            assert 1 <= int(refused.headers["retry-after"]) <= 60
            body = refused.json()
            assert body["code"] == "rate_limited"
            assert "API key" in body["detail"] and "3 per minute" in body["detail"]
            assert body["errors"][0]["field"] == "rate_limit_per_key"
            assert refused.headers["x-content-type-options"] == "nosniff"
            # Another key is counted apart; a refused key reaches no route at all.
            assert (await neighbour.get("/api/products")).status_code == 200
            assert (await client.post("/api/import/product", json={})).status_code == 429


async def test_an_address_over_its_limit_gets_429_whatever_the_key(
    settings: Settings, storage: str | None
) -> None:
    async with running(settings, redis_url=storage, rate_limit_per_ip="4/minute") as app:
        keys = [await make_api_key(app, f"ws{i}") for i in range(5)]
        statuses = []
        for key in keys:
            async with client_for(app, key, ip="198.51.100.9") as client:
                statuses.append((await client.get("/api/products")).status_code)
        assert statuses == [200, 200, 200, 200, 429]
        async with client_for(app, keys[0], ip="198.51.100.10") as elsewhere:
            assert (await elsewhere.get("/api/products")).status_code == 200
        async with client_for(app, None, ip="198.51.100.9") as anonymous:
            refused = await anonymous.get("/api/products")  # counted before the key check
        assert refused.status_code == 429
        assert refused.json()["errors"][0]["field"] == "rate_limit_per_ip"


async def test_health_metrics_and_pages_are_not_counted(settings: Settings) -> None:
    async with running(
        settings, rate_limit_per_ip="1/minute", rate_limit_per_key="1/minute"
    ) as app:
        key = await make_api_key(app)
        async with client_for(app, key, ip=LOOPBACK[0]) as client:
            for _ in range(5):
                assert (await client.get("/health")).status_code == 200
                assert (await client.get("/metrics")).status_code == 200
                assert (await client.get("/login")).status_code == 200
                assert (await client.get("/static/app.css")).status_code == 200
            assert (await client.get("/api/products")).status_code == 200
            assert (await client.get("/api/products")).status_code == 429


async def test_zero_or_empty_turns_a_limit_off(settings: Settings) -> None:
    async with running(settings, rate_limit_per_ip="0", rate_limit_per_key="") as app:
        assert app.state.abuse_limits.per_ip is None
        assert app.state.abuse_limits.per_key is None
        key = await make_api_key(app)
        async with client_for(app, key) as client:
            statuses = {(await client.get("/api/products")).status_code for _ in range(30)}
        assert statuses == {200}


def test_a_malformed_limit_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="not a rate limit"):
        Settings(_env_file=None, rate_limit_per_key="lots")  # type: ignore[call-arg]


async def test_two_app_instances_on_one_redis_share_the_limit(
    settings: Settings, redis_url: str
) -> None:
    """Two API replicas: the key's three requests are counted across both."""
    # A Redis broker: two embedded workers in one process would not stop cleanly.
    overrides = {"redis_url": redis_url, "broker_url": redis_url, "rate_limit_per_key": "3/minute"}
    async with running(settings, **overrides) as first, running(settings, **overrides) as second:
        key = await make_api_key(first)
        async with client_for(first, key) as a, client_for(second, key) as b:
            answers = [
                (await a.get("/api/products")).status_code,
                (await b.get("/api/products")).status_code,
                (await a.get("/api/products")).status_code,
                (await b.get("/api/products")).status_code,
                (await a.get("/api/products")).status_code,
            ]
    assert answers == [200, 200, 200, 429, 429]


async def test_memory_limits_are_per_process(settings: Settings, redis_url: str) -> None:
    """Without Redis each instance counts alone (so replicas need Redis for one limit)."""
    overrides = {"redis_url": None, "broker_url": redis_url, "rate_limit_per_key": "2/minute"}
    async with running(settings, **overrides) as first, running(settings, **overrides) as second:
        key = await make_api_key(first)
        async with client_for(first, key) as a, client_for(second, key) as b:
            answers = [(await c.get("/api/products")).status_code for c in (a, a, b, b, a)]
    assert answers == [200, 200, 200, 200, 429]


async def test_an_unreachable_redis_lets_requests_through(settings: Settings) -> None:
    """The counter's outage is logged, not turned into the API's outage."""
    limits = AbuseLimits(
        settings.model_copy(
            update={"redis_url": "redis://127.0.0.1:9/0", "rate_limit_per_key": "1/minute"}
        )
    )
    try:
        for _ in range(3):
            assert await limits.check_request(api_key="k", client_ip="192.0.2.1") is None
    finally:
        await limits.close()
