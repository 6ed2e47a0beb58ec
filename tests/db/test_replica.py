"""Read-replica routing against a real streaming replica the test starts (initdb a primary on a
free port, pg_basebackup -R a hot standby): with replay paused, a client still reads what it
just wrote (the primary serves its workspace for the read-your-writes window), while another
workspace's reads are served by the replica and show its older state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import redis
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from tests.conftest import make_api_key
from tests.db import pgtools
from tests.factories import product_payload

from listingflow import config
from listingflow import db as dbmod
from listingflow.app import create_app
from listingflow.config import Settings
from listingflow.kit.cache import cache_key

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def replication() -> Iterator[tuple[pgtools.Cluster, pgtools.Cluster]]:
    for tool in ("initdb", "postgres", "pg_basebackup"):
        pgtools.binary(tool, pg=True)
    with pgtools.primary_and_standby() as (primary, standby):
        primary.execute("CREATE DATABASE listingflow")
        dbmod.upgrade(primary.url("listingflow"))
        pgtools.wait_until_replayed(primary, standby)
        yield primary, standby


@pytest.fixture
async def replicated_app(
    replication: tuple[pgtools.Cluster, pgtools.Cluster], redis_url: str, tmp_path: Path
) -> AsyncIterator[FastAPI]:
    primary, standby = replication
    previous = config.settings
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        database_url=primary.url("listingflow"),
        database_read_url=standby.url("listingflow"),
        redis_url=redis_url,  # the write marks live where every API replica sees them
        db_read_your_writes_seconds=2,
        data_dir=tmp_path / "var",
        migrate_on_start=False,
    )
    application = create_app(settings)
    try:
        async with LifespanManager(application):
            yield application
    finally:
        config.settings = previous
        standby.execute("SELECT pg_wal_replay_resume()")


def _client(app: FastAPI, key: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(
        transport=transport, base_url="http://test", headers={"X-API-Key": key}
    )


async def _window_passes(redis_url: str, workspace_id: int) -> None:
    """Wait until the workspace's write mark has expired in Redis (the window is 2 s here)."""
    client = redis.Redis.from_url(redis_url)
    try:
        for _ in range(100):
            if not client.exists(cache_key("wrote", workspace_id)):
                return
            await asyncio.sleep(0.1)
        raise AssertionError("the read-your-writes mark never expired")
    finally:
        client.close()


def _pause(standby: pgtools.Cluster) -> None:
    standby.execute("SELECT pg_wal_replay_pause()")
    for _ in range(200):
        if standby.execute("SELECT pg_get_wal_replay_pause_state()")[0][0] == "paused":
            return
        time.sleep(0.05)
    raise AssertionError("replay did not pause")


async def test_own_writes_come_from_the_primary_and_others_read_the_replica(
    replicated_app: FastAPI,
    replication: tuple[pgtools.Cluster, pgtools.Cluster],
    redis_url: str,
) -> None:
    primary, standby = replication
    seller_key = await make_api_key(replicated_app, "seller")
    other_key = await make_api_key(replicated_app, "other")
    async with (
        _client(replicated_app, seller_key) as seller,
        _client(replicated_app, other_key) as other,
    ):
        other_batch = [
            product_payload(source_id=f"OTHER-{i}", title="Kettle 1.7 l") for i in range(3)
        ]
        imported = (await other.post("/api/import/batch", json=other_batch)).json()
        assert imported["failed_count"] == 0, imported
        other_id = imported["results"][0]["product_id"]
        other_ws = primary.execute(
            "SELECT workspace_id FROM products WHERE source_id = 'OTHER-0'", "listingflow"
        )[0][0]
        pgtools.wait_until_replayed(primary, standby)
        await _window_passes(redis_url, other_ws)

        _pause(standby)
        # The seller writes, then reads at once: everything shows although the replica is
        # frozen before the write.
        batch = [product_payload(source_id=f"MINE-{i}", title="Toaster 2 slots") for i in range(4)]
        mine = (await seller.post("/api/import/batch", json=batch)).json()
        assert mine["failed_count"] == 0, mine
        mine_id = mine["results"][0]["product_id"]
        assert standby.execute(
            "SELECT count(*) FROM products WHERE source_id LIKE 'MINE-%'", "listingflow"
        ) == [(0,)]

        listed = (await seller.get("/api/products")).json()
        assert sorted(p["source_id"] for p in listed["items"]) == [f"MINE-{i}" for i in range(4)]
        assert listed["total"] == 4
        stats = (await seller.get("/api/products/stats/summary")).json()
        assert stats["total_products"] == 4
        detail = await seller.get(f"/api/products/{mine_id}")
        assert detail.status_code == 200, detail.text
        jobs = (await seller.get("/api/jobs")).json()
        assert [job["kind"] for job in jobs] == ["import"]
        events = await seller.get(f"/api/jobs/{jobs[0]['id']}/events")
        assert events.status_code == 200, events.text
        assert "event: done" in events.text

        # Someone else, who has not written lately, is served by the replica: a change made on
        # the primary behind the app's back does not show while replay is paused...
        primary.execute(
            f"UPDATE products SET title = 'Renamed on the primary' WHERE id = {other_id}",
            "listingflow",
        )
        stale = (await other.get(f"/api/products/{other_id}")).json()
        assert stale["title_original"] == "Kettle 1.7 l"
        # ...and does once the replica has caught up.
        standby.execute("SELECT pg_wal_replay_resume()")
        pgtools.wait_until_replayed(primary, standby)
        fresh = (await other.get(f"/api/products/{other_id}")).json()
        assert fresh["title_original"] == "Renamed on the primary"


async def test_a_key_made_moments_ago_works_before_the_replica_has_it(
    replicated_app: FastAPI, replication: tuple[pgtools.Cluster, pgtools.Cluster]
) -> None:
    _, standby = replication
    _pause(standby)
    key = await make_api_key(replicated_app, "newcomer")
    async with _client(replicated_app, key) as newcomer:
        response = await newcomer.get("/api/products")
    assert response.status_code == 200, response.text
    assert response.json()["total"] == 0


async def test_after_the_window_the_writer_reads_the_replica_too(
    replicated_app: FastAPI,
    replication: tuple[pgtools.Cluster, pgtools.Cluster],
    redis_url: str,
) -> None:
    """The window is a window: once it has passed, the writer's reads leave the primary."""
    primary, standby = replication
    key = await make_api_key(replicated_app, "later")
    async with _client(replicated_app, key) as later:
        payload = product_payload()
        first = (await later.post("/api/import/product", json=payload)).json()
        product_id = first["product_id"]
        pgtools.wait_until_replayed(primary, standby)
        workspace_id = primary.execute(
            f"SELECT workspace_id FROM products WHERE id = {product_id}", "listingflow"
        )[0][0]
        await _window_passes(redis_url, workspace_id)
        _pause(standby)
        primary.execute(
            f"UPDATE products SET title = 'Only on the primary' WHERE id = {product_id}",
            "listingflow",
        )
        seen = (await later.get(f"/api/products/{product_id}")).json()
    assert seen["title_original"] == payload["title"]  # the replica's (paused) state
