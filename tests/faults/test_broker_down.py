"""The broker (Redis) down when a job is created: the job and its items are recorded and the
caller gets its answer (no 5xx; the send after the commit is logged, not raised); once the
broker is back the API's sweeper sends the items and a worker process completes the job, each
item once."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select

from listingflow.app import create_app
from listingflow.config import Settings
from listingflow.models import JobItem, Listing
from tests.conftest import make_api_key
from tests.factories import product_payload
from tests.job.test_worker_faults import OwnRedis
from tests.job.workers import kill, start_worker

PRODUCTS = 40


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_job_created_while_the_broker_is_down_completes_once_it_is_back(
    settings: Settings, own_redis: OwnRedis
) -> None:
    settings.broker_url = own_redis.url
    settings.job_wait_seconds = 0  # answer at once; the job carries on in the background
    settings.job_sweep_interval = 0.5
    settings.job_pending_timeout = 2
    application = create_app(settings)
    worker = None
    async with LifespanManager(application):
        api_key = await make_api_key(application)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers={"X-API-Key": api_key}
        ) as client:
            batch = [product_payload(source_id=f"BD-{i}") for i in range(PRODUCTS)]
            assert (await client.post("/api/import/batch", json=batch)).status_code == 200
            page = await client.get("/api/products", params={"page_size": 100})
            ids = [p["id"] for p in page.json()["items"]]
            assert len(ids) == PRODUCTS

            own_redis.stop()
            created = await client.post(
                "/api/ai/batch-optimize",
                json={"product_ids": ids, "target_marketplace": "ebay", "engine": "offline"},
            )
            assert created.status_code == 200, created.text
            body = created.json()
            assert body["status"] == "running"
            assert all(r["status"] == "queued" for r in body["results"])
            job_id = body["job_id"]
            job = (await client.get(f"/api/jobs/{job_id}")).json()
            assert job["total"] == PRODUCTS and job["processed"] == 0

            own_redis.start()  # back, and empty: nothing was ever sent
            try:
                worker = start_worker(settings, own_redis.url)
                deadline = time.monotonic() + 45
                while time.monotonic() < deadline:
                    job = (await client.get(f"/api/jobs/{job_id}")).json()
                    if job["status"] == "completed":
                        break
                    await asyncio.sleep(0.5)
            finally:
                if worker is not None:
                    kill(worker)
            assert job["status"] == "completed", job
            assert job["succeeded"] == job["processed"] == PRODUCTS
        async with application.state.db.session() as session:
            listings = (
                await session.execute(select(func.count()).select_from(Listing))
            ).scalar_one()
            attempts = list(
                (
                    await session.execute(select(JobItem.attempts).where(JobItem.job_id == job_id))
                ).scalars()
            )
        assert listings == PRODUCTS  # one listing per product: nothing done twice
        assert attempts == [1] * PRODUCTS
