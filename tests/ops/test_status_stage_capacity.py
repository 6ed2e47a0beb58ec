"""GET /api/ops/status and `listingflow ops status` against a real server; the growth-stage
picker at every boundary and `listingflow stage` on real data; `listingflow capacity` on
loopback against the configured database."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from tests.factories import product_payload
from typer.testing import CliRunner

from listingflow.cli.main import app as cli
from listingflow.config import Settings
from listingflow.models import ApiKey
from listingflow.ops.stage import STAGES, Activity, pick_stage, stage_for_products, stage_for_users

runner = CliRunner()


async def test_ops_status_judges_the_window_against_the_guide(settings: Settings) -> None:
    from asgi_lifespan import LifespanManager

    from listingflow.app import create_app

    app = create_app(settings)

    @app.get("/api/test-boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/api/ops/status")).status_code == 200
            for _ in range(4):
                await client.get("/health")
            assert (await client.get("/api/test-boom")).status_code == 500
            body = (await client.get("/api/ops/status")).json()
    findings = {f["signal"]: f for f in body["findings"]}
    assert set(findings) == {
        "cpu",
        "memory",
        "p95",
        "db_connections",
        "error_rate",
        "queue",
        "llm_quota",
    }
    assert body["readings"]["requests"] == 5  # its own status calls are not counted
    assert body["readings"]["errors"] == 1
    assert findings["error_rate"]["status"] == "scale"  # 20% > 5%
    assert findings["error_rate"]["target"] == "API replicas"
    assert body["status"] == "scale"
    assert "error_rate" in body["summary"]
    assert findings["queue"]["status"] == "healthy"  # the in-process broker: nothing waiting
    assert body["queues"] == {"interactive": 0, "bulk": 0, "llm": 0, "publish": 0}
    assert findings["db_connections"]["status"] in ("healthy", "watch", "scale")
    assert findings["llm_quota"]["status"] == "unknown"  # no LLM configured
    assert findings["p95"]["status"] != "unknown"


def test_ops_status_cli_prints_the_advisors_table(served_app: tuple[FastAPI, str]) -> None:
    _, base = served_app
    for _ in range(3):
        httpx.get(f"{base}/health", timeout=10)
    result = runner.invoke(cli, ["ops", "status", "--url", base])
    assert result.exit_code == 0, result.output
    for signal in ("cpu", "memory", "p95", "db_connections", "error_rate", "queue", "llm_quota"):
        assert signal in result.output
    assert "Scaling advisor" in result.output
    as_json = runner.invoke(cli, ["ops", "status", "--url", base, "--json"])
    assert json.loads(as_json.output)["readings"]["requests"] >= 3


def test_ops_status_cli_says_when_the_server_is_unreachable() -> None:
    result = runner.invoke(cli, ["ops", "status", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "could not reach" in result.output


@pytest.mark.parametrize(
    ("users", "name"),
    [
        (0, "MVP"),
        (99, "MVP"),
        (100, "Startup"),
        (1_000, "Startup"),
        (1_001, "Growth"),
        (10_000, "Growth"),
        (10_001, "Scale"),
        (100_000, "Scale"),
        (100_001, "Enterprise"),
    ],
)
def test_users_per_day_boundaries(users: int, name: str) -> None:
    assert stage_for_users(users).name == name


@pytest.mark.parametrize(
    ("products", "name"),
    [
        (0, "MVP"),
        (999, "MVP"),
        (1_000, "Startup"),
        (10_000, "Startup"),
        (10_001, "Growth"),
        (100_000, "Growth"),
        (100_001, "Scale"),
        (1_000_000, "Scale"),
        (1_000_001, "Enterprise"),
    ],
)
def test_products_per_month_boundaries(products: int, name: str) -> None:
    assert stage_for_products(products).name == name


def test_the_busier_dimension_decides_and_the_next_trigger_is_named() -> None:
    report = pick_stage(
        Activity(users_per_day=50, products_per_month=20_000, optimizations_per_day=0)
    )
    assert (report.by_users.name, report.by_products.name, report.stage.name) == (
        "MVP",
        "Growth",
        "Growth",
    )
    assert report.stage.monthly_cost == "$150-300"
    assert report.next_stage is not None and report.next_stage.name == "Scale"
    assert "10,001 users/day" in report.next_trigger
    assert "100,001 products/month" in report.next_trigger
    last = pick_stage(Activity(200_000, 0, 0))
    assert last.stage is STAGES[-1]
    assert last.next_stage is None


async def test_stage_command_reads_the_database(client: httpx.AsyncClient) -> None:
    for _ in range(2):
        items = [product_payload() for _ in range(500)]
        assert (await client.post("/api/import/batch", json=items)).json()["failed_count"] == 0
    small = await asyncio.to_thread(runner.invoke, cli, ["stage", "--json"])
    assert small.exit_code == 0, small.output
    body = json.loads(small.stdout)
    assert body["products_per_month"] == 1000
    assert body["users_per_day"] == 1  # one workspace active on one day, over 7 days
    assert body["stage"] == "Startup"  # 1,000 products/month is Startup's lower bound
    assert body["by_users"] == "MVP"
    assert body["next_stage"] == "Growth"
    table = await asyncio.to_thread(runner.invoke, cli, ["stage"])
    assert "Stage: Startup" in table.stdout.replace("\n", " ")


async def test_capacity_measures_on_loopback_and_revokes_its_key(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    items = [product_payload() for _ in range(20)]
    assert (await client.post("/api/import/batch", json=items)).json()["failed_count"] == 0
    # The server it starts is another process: it reads the same database from the environment.
    monkeypatch.setenv("LISTINGFLOW_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LISTINGFLOW_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("LISTINGFLOW_LOG_LEVEL", "WARNING")
    args = ["capacity", "--seconds", "1", "--concurrency", "2", "--json"]
    result = await asyncio.to_thread(runner.invoke, cli, args)
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["requests"] > 0
    assert body["errors"] == 0
    assert body["requests_per_minute"] > 0
    assert body["db_queries_per_second"] > 0
    assert body["optimizations_per_minute"] > 0
    # users = requests a second x 3 s each; both figures are printed rounded, so allow one
    assert abs(body["concurrent_users"] - body["requests_per_minute"] / 60 * 3) <= 1
    assert body["guide"][0]["plan"] == "Current (free tier)"
    async with app.state.db.session() as session:
        keys = (
            (await session.execute(select(ApiKey).where(ApiKey.name.like("capacity self-test%"))))
            .scalars()
            .all()
        )
    assert len(keys) == 1
    assert keys[0].revoked_at is not None
