"""PostgreSQL restarted in the middle of a large `listingflow import` (a cluster of the test's
own; the machine's shared server is never touched): the import stops with a message naming how
many items landed, the job records the same, exactly those whole chunks are in the database,
and running the same import again completes it without a duplicate."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from listingflow import db as dbmod
from tests.db.pgtools import Cluster, init_primary, owned_tempdir

LISTINGFLOW = str(Path(sys.executable).parent / "listingflow")
ROWS = 40_000
CHUNK = 2_000


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    root = owned_tempdir("listingflow-pgrestart-")
    server = None
    try:
        server = init_primary(root)
        server.start()
        server.execute("CREATE DATABASE listingflow")
        dbmod.upgrade(server.url("listingflow"))
        yield server
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _catalog(path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("source_id,title,description,price,currency,brand\n")
        for i in range(ROWS):
            out.write(
                f"PR-{i:06d},Kubek ceramiczny {i},Kubek z uchem pojemność 300 ml,"
                f"{19 + i % 50}.99,PLN,Ceramika\n"
            )


def _import(cluster: Cluster, path: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "LISTINGFLOW_DATABASE_URL": cluster.url("listingflow"),
        "LISTINGFLOW_IMPORT_CHUNK_SIZE": str(CHUNK),
    }
    return subprocess.Popen(
        [LISTINGFLOW, "import", str(path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _count(cluster: Cluster, sql: str) -> int:
    return int(cluster.execute(sql, "listingflow")[0][0])


def test_an_import_survives_a_postgres_restart_and_a_rerun_completes_it(
    cluster: Cluster, tmp_path: Path
) -> None:
    path = tmp_path / "catalog.csv"
    _catalog(path)
    process = _import(cluster, path)
    try:
        deadline = time.monotonic() + 60
        while _count(cluster, "SELECT count(*) FROM products") < 4 * CHUNK:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the import did not start"
            time.sleep(0.05)
        cluster.stop()  # fast shutdown: every connection is cut mid-chunk
        time.sleep(2)
        cluster.start()
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 9)
            process.wait()
    assert process.returncode == 1, stderr
    message = " ".join(stderr.split())
    landed = re.search(r"the (\d+) items before it were imported \(job (\d+)\)", message)
    assert landed, message
    items, job_id = int(landed.group(1)), int(landed.group(2))
    assert "the database is unavailable" in message, message
    assert 0 < items < ROWS and items % CHUNK == 0  # whole chunks only
    # Exactly the chunks it names, or one more when the server committed the chunk it was
    # answering as it shut down (the answer lost: the import cannot know; the re-run settles it).
    assert _count(cluster, "SELECT count(*) FROM products") in (items, items + CHUNK)
    status, error = cluster.execute(
        f"SELECT status, error_summary FROM jobs WHERE id = {job_id}", "listingflow"
    )[0]
    assert status == "failed"
    assert f"the {items} items before it were imported" in error

    rerun = _import(cluster, path)
    try:
        _, stderr = rerun.communicate(timeout=120)
    finally:
        if rerun.poll() is None:
            os.killpg(rerun.pid, 9)
            rerun.wait()
    assert rerun.returncode == 0, stderr
    assert _count(cluster, "SELECT count(*) FROM products") == ROWS
    assert _count(cluster, "SELECT count(DISTINCT source_id) FROM products") == ROWS
    assert _count(cluster, "SELECT count(*) FROM jobs WHERE status = 'completed'") == 1
