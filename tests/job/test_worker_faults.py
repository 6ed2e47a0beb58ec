"""A worker killed with SIGKILL in the middle of a job: every item still ends exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.factories import product_payload

from listingflow import db as dbmod
from listingflow.config import Settings
from listingflow.importing.service import import_service
from listingflow.integrations.sources.base import SourceRow
from listingflow.job.service import job_items_service
from listingflow.models import Job, JobItem, JobKind, Listing, Product
from listingflow.worker.broker import setup_broker
from listingflow.worker.enqueue import send_job_items
from listingflow.worker.sweeper import sweep_once

LISTINGFLOW = str(Path(sys.executable).parent / "listingflow")
ITEMS = 1000


def _start_worker(settings: Settings, redis_url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LISTINGFLOW_DATABASE_URL": settings.effective_database_url,
        "LISTINGFLOW_BROKER_URL": redis_url,
        "LISTINGFLOW_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [LISTINGFLOW, "worker", "--processes", "1", "--threads", "4"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _kill(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)


async def _counts(database: dbmod.Database, job_id: int) -> tuple[str, int, int, int]:
    async with database.session() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        listings = (await session.execute(select(func.count()).select_from(Listing))).scalar_one()
        return job.status, job.succeeded, job.processed, int(listings)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_killed_worker_loses_nothing_and_repeats_nothing(
    settings: Settings, redis_url: str
) -> None:
    settings.broker_url = redis_url
    broker = setup_broker(settings)
    broker.flush_all()
    database = dbmod.Database(settings)
    try:
        async with database.session() as session:

            async def commit() -> None:
                await session.commit()

            rows = [SourceRow(i + 1, product_payload(source_id=f"K-{i}")) for i in range(ITEMS)]
            await import_service.import_rows(session, 1, rows, checkpoint=commit, source="test")
            product_ids = list((await session.execute(select(Product.id))).scalars())
            job, item_ids = await job_items_service.create(
                session,
                1,
                kind=JobKind.OPTIMIZE,
                source="fault test",
                items=[(pid, "ebay") for pid in product_ids],
                params={"engine": "offline"},
            )
            await session.commit()
        send_job_items(JobKind.OPTIMIZE.value, item_ids)
        worker = _start_worker(settings, redis_url)
        try:
            for _ in range(600):  # kill it part-way through
                _, succeeded, _, _ = await _counts(database, job.id)
                if succeeded >= ITEMS // 5:
                    break
                await asyncio.sleep(0.05)
        finally:
            _kill(worker)
        status, succeeded, _, _ = await _counts(database, job.id)
        assert status == "running" and 0 < succeeded < ITEMS
        # The sweeper finds what the dead worker held (running) and sends it again.
        # Messages the dead worker had prefetched are gone with it too: pending items go again.
        await sweep_once(database, running_timeout=0.001, pending_timeout=0.001)
        worker = _start_worker(settings, redis_url)
        try:
            for _ in range(1200):
                status, succeeded, processed, listings = await _counts(database, job.id)
                if status == "completed":
                    break
                await asyncio.sleep(0.1)
        finally:
            _kill(worker)
        assert status == "completed"
        assert succeeded == processed == ITEMS
        assert listings == ITEMS  # one listing per product: nothing done twice
        async with database.session() as session:
            attempts = (
                await session.execute(
                    select(func.max(JobItem.attempts)).where(JobItem.job_id == job.id)
                )
            ).scalar_one()
        assert attempts <= 2
    finally:
        await database.dispose()
