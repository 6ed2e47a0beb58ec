"""Pooling behind a real PgBouncer in transaction mode (started by the test in front of the
machine's PostgreSQL): migrations, imports, lists, stats and a job under 50 concurrent requests;
the pool settings reach the engine; server-side prepared statements would break here and the
engine never makes them."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager
from tests.conftest import make_api_key
from tests.db import pgtools
from tests.factories import product_payload

from listingflow import config
from listingflow import db as dbmod
from listingflow.app import create_app
from listingflow.config import Settings

pytestmark = pytest.mark.postgres

MIGRATION_LOCK_ID = 7_412_010


@pytest.fixture(scope="module")
def bouncer_port() -> Iterator[int]:
    target = urlsplit(pgtools.PG_ADMIN_URL)
    try:
        with psycopg.connect(pgtools.PG_ADMIN_URL, connect_timeout=3):
            pass
    except psycopg.Error:
        pgtools.missing(f"PostgreSQL is not reachable at {pgtools.PG_ADMIN_URL}")
    with pgtools.pgbouncer(target.hostname or "127.0.0.1", target.port or 5432) as port:
        yield port


@pytest.fixture
def bounced_url(bouncer_port: int) -> Iterator[str]:
    """A fresh, empty database on the machine's PostgreSQL, reached through PgBouncer."""
    name = f"listingflow_pgb_{secrets.token_hex(4)}"
    with psycopg.connect(pgtools.PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield f"postgresql://postgres@127.0.0.1:{bouncer_port}/{name}"
    finally:
        with psycopg.connect(pgtools.PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def _direct(url: str) -> str:
    """The same database, straight to PostgreSQL (not through PgBouncer)."""
    return pgtools.PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + url.rsplit("/", 1)[1]


def _settings(url: str, tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": url,
        "data_dir": tmp_path / "var",
        "migrate_on_start": True,
        "db_pool_size": 5,
        "db_max_overflow": 5,
        "db_pool_timeout": 30.0,
        "job_wait_seconds": 0.0,
        "worker_threads": 2,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


@pytest.fixture
async def bounced_client(bounced_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    previous = config.settings
    application = create_app(_settings(bounced_url, tmp_path))
    try:
        async with LifespanManager(application):  # migrates through PgBouncer
            key = await make_api_key(application)
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://test", headers={"X-API-Key": key}
            ) as client:
                yield client
    finally:
        config.settings = previous


def _queries_through(port: int, database: str) -> int:
    for row in pgtools.pgbouncer_show(port, "STATS"):
        if row["database"] == database:
            return int(row["total_query_count"])
    return 0


async def test_the_app_serves_50_concurrent_requests_through_pgbouncer(
    bounced_client: httpx.AsyncClient, bounced_url: str, bouncer_port: int
) -> None:
    client = bounced_client
    database = bounced_url.rsplit("/", 1)[1]
    before = _queries_through(bouncer_port, database)
    batch = [product_payload(source_id=f"PGB-{i}") for i in range(300)]
    imported = (await client.post("/api/import/batch", json=batch)).json()
    assert imported["failed_count"] == 0, imported
    product_ids = [r["product_id"] for r in imported["results"]]

    job = await client.post(
        "/api/ai/batch-optimize",
        json={"product_ids": product_ids[:20], "target_marketplace": "ebay", "engine": "offline"},
    )
    assert job.status_code == 200, job.text
    job_id = job.json()["job_id"]

    async def one(i: int) -> httpx.Response:
        match i % 7:
            case 0:
                return await client.get("/api/products", params={"page_size": 50})
            case 1:
                return await client.get("/api/products/stats/summary")
            case 2:
                return await client.get(f"/api/products/{product_ids[i]}")
            case 3:
                return await client.get("/api/products", params={"q": f"PGB-{i}"})
            case 4:
                return await client.post(
                    "/api/import/product", json=product_payload(source_id=f"PGB-new-{i}")
                )
            case 5:
                return await client.get("/api/jobs")
            case _:
                return await client.get(f"/api/jobs/{job_id}")

    responses = await asyncio.gather(*(one(i) for i in range(50)))
    assert [r.status_code for r in responses if r.status_code != 200] == [], [
        r.text for r in responses if r.status_code != 200
    ]

    for _ in range(300):  # the embedded worker finishes the job through PgBouncer too
        status = (await client.get(f"/api/jobs/{job_id}")).json()
        if status["status"] not in ("pending", "running"):
            break
        await asyncio.sleep(0.1)
    assert status["status"] == "completed", status
    assert status["succeeded"] == 20

    stats = (await client.get("/api/products/stats/summary")).json()
    assert stats["total_products"] == 300 + sum(1 for i in range(50) if i % 7 == 4)
    assert stats["optimized_products"] == 20
    # Every one of those statements went through PgBouncer, not around it.
    assert _queries_through(bouncer_port, database) - before > 200
    assert dbmod.check(bounced_url) == []


def test_concurrent_migrations_through_pgbouncer_leave_no_lock_behind(bounced_url: str) -> None:
    """Three replicas starting at once, each migrating through PgBouncer (separate processes:
    Alembic is not thread-safe)."""
    code = "import sys; from listingflow import db; db.upgrade(sys.argv[1])"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, bounced_url], stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    try:
        results = [
            (proc.wait(timeout=120), proc.stderr.read() if proc.stderr else b"") for proc in procs
        ]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert [code for code, _ in results] == [0, 0, 0], [err[-2000:] for _, err in results]
    assert dbmod.current_revision(bounced_url) == dbmod.head_revision(bounced_url)
    database = bounced_url.rsplit("/", 1)[1]
    with psycopg.connect(pgtools.PG_ADMIN_URL) as conn:
        # this database's lock only: other tests migrate their own databases at the same time
        held = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s "
            "AND database = (SELECT oid FROM pg_database WHERE datname = %s)",
            (MIGRATION_LOCK_ID, database),
        ).fetchone()
    assert held == (0,)


def test_server_side_prepared_statements_break_behind_pgbouncer(bounced_url: str) -> None:
    """The control: psycopg's own prepared statements collide on PgBouncer's shared server
    connections, which is why the engine turns them off."""
    with (
        psycopg.connect(bounced_url, autocommit=True, prepare_threshold=0) as one,
        psycopg.connect(bounced_url, autocommit=True, prepare_threshold=0) as two,
    ):
        one.execute("SELECT %s::int", (1,))  # prepares _pg3_0 on a server connection
        with pytest.raises(psycopg.errors.DuplicatePreparedStatement):
            two.execute("SELECT %s::int", (2,))  # the same name on the same server connection


async def test_the_engine_never_prepares_statements_behind_pgbouncer(
    bounced_url: str, tmp_path: Path
) -> None:
    engine = dbmod.make_async_engine(bounced_url, _settings(bounced_url, tmp_path))
    try:

        async def many(n: int) -> None:
            async with engine.connect() as conn:
                for i in range(20):
                    value = await conn.scalar(sa.select(sa.literal(n * 100 + i)))
                    assert value == n * 100 + i
                    await conn.commit()

        await asyncio.gather(*(many(n) for n in range(8)))
    finally:
        await engine.dispose()


async def test_pool_settings_bound_the_connections_and_time_out(
    bounced_url: str, tmp_path: Path
) -> None:
    settings = _settings(bounced_url, tmp_path, db_pool_size=2, db_max_overflow=1)
    settings.db_pool_timeout = 0.5
    engine = dbmod.make_async_engine(bounced_url, settings)
    held = []
    try:
        for _ in range(3):  # pool size 2 + overflow 1
            held.append(await engine.connect())
        with pytest.raises(sa.exc.TimeoutError):
            await engine.connect()
        await held.pop().close()
        held.append(await engine.connect())  # one came back: the next one gets it
    finally:
        for conn in held:
            await conn.close()
        await engine.dispose()
