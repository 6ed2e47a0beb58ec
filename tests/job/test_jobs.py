"""Jobs: the same batch job in embedded mode, on Redis and on RabbitMQ; idempotent items;
cancel, retry of failed items, and the sweeper."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import dramatiq
import httpx
import pytest
import structlog
import structlog.testing
from asgi_lifespan import LifespanManager
from sqlalchemy import select, update
from tests.conftest import make_api_key
from tests.factories import product_payload

from listingflow.app import create_app
from listingflow.config import Settings
from listingflow.job.service import job_items_service
from listingflow.kit.models import utcnow
from listingflow.models import Job, JobItem, JobKind, Listing, Product
from listingflow.optimization.service import optimization_service, source_of
from listingflow.optimization.tasks import optimize_job_item


@pytest.fixture(params=["embedded", "redis", "rabbitmq"])
def broker_url(request: pytest.FixtureRequest, settings: Settings) -> Iterator[str | None]:
    if request.param == "embedded":
        yield None
        return
    if request.param == "redis":
        url: str = request.getfixturevalue("redis_url")
    else:
        url = request.getfixturevalue("rabbit_url")
    yield url


@pytest.fixture
async def job_client(
    settings: Settings, broker_url: str | None
) -> AsyncIterator[httpx.AsyncClient]:
    """An API whose jobs run on the chosen broker; for Redis and RabbitMQ a separate Dramatiq
    worker (threads in this process) consumes the queues, as `listingflow worker` would."""
    settings.broker_url = broker_url
    app = create_app(settings)
    async with LifespanManager(app):
        worker = None
        if broker_url is not None:
            broker = app.state.broker
            broker.flush_all()
            worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
            worker.start()
        key = await make_api_key(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers={"X-API-Key": key}
        ) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client
        if worker is not None:
            worker.stop()


async def _products(client: httpx.AsyncClient, n: int) -> list[int]:
    items = [product_payload(source_id=f"JOB-{i}") for i in range(n)]
    body = (await client.post("/api/import/batch", json=items)).json()
    return [r["product_id"] for r in body["results"]]


def _essence(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted((r["status"], r["score"], r["error"]) for r in body["results"])


async def test_the_same_job_gives_the_same_results_on_every_broker(
    job_client: httpx.AsyncClient, settings: Settings
) -> None:
    settings.job_wait_seconds = 30
    ids = await _products(job_client, 12)
    body = (
        await job_client.post(
            "/api/ai/batch-optimize",
            json={"product_ids": [*ids, 987654], "target_marketplace": "ebay"},
        )
    ).json()
    assert body["status"] == "partial"
    assert body["success_count"] == 12
    assert body["failed_count"] == 1
    # Each score is what the engine gives that product in this process: the broker that
    # carried the work changes nothing.
    app = job_client.app  # type: ignore[attr-defined]
    async with app.state.db.session() as session:
        for result in (r for r in body["results"] if r["status"] == "success"):
            product = await session.get(Product, result["product_id"])
            assert product is not None
            expected = await optimization_service.optimize(
                source_of(product), "ebay", engine="offline"
            )
            assert result["score"] == expected.score.total
    job = (await job_client.get(f"/api/jobs/{body['job_id']}?items_status=failed")).json()
    assert job["status"] == "completed"
    assert job["processed"] == job["total"] == 13
    assert [i["product_id"] for i in job["items"]] == [987654]
    listed = (await job_client.get("/api/jobs?kind=optimize")).json()
    assert listed[0]["id"] == body["job_id"]


async def test_a_redelivered_item_changes_nothing(client: httpx.AsyncClient, app: Any) -> None:
    ids = await _products(client, 1)
    async with app.state.db.session() as session:
        job, item_ids = await job_items_service.create(
            session,
            1,
            kind=JobKind.OPTIMIZE,
            source="test",
            items=[(ids[0], "amazon")],
            params={"engine": "offline"},
        )
        await session.commit()
    # Called directly, twice, as a redelivered message would run it (the embedded worker is
    # not sent this item).
    await asyncio.to_thread(optimize_job_item.fn, item_ids[0])
    await asyncio.to_thread(optimize_job_item.fn, item_ids[0])
    async with app.state.db.session() as session:
        item = (
            await session.execute(select(JobItem).where(JobItem.id == item_ids[0]))
        ).scalar_one()
        listings = (await session.execute(select(Listing))).scalars().all()
        job_row = await session.get(Job, job.id)
    assert item.status == "succeeded"
    assert item.attempts == 1
    assert len(listings) == 1
    assert job_row is not None and job_row.processed == 1 and job_row.status == "completed"


async def test_cancel_stops_items_not_started(client: httpx.AsyncClient, app: Any) -> None:
    ids = await _products(client, 3)
    async with app.state.db.session() as session:
        job, item_ids = await job_items_service.create(
            session,
            1,
            kind=JobKind.OPTIMIZE,
            source="test",
            items=[(i, "ebay") for i in ids],
            params={},
        )
        await session.commit()
    response = await client.post(f"/api/jobs/{job.id}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    # A message that arrives after the cancel:
    await asyncio.to_thread(optimize_job_item.fn, item_ids[0])
    detail = (await client.get(f"/api/jobs/{job.id}")).json()
    assert {i["status"] for i in detail["items"]} == {"cancelled"}
    assert (await client.post(f"/api/jobs/{job.id}/cancel")).status_code == 200
    assert (await client.get(f"/api/products/{ids[0]}/listings")).json() == []


async def test_retry_failed_runs_the_failed_items_again(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    body = (
        await client.post(
            "/api/ai/batch-optimize", json={"product_ids": [424242], "target_marketplace": "ebay"}
        )
    ).json()
    assert body["failed_count"] == 1
    retried = (await client.post(f"/api/jobs/{body['job_id']}/retry-failed")).json()
    assert retried["failed"] == 0
    detail = (await client.get(f"/api/jobs/{body['job_id']}")).json()
    for _ in range(100):
        if detail["status"] == "completed":
            break
        detail = (await client.get(f"/api/jobs/{body['job_id']}")).json()
    assert detail["status"] == "completed"
    assert detail["failed"] == 1 and detail["processed"] == 1
    assert detail["items"][0]["attempts"] == 2


async def test_the_sweeper_resends_stuck_items_on_their_own_queue(
    app: Any, client: httpx.AsyncClient
) -> None:
    ids = await _products(client, 3)
    async with app.state.db.session() as session:
        _job, bulk_ids = await job_items_service.create(
            session,
            1,
            kind=JobKind.OPTIMIZE,
            source="test",
            items=[(i, "ebay") for i in ids[:2]],
            params={},
        )
        _job, llm_ids = await job_items_service.create(
            session,
            1,
            kind=JobKind.OPTIMIZE,
            source="test",
            items=[(ids[2], "ebay")],
            params={},
            queue="llm",
        )
        long_ago = utcnow().replace(year=2020)
        await session.execute(
            update(JobItem)
            .where(JobItem.id.in_([bulk_ids[0], llm_ids[0]]))
            .values(status="running", updated_at=long_ago)
        )
        await session.commit()
        swept = await job_items_service.sweep(session, running_timeout=60, pending_timeout=3600)
        await session.commit()
    # the fresh pending item is left alone; the LLM item goes back to the llm queue
    assert swept == {("optimize", None): [bulk_ids[0]], ("optimize", "llm"): [llm_ids[0]]}


async def test_a_job_carries_the_request_id_into_its_worker_logs(
    client: httpx.AsyncClient,
) -> None:
    ids = await _products(client, 1)
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        response = await client.post(
            "/api/ai/batch-optimize",
            json={"product_ids": ids, "target_marketplace": "ebay"},
            headers={"X-Request-ID": "req-trace-42"},
        )
    body = response.json()
    job = (await client.get(f"/api/jobs/{body['job_id']}")).json()
    assert job["params"]["request_id"] == "req-trace-42"
    done = [e for e in logs if e["event"] == "job.item_done"]
    assert done and all(e.get("request_id") == "req-trace-42" for e in done)
    assert done[0]["job_id"] == body["job_id"]


async def test_unknown_job_and_finished_job(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/jobs/999999")).status_code == 404
    body = (
        await client.post(
            "/api/ai/batch-optimize", json={"product_ids": [1], "target_marketplace": "ebay"}
        )
    ).json()
    assert (await client.post(f"/api/jobs/{body['job_id']}/cancel")).status_code == 409


async def test_job_events_stream_progress_then_done(client: httpx.AsyncClient) -> None:
    ids = await _products(client, 3)
    body = (
        await client.post(
            "/api/ai/batch-optimize", json={"product_ids": ids, "target_marketplace": "ebay"}
        )
    ).json()
    events: list[tuple[str, dict[str, Any]]] = []
    async with client.stream("GET", f"/api/jobs/{body['job_id']}/events?interval=0.1") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        name = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events.append((name, json.loads(line.split(":", 1)[1])))
    assert events[-1][0] == "done"
    assert events[-1][1]["status"] == "completed"
    assert events[-1][1]["processed"] == 3
    assert (await client.get("/api/jobs/999999/events")).status_code == 404
