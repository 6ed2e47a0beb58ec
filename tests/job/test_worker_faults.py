"""Faults with real worker processes: a worker killed with SIGKILL mid-job, Redis restarted
mid-job, every message delivered twice to two worker processes. Every item still ends exactly
once: nothing lost, nothing done twice (the database is the record; messages only carry ids)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.conftest import REQUIRE_SERVICES
from tests.fakes.openai_server import FakeLLMServer
from tests.job.workers import job_counts, kill, seed_optimize_job, start_worker

from listingflow import db as dbmod
from listingflow.config import Settings
from listingflow.models import JobItem, JobKind
from listingflow.worker.broker import setup_broker
from listingflow.worker.enqueue import send_job_items
from listingflow.worker.sweeper import sweep_once

ITEMS = 1000


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_killed_worker_loses_nothing_and_repeats_nothing(
    settings: Settings, redis_url: str
) -> None:
    settings.broker_url = redis_url
    broker = setup_broker(settings)
    broker.flush_all()
    database = dbmod.Database(settings)
    try:
        job_id, item_ids = await seed_optimize_job(database, ITEMS, prefix="K")
        send_job_items(JobKind.OPTIMIZE.value, item_ids)
        worker = start_worker(settings, redis_url)
        try:
            for _ in range(600):  # kill it part-way through
                _, succeeded, _, _ = await job_counts(database, job_id)
                if succeeded >= ITEMS // 5:
                    break
                await asyncio.sleep(0.05)
        finally:
            kill(worker)
        status, succeeded, _, _ = await job_counts(database, job_id)
        assert status == "running" and 0 < succeeded < ITEMS
        # The sweeper finds what the dead worker held (running) and sends it again.
        # Messages the dead worker had prefetched are gone with it too: pending items go again.
        await sweep_once(database, running_timeout=0.001, pending_timeout=0.001)
        worker = start_worker(settings, redis_url)
        try:
            for _ in range(1200):
                status, succeeded, processed, listings = await job_counts(database, job_id)
                if status == "completed":
                    break
                await asyncio.sleep(0.1)
        finally:
            kill(worker)
        assert status == "completed"
        assert succeeded == processed == ITEMS
        assert listings == ITEMS  # one listing per product: nothing done twice
        async with database.session() as session:
            attempts = (
                await session.execute(
                    select(func.max(JobItem.attempts)).where(JobItem.job_id == job_id)
                )
            ).scalar_one()
        assert attempts <= 2
    finally:
        await database.dispose()


class OwnRedis:
    """A redis-server of this test's own on a free port, keeping nothing on disk (like the
    machine's): restarting it drops every queued message, the harshest broker restart."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            if REQUIRE_SERVICES:
                pytest.fail("redis-server is required (LISTINGFLOW_REQUIRE_SERVICES=1)")
            pytest.skip("redis-server not installed")
        self.binary = binary
        self.dir = workdir
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            kill(self.process)
            self.process = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def _until_done(
    database: dbmod.Database, job_id: int, *, seconds: float, sweep: bool
) -> tuple[str, int, int, int]:
    """Poll the job until it completes; with `sweep`, run the sweeper as the API would (short
    timeouts, so the test does not wait ten minutes for a lost message)."""
    deadline = time.monotonic() + seconds
    counts = await job_counts(database, job_id)
    while counts[0] != "completed" and time.monotonic() < deadline:
        if sweep:
            await sweep_once(database, running_timeout=5, pending_timeout=2)
        await asyncio.sleep(0.5)
        counts = await job_counts(database, job_id)
    return counts


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_redis_restart_mid_job_loses_nothing(
    settings: Settings, own_redis: OwnRedis
) -> None:
    items = 400
    settings.broker_url = own_redis.url
    setup_broker(settings)
    database = dbmod.Database(settings)
    worker = None
    try:
        job_id, item_ids = await seed_optimize_job(database, items, prefix="R")
        send_job_items(JobKind.OPTIMIZE.value, item_ids)
        worker = start_worker(settings, own_redis.url)
        for _ in range(600):
            _, succeeded, _, _ = await job_counts(database, job_id)
            if succeeded >= items // 5:
                break
            await asyncio.sleep(0.05)
        own_redis.stop()  # every queued message is gone with it
        _, during, _, _ = await job_counts(database, job_id)
        assert 0 < during < items
        await asyncio.sleep(1)
        own_redis.start()  # the worker's consumer reconnects; the sweeper resends the rest
        status, succeeded, processed, listings = await _until_done(
            database, job_id, seconds=120, sweep=True
        )
        assert status == "completed"
        assert succeeded == processed == items
        assert listings == items
    finally:
        if worker is not None:
            kill(worker)
        await database.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_every_message_twice_to_two_workers_calls_the_llm_once_per_item(
    settings: Settings, redis_url: str
) -> None:
    items = 40
    settings.broker_url = redis_url
    broker = setup_broker(settings)
    broker.flush_all()
    database = dbmod.Database(settings)
    workers: list[subprocess.Popen[bytes]] = []
    with FakeLLMServer(rpd_limit=1_000_000, tpm_limit=1_000_000_000) as llm:
        env = {
            "LISTINGFLOW_LLM_API_KEY": llm.api_key,
            "LISTINGFLOW_LLM_BASE_URL": llm.base_url,
            "LISTINGFLOW_LLM_RPM": "100000",
            "LISTINGFLOW_LLM_RPD": "100000",
            "LISTINGFLOW_LLM_TPM": "100000000",
        }
        try:
            job_id, item_ids = await seed_optimize_job(database, items, prefix="D", engine="llm")
            # Two deliveries of every item, before any worker runs: both processes see copies.
            send_job_items(JobKind.OPTIMIZE.value, item_ids)
            send_job_items(JobKind.OPTIMIZE.value, item_ids)
            workers = [start_worker(settings, redis_url, env=env) for _ in range(2)]
            status, succeeded, processed, listings = await _until_done(
                database, job_id, seconds=120, sweep=False
            )
        finally:
            for worker in workers:
                kill(worker)
            await database.dispose()
        assert status == "completed"
        assert succeeded == processed == items
        assert listings == items
        assert len(llm.chat_requests) == items  # one LLM call per item, none for a duplicate
