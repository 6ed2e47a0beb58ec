"""Redis (the cache) down under a running API: reads are served from the database with no 5xx,
each failed lookup is counted as a miss, and once Redis is back the cache is used again."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import REGISTRY

from listingflow.config import Settings
from listingflow.kit.cache import RedisCache
from tests.conftest import running_app
from tests.factories import product_payload
from tests.job.test_worker_faults import OwnRedis


def _replayed() -> float:
    """Answers replayed by the response cache (response_cache.py), which sits before Redis."""
    labels = {"backend": "process", "kind": "response", "result": "hit"}
    return REGISTRY.get_sample_value("listingflow_cache_requests_total", labels) or 0.0


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
    async with running_app(settings) as (application, client):
        cache = application.state.cache
        assert isinstance(cache, RedisCache)
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
        for _ in range(3):  # nothing is replayed from memory either: no generation to trust
            replayed = _replayed()
            down = await _read_all(client, product_id)
            assert down == before  # the same answers, from the database
            assert _replayed() == replayed
        assert cache.misses > misses and cache.hits == hits
        assert cache.errors > 0  # each failed Redis call is counted too

        own_redis.start()  # same port, empty: the first reads fill it, the next hit
        await _read_all(client, product_id)
        hits, replayed = cache.hits, _replayed()
        after = await _read_all(client, product_id)
        # Served from a cache again: Redis, or the response cache in front of it.
        assert cache.hits + _replayed() > hits + replayed
        assert after == before
