"""Stateless API replicas: three `listingflow serve` processes on their own ports, one PostgreSQL
database and one Redis, configured by environment only. A write through one replica is read at
once through the others, including counts and stats they had cached before the write (the
workspace's cache generation lives in Redis, so every replica moves past its old entries)."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
from tests.db import pgtools
from tests.factories import product_payload

from listingflow.kit.cache import cache_key

pytestmark = pytest.mark.postgres

LISTINGFLOW = str(Path(sys.executable).parent / "listingflow")


@pytest.fixture
def shared_database() -> Iterator[str]:
    try:
        with psycopg.connect(pgtools.PG_ADMIN_URL, connect_timeout=3):
            pass
    except psycopg.Error:
        pgtools.missing(f"PostgreSQL is not reachable at {pgtools.PG_ADMIN_URL}")
    name = f"listingflow_replicas_{secrets.token_hex(4)}"
    with psycopg.connect(pgtools.PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield pgtools.PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(pgtools.PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def _environment(database_url: str, redis_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LISTINGFLOW_")}
    env.update(
        LISTINGFLOW_DATABASE_URL=database_url,
        LISTINGFLOW_REDIS_URL=redis_url,
        LISTINGFLOW_SECRET_KEY="replicas-test-" + "s" * 32,  # the same on every replica
        LISTINGFLOW_DATA_DIR=str(data_dir),
        LISTINGFLOW_LOG_LEVEL="WARNING",
    )
    return env


def _stop(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@pytest.fixture
def replicas(shared_database: str, redis_url: str, tmp_path: Path) -> Iterator[list[str]]:
    """Three API processes started at once (they migrate the empty database together)."""
    env = _environment(shared_database, redis_url, tmp_path / "var")
    ports = [pgtools.free_port() for _ in range(3)]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for n, port in enumerate(ports):
            log = open(tmp_path / f"api{n}.log", "wb")  # noqa: SIM115 (closed with the process)
            procs.append(
                subprocess.Popen(
                    [LISTINGFLOW, "serve", "--host", "127.0.0.1", "--port", str(port)],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        deadline = time.monotonic() + 60
        for n, url in enumerate(urls):
            while True:
                if procs[n].poll() is not None:
                    pytest.fail(f"replica {n} exited: {(tmp_path / f'api{n}.log').read_text()}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    pytest.fail(f"replica {n} did not come up")
                time.sleep(0.2)
        yield urls
    finally:
        for proc in procs:
            _stop(proc)


def _api_key(env: dict[str, str]) -> str:
    result = subprocess.run(
        [LISTINGFLOW, "apikey", "create", "--name", "replicas test"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout.strip()


def test_writes_through_one_replica_are_read_fresh_through_the_others(
    replicas: list[str], shared_database: str, redis_url: str, tmp_path: Path
) -> None:
    key = _api_key(_environment(shared_database, redis_url, tmp_path / "var"))
    one, two, three = (
        httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=30) for url in replicas
    )
    with one, two, three:
        # Replicas 2 and 3 cache the empty catalog's count, page and stats; read three times,
        # so that the last answers come from their response caches (response_cache.py).
        for replica in (two, three):
            for _ in range(3):
                assert replica.get("/api/products").json()["total"] == 0
                assert replica.get("/api/products/stats/summary").json()["total_products"] == 0

        batch = [product_payload(source_id=f"REP-{i}") for i in range(5)]
        imported = one.post("/api/import/batch", json=batch).json()
        assert imported["failed_count"] == 0, imported
        ids = [r["product_id"] for r in imported["results"]]

        for replica in (two, three):
            page = replica.get("/api/products", params={"page_size": 3}).json()
            assert page["total"] == 5
            assert replica.get("/api/products/stats/summary").json()["total_products"] == 5
            assert replica.get(f"/api/products/{ids[0]}").status_code == 200
        # A cursor signed by replica 2 is good on replica 3: no state lives in a process.
        cursor = two.get("/api/products", params={"page_size": 3}).json()["next_cursor"]
        rest = three.get("/api/products", params={"page_size": 3, "cursor": cursor}).json()
        assert len(rest["items"]) == 2

        assert two.delete(f"/api/products/{ids[0]}").status_code == 200
        for replica in (one, three):
            assert replica.get("/api/products").json()["total"] == 4
            assert replica.get("/api/products/stats/summary").json()["total_products"] == 4
            assert replica.get(f"/api/products/{ids[0]}").status_code == 404

    # The generation that moved every replica past its cached entries is in Redis.
    client = redis.Redis.from_url(redis_url)
    try:
        generations = client.keys(cache_key("gen", "*"))
        assert len(generations) == 1, generations
        assert int(client.get(generations[0]) or 0) >= 2  # the import and the delete
    finally:
        client.close()
