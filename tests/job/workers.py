"""What the worker fault tests share: real `listingflow worker` processes, a seeded job, counts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select
from tests.factories import product_payload

from listingflow import db as dbmod
from listingflow.config import Settings
from listingflow.importing.service import import_service
from listingflow.integrations.sources.base import SourceRow
from listingflow.job.service import job_items_service
from listingflow.models import Job, JobKind, Listing, Product

LISTINGFLOW = str(Path(sys.executable).parent / "listingflow")


def start_worker(
    settings: Settings, broker_url: str, *, threads: int = 4, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """A real worker process in its own process group (stop it with `kill`)."""
    full_env = {
        **os.environ,
        "LISTINGFLOW_DATABASE_URL": settings.effective_database_url,
        "LISTINGFLOW_BROKER_URL": broker_url,
        "LISTINGFLOW_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    return subprocess.Popen(
        [LISTINGFLOW, "worker", "--processes", "1", "--threads", str(threads)],
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


async def seed_optimize_job(
    database: dbmod.Database, count: int, *, prefix: str, engine: str = "offline"
) -> tuple[int, list[int]]:
    """`count` products and one optimize job (eBay) over them, committed; (job id, item ids)."""
    async with database.session() as session:

        async def commit() -> None:
            await session.commit()

        rows = [  # distinct text per product, so no two share a cached LLM result
            SourceRow(
                i + 1,
                product_payload(source_id=f"{prefix}-{i}", title=f"Słuchawki Sony {prefix}{i}"),
            )
            for i in range(count)
        ]
        await import_service.import_rows(session, 1, rows, checkpoint=commit, source="test")
        product_ids = list((await session.execute(select(Product.id))).scalars())
        job, item_ids = await job_items_service.create(
            session,
            1,
            kind=JobKind.OPTIMIZE,
            source="fault test",
            items=[(pid, "ebay") for pid in product_ids],
            params={"engine": engine},
        )
        await session.commit()
        return job.id, item_ids


async def job_counts(database: dbmod.Database, job_id: int) -> tuple[str, int, int, int]:
    """(job status, succeeded, processed, listings in the database)."""
    async with database.session() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        listings = (await session.execute(select(func.count()).select_from(Listing))).scalar_one()
        return job.status, job.succeeded, job.processed, int(listings)
