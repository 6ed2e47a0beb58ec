"""Test fixtures: every database test runs on SQLite and on PostgreSQL (a fresh database per run).

PostgreSQL: one database per test session, migrated by Alembic, emptied before each test.
SQLite: a migrated template file copied for each test. With LISTINGFLOW_REQUIRE_SERVICES=1 a
missing PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from listingflow import config
from listingflow import db as dbmod
from listingflow.app import create_app
from listingflow.auth.service import auth_service
from listingflow.config import Settings

PG_ADMIN_URL = os.environ.get(
    "LISTINGFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_SERVICES = os.environ.get("LISTINGFLOW_REQUIRE_SERVICES") == "1"
WEBHOOK_SECRET = "test-webhook-secret-0123456789"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    if not _pg_available():
        if REQUIRE_SERVICES:
            pytest.fail(
                f"PostgreSQL is required (LISTINGFLOW_REQUIRE_SERVICES=1) at {PG_ADMIN_URL}"
            )
        pytest.skip("PostgreSQL not available")
    name = f"listingflow_test_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    dbmod.upgrade(url)
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# One Redis database per pytest-xdist worker (15, 14, ...): tests flush theirs and run workers
# that consume its queues, so two test processes must never share one.
# LISTINGFLOW_TEST_REDIS_DB moves the range down so that two pytest runs on one machine (two
# people, two checkouts) keep apart too.
_XDIST = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
_REDIS_BASE = int(os.environ.get("LISTINGFLOW_TEST_REDIS_DB", "15"))
_REDIS_DB = _REDIS_BASE - int(_XDIST[2:] or 0) if _XDIST.startswith("gw") else _REDIS_BASE
REDIS_TEST_URL = os.environ.get("LISTINGFLOW_TEST_REDIS_URL", f"redis://127.0.0.1:6379/{_REDIS_DB}")
RABBIT_HOST = os.environ.get("LISTINGFLOW_TEST_RABBIT_HOST", "127.0.0.1")


def _rabbit_up() -> bool:
    import socket

    try:
        with socket.create_connection((RABBIT_HOST, 5672), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def rabbit_url() -> Iterator[str]:
    """A RabbitMQ virtual host of this test process's own (made with rabbitmqctl), so queues of
    concurrent runs never mix; the default vhost when rabbitmqctl is not at hand."""
    import subprocess

    if not _rabbit_up():
        if REQUIRE_SERVICES:
            pytest.fail("RabbitMQ is required (LISTINGFLOW_REQUIRE_SERVICES=1)")
        pytest.skip("RabbitMQ not available")
    vhost = f"listingflow_test_{secrets.token_hex(4)}"
    ctl = shutil.which("rabbitmqctl")
    made = False
    if ctl is not None:
        made = (
            subprocess.run([ctl, "add_vhost", vhost], capture_output=True, check=False).returncode
            == 0
            and subprocess.run(
                [ctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
                capture_output=True,
                check=False,
            ).returncode
            == 0
        )
    yield f"amqp://guest:guest@{RABBIT_HOST}:5672/{vhost if made else '%2F'}"
    if made and ctl is not None:
        subprocess.run([ctl, "delete_vhost", vhost], capture_output=True, check=False)


@pytest.fixture
def redis_url() -> str:
    """An empty Redis database for this test (db 15 by default), or skip/fail without Redis."""
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError:
        if REQUIRE_SERVICES:
            pytest.fail(f"Redis is required (LISTINGFLOW_REQUIRE_SERVICES=1) at {REDIS_TEST_URL}")
        pytest.skip("Redis not available")
    finally:
        client.close()
    return REDIS_TEST_URL


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    dbmod.upgrade(f"sqlite:///{path}")
    return path


def _reset_postgres(url: str) -> None:
    with psycopg.connect(url.replace("postgresql://", "postgresql://", 1), autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname='public' "
                "AND tablename <> 'alembic_version'"
            )
        ]
        conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        conn.execute(
            "INSERT INTO workspaces (slug, name, created_at) "
            "VALUES ('default', 'Default workspace', now())"
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "listingflow.db"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_url")
    _reset_postgres(url)
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Iterator[Settings]:
    previous = config.settings
    value = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        database_url=database_url,
        data_dir=tmp_path / "var",
        migrate_on_start=False,
        webhook_secret=WEBHOOK_SECRET,
        import_chunk_size=50,
    )
    config.settings = value
    yield value
    config.settings = previous


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def anon_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def make_api_key(app: FastAPI, workspace: str = "default") -> str:
    async with app.state.db.session() as session:
        ws = await auth_service.get_or_create_workspace(session, workspace)
        _, key = await auth_service.create_api_key(session, ws.id, name=f"test {workspace}")
        await session.commit()
    return key


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app of its own (lifespan run) and a client with a new API key, for tests that need
    settings the `app` fixture does not have, or two apps side by side."""
    application = create_app(settings)
    async with LifespanManager(application):
        key = await make_api_key(application)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers={"X-API-Key": key}
        ) as client:
            yield application, client


@pytest.fixture
async def api_key(app: FastAPI) -> str:
    return await make_api_key(app)


@pytest.fixture
async def client(app: FastAPI, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers={"X-API-Key": api_key}
    ) as c:
        yield c
