"""Redis (the cache) down under a running API: reads are served from the database with no 5xx,
each failed lookup is counted as a miss, and once Redis is back the cache is used again."""

from __future__ import annotations

import httpx
import pytest
from asgi_lifespan import LifespanManager

from listingflow.app import create_app
from listingflow.config import Settings
from listingflow.kit.cache import RedisCache
from tests.conftest import make_api_key
from tests.factories import product_payload
from tests.job.test_worker_faults import OwnRedis

READS = ("/api/products", "/api/products/stats/summary", "/api/products?status=imported")


async def _read_all(client: httpx.AsyncClient, product_id: int) -> list[dict[str, object]]:
    answers = []
    for path in (*READS, f"/api/products/{product_id}"):
        response = await client.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text)
        answers.append(response.json())
    return answers


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_reads_are_served_while_redis_is_down_and_use_it_again_after(
    settings: Settings, own_redis: OwnRedis
) -> None:
    settings.redis_url = own_redis.url
    application = create_app(settings)
    async with LifespanManager(application):
        cache = application.state.cache
        assert isinstance(cache, RedisCache)
        api_key = await make_api_key(application)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers={"X-API-Key": api_key}
        ) as client:
            batch = [product_payload(source_id=f"RD-{i}") for i in range(30)]
            imported = await client.post("/api/import/batch", json=batch)
            assert imported.status_code == 200, imported.text
            product_id = (await client.get("/api/products")).json()["items"][0]["id"]

            before = await _read_all(client, product_id)
            hits = cache.hits
            again = await _read_all(client, product_id)
            assert cache.hits > hits  # Redis serves the cached pages and counts
            assert again == before

            own_redis.stop()
            misses, hits = cache.misses, cache.hits
            down = await _read_all(client, product_id)
            assert down == before  # the same answers, from the database
            assert cache.misses > misses and cache.hits == hits
            assert cache.errors > 0  # each failed Redis call is counted too

            own_redis.start()  # same port, empty: the first reads fill it, the next hit
            await _read_all(client, product_id)
            hits = cache.hits
            after = await _read_all(client, product_id)
            assert cache.hits > hits
            assert after == before
