"""`listingflow worker` as a separate process on Redis: the API only records and sends."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from tests.conftest import make_api_key
from tests.factories import product_payload
from typer.testing import CliRunner

from listingflow.app import create_app
from listingflow.cli.main import app as cli
from listingflow.config import Settings

LISTINGFLOW = str(Path(sys.executable).parent / "listingflow")


async def test_a_separate_worker_process_runs_the_jobs(settings: Settings, redis_url: str) -> None:
    settings.broker_url = redis_url
    settings.job_wait_seconds = 0  # answer at once; the job is followed through the jobs API
    app = create_app(settings)
    async with LifespanManager(app):
        app.state.broker.flush_all()
        key = await make_api_key(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers={"X-API-Key": key}
        ) as client:
            items = [product_payload(source_id=f"W-{i}") for i in range(8)]
            ids = [
                r["product_id"]
                for r in (await client.post("/api/import/batch", json=items)).json()["results"]
            ]
            body = (
                await client.post(
                    "/api/ai/batch-optimize",
                    json={"product_ids": ids, "target_marketplace": "ebay"},
                )
            ).json()
            assert body["status"] == "running"  # nothing runs in the API process
            env = {
                **os.environ,
                "LISTINGFLOW_DATABASE_URL": settings.effective_database_url,
                "LISTINGFLOW_BROKER_URL": redis_url,
                "LISTINGFLOW_DATA_DIR": str(settings.data_dir),
                "LISTINGFLOW_LOG_LEVEL": "WARNING",
            }
            worker = subprocess.Popen(  # noqa: ASYNC220
                [LISTINGFLOW, "worker", "--processes", "1", "--threads", "2"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            try:
                job: dict = {}
                for _ in range(300):
                    job = (await client.get(f"/api/jobs/{body['job_id']}")).json()
                    if job["status"] == "completed":
                        break
                    await asyncio.sleep(0.1)
                assert job["status"] == "completed"
                assert job["succeeded"] == 8
            finally:
                worker.terminate()  # Dramatiq's main process stops its workers on SIGTERM
                try:
                    worker.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(worker.pid, signal.SIGKILL)
                    worker.wait(timeout=5)


def test_worker_without_a_broker_is_a_clear_error(settings: Settings) -> None:
    result = CliRunner().invoke(cli, ["worker"])
    assert result.exit_code == 2
    assert "LISTINGFLOW_BROKER_URL" in result.stderr


async def test_jobs_commands(settings: Settings, client: httpx.AsyncClient) -> None:
    body = (
        await client.post(
            "/api/ai/batch-optimize", json={"product_ids": [5], "target_marketplace": "ebay"}
        )
    ).json()
    runner = CliRunner()
    listed = await asyncio.to_thread(runner.invoke, cli, ["jobs", "list"])
    assert listed.exit_code == 0 and "optimize" in listed.stdout
    shown = await asyncio.to_thread(runner.invoke, cli, ["jobs", "show", str(body["job_id"])])
    assert shown.exit_code == 0 and "not found" in shown.stdout
    watched = await asyncio.to_thread(runner.invoke, cli, ["jobs", "watch", str(body["job_id"])])
    assert watched.exit_code == 1  # the job finished with a failed item
    assert "1 failed" in watched.stdout
    missing = await asyncio.to_thread(runner.invoke, cli, ["jobs", "show", "99999"])
    assert missing.exit_code == 1
