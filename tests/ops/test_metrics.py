"""GET /metrics: Prometheus text with requests and latency per route template, errors, the DB
pool, cache hits and misses, queue depth per queue (in-process and Redis brokers), jobs by
status, LLM calls, tokens and 429s from the real engine against the local OpenAI-compatible
server, process CPU and memory; operator access (token or loopback); and several worker
processes of `listingflow serve` summed in one scrape."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from tests.conftest import make_api_key, running_app
from tests.factories import product_payload
from tests.fakes.openai_server import FakeLLMServer
from tests.ops.support import free_port, listingflow_env, wait_healthy

from listingflow.app import create_app
from listingflow.config import Settings
from listingflow.kit.metrics import marketplace_call
from listingflow.models import Job
from listingflow.tasks import ACTOR_FOR_KIND

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


async def scrape(client: httpx.AsyncClient, **headers: str) -> Samples:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


async def test_requests_latency_and_errors_are_counted_per_route_template(
    settings: Settings,
) -> None:
    app = create_app(settings)

    @app.get("/api/test-boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    async with LifespanManager(app):
        key = await make_api_key(app)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers={"X-API-Key": key}
        ) as client:
            before = await scrape(client)
            for product_id in (11111, 22222, 33333):
                assert (await client.get(f"/api/products/{product_id}")).status_code == 404
            assert (await client.get("/api/test-boom")).status_code == 500
            after = await scrape(client)
    route = "/api/products/{product_id}"
    req = "listingflow_http_requests_total"
    assert (
        value(after, req, method="GET", route=route, status="404")
        - value(before, req, method="GET", route=route, status="404")
        == 3
    )
    assert not any("11111" in dict(labels).get("route", "") for _, labels in after)
    count = "listingflow_http_request_duration_seconds_count"
    assert (
        value(after, count, method="GET", route=route)
        - value(before, count, method="GET", route=route)
        == 3
    )
    assert (
        value(
            after,
            "listingflow_http_request_duration_seconds_bucket",
            method="GET",
            route=route,
            le="+Inf",
        )
        >= 3
    )
    errors = "listingflow_http_errors_total"
    assert (
        value(after, errors, method="GET", route="/api/test-boom")
        - value(before, errors, method="GET", route="/api/test-boom")
        == 1
    )
    assert value(after, errors, method="GET", route=route) == value(
        before, errors, method="GET", route=route
    )


async def test_pool_cache_queues_jobs_and_process_figures_are_exported(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await client.post("/api/import/batch", json=[product_payload() for _ in range(2)])
    await client.get("/api/products/stats/summary")
    await client.get("/api/products/stats/summary")
    async with app.state.db.session() as session:
        session.add(Job(workspace_id=1, kind="optimize", status="running", total=3))
        await session.commit()
    samples = await scrape(client)
    assert value(samples, "listingflow_db_pool_connections_max", engine="primary") > 0
    assert ("listingflow_db_pool_connections_in_use", frozenset({("engine", "primary")})) in samples
    assert value(samples, "listingflow_db_queries_total", engine="primary") > 0
    assert (
        value(
            samples,
            "listingflow_cache_requests_total",
            backend="memory",
            kind="stats",
            result="hit",
        )
        >= 1
    )
    assert (
        value(
            samples,
            "listingflow_cache_requests_total",
            backend="memory",
            kind="stats",
            result="miss",
        )
        >= 1
    )
    for queue in ("interactive", "bulk", "llm", "publish"):
        assert ("listingflow_queue_depth", frozenset({("queue", queue)})) in samples
    assert value(samples, "listingflow_jobs", status="running") == 1
    assert value(samples, "listingflow_jobs", status="completed") >= 1  # the import's job
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes"} <= names(samples)


async def test_queue_depth_per_queue_on_the_redis_broker(
    settings: Settings, redis_url: str
) -> None:
    settings.broker_url = redis_url  # no embedded worker: the messages wait
    app = create_app(settings)
    async with LifespanManager(app):
        app.state.broker.flush_all()
        actor = ACTOR_FOR_KIND["optimize"]
        for item_id in range(7):
            actor.send(900_000 + item_id)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            samples = await scrape(client)
        app.state.broker.flush_all()
    queue = actor.queue_name
    assert value(samples, "listingflow_queue_depth", queue=queue) == 7
    others = [q for q in ("interactive", "bulk", "llm", "publish") if q != queue]
    assert all(value(samples, "listingflow_queue_depth", queue=q) == 0 for q in others)


@pytest.fixture(scope="module")
def llm_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(retry_after=0.2) as server:
        yield server


async def test_llm_calls_tokens_and_429s_come_from_the_engine(
    settings: Settings, llm_server: FakeLLMServer
) -> None:
    llm_server.reset()
    settings.llm_api_key = SecretStr(llm_server.api_key)
    settings.llm_base_url = llm_server.base_url
    settings.llm_rpm = settings.llm_tpm = settings.llm_rpd = None
    settings.llm_deadline = 10
    async with running_app(settings) as (_, client):
        before = await scrape(client)
        body = (await client.post("/api/import/product", json=product_payload())).json()
        llm_server.plan("rate_limited")  # one 429, then a good answer
        response = await client.post(
            f"/api/ai/optimize/{body['product_id']}?target_marketplace=ebay&engine=llm"
        )
        assert response.status_code == 200, response.text
        after = await scrape(client)
    model = settings.llm_model
    calls = "listingflow_llm_calls_total"
    assert (
        value(after, calls, model=model, outcome="ok")
        - value(before, calls, model=model, outcome="ok")
        == 1
    )
    limited = "listingflow_llm_rate_limited_total"
    assert value(after, limited, model=model) - value(before, limited, model=model) == 1
    tokens = "listingflow_llm_tokens_total"
    assert value(after, tokens, model=model, kind="prompt") > value(
        before, tokens, model=model, kind="prompt"
    )
    assert value(after, tokens, model=model, kind="completion") > value(
        before, tokens, model=model, kind="completion"
    )


async def test_marketplace_calls_and_errors_are_counted(client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    marketplace_call("ebay", "ok")
    marketplace_call("ebay", "rate_limited")
    marketplace_call("ebay", "something odd")
    after = await scrape(client)
    calls, errors = "listingflow_marketplace_calls_total", "listingflow_marketplace_errors_total"
    for name, outcome, delta in (
        (calls, "ok", 1),
        (calls, "rate_limited", 1),
        (calls, "other", 1),
        (errors, "ok", 0),
        (errors, "rate_limited", 1),
    ):
        got = value(after, name, marketplace="ebay", outcome=outcome) - value(
            before, name, marketplace="ebay", outcome=outcome
        )
        assert got == delta, (name, outcome)


@pytest.fixture
async def operator_app(settings: Settings) -> AsyncIterator[FastAPI]:
    settings.metrics_token = SecretStr("metrics-token-0123456789")
    app = create_app(settings)
    async with LifespanManager(app):
        yield app


async def test_metrics_token_is_required_when_set(operator_app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=operator_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for path in ("/metrics", "/api/ops/status"):
            assert (await client.get(path)).status_code == 401
            wrong = await client.get(path, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            good = await client.get(
                path, headers={"Authorization": "Bearer metrics-token-0123456789"}
            )
            assert good.status_code == 200, path


async def test_without_a_token_only_loopback_is_answered(app: FastAPI) -> None:
    remote = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=remote, base_url="http://test") as client:
        response = await client.get("/metrics")
        assert response.status_code == 403
        assert "LISTINGFLOW_METRICS_TOKEN" in response.json()["detail"]
    local = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=local, base_url="http://test") as client:
        assert (await client.get("/metrics")).status_code == 200


def test_two_worker_processes_are_summed_in_one_scrape(tmp_path: Path) -> None:
    prom = tmp_path / "prom"
    prom.mkdir()
    port = free_port()
    env = listingflow_env(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(prom))
    command = str(Path(sys.executable).parent / "listingflow")
    subprocess.run([command, "db", "upgrade"], env=env, cwd=tmp_path, check=True, timeout=120)
    proc = subprocess.Popen(
        [command, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, proc)
        route = "/api/export/marketplaces"

        def served() -> float:
            text = httpx.get(f"{base}/metrics", timeout=10).text
            return sum(
                v
                for (name, labels), v in parse(text).items()
                if name == "listingflow_http_requests_total" and dict(labels)["route"] == route
            )

        before = served()
        for _ in range(40):  # a new connection each: the kernel spreads them over the workers
            httpx.get(f"{base}{route}", timeout=10)
        writers = {p.name.rsplit("_", 1)[-1] for p in prom.glob("counter_*.db")}
        assert len(writers) >= 2, writers  # both worker processes counted requests
        assert served() - before == 40  # and every scrape sums them
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
