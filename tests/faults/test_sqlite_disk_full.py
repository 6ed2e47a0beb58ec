"""SQLite on a full disk: the database file on a 2 MB tmpfs of the test's own, imports until it
is full. The import that hits the wall answers 507 with a message saying the disk is full and
how many of its items landed; reads keep working; the database passes PRAGMA integrity_check
and every earlier product is intact, nothing half-written."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from listingflow.config import Settings
from tests.conftest import running_app
from tests.db.pgtools import missing
from tests.factories import product_payload

BATCH = 200
TEXT = "Kubek ceramiczny z uchem, pojemność 300 ml, można myć w zmywarce. " * 30  # ~2 KB


@pytest.fixture
def tiny_disk() -> Iterator[Path]:
    """A 2 MB tmpfs mounted for this test (needs root), unmounted afterwards."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        missing("mounting a tmpfs needs root and mount(8)")
    path = Path(tempfile.mkdtemp(prefix="listingflow-full-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        path.rmdir()
        missing(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)
        path.rmdir()


def _batch(start: int) -> list[dict[str, object]]:
    return [
        product_payload(source_id=f"DF-{i:06d}", description=f"{TEXT} {i}")
        for i in range(start, start + BATCH)
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_full_disk_is_a_clear_507_and_the_database_stays_intact(
    settings: Settings, sqlite_template: Path, tiny_disk: Path
) -> None:
    path = tiny_disk / "listingflow.db"
    shutil.copy(sqlite_template, path)
    settings.database_url = f"sqlite:///{path}"
    async with running_app(settings) as (_, client):
        earlier = _batch(0)[:20]
        assert (await client.post("/api/import/batch", json=earlier)).status_code == 200
        before = {
            p["source_id"]: p
            for p in (await client.get("/api/products", params={"page_size": 100})).json()["items"]
        }
        assert len(before) == 20

        imported = len(earlier)
        full = None
        for n in range(1, 40):  # ~0.5 MB a batch: the 2 MB disk is full long before
            response = await client.post("/api/import/batch", json=_batch(n * BATCH))
            if response.status_code != 200:
                full = response
                break
            imported += BATCH
        assert full is not None, "the disk never filled"
        assert full.status_code == 507, full.text
        body = full.json()
        assert body["code"] == "storage_full"
        assert (
            "disk is full" in body["detail"] and "items before it were imported" in body["detail"]
        ), body

        # Any other write while the disk is full is the same clear answer, not a 500.
        for _ in range(3):
            single = await client.post(
                "/api/import/product", json=product_payload(description=TEXT * 20)
            )
            assert single.status_code == 507, single.text
            assert single.json()["code"] == "storage_full"

        # Reads still work, and the earlier products are as they were.
        listed = await client.get("/api/products", params={"page_size": 1})
        assert listed.status_code == 200, listed.text
        for product in before.values():
            again = await client.get(f"/api/products/{product['id']}")
            assert again.status_code == 200
            assert again.json() == product
        stats = await client.get("/api/products/stats/summary")
        assert stats.status_code == 200, stats.text

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        count, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT source_id) FROM products"
        ).fetchone()
    assert count == distinct  # nothing doubled
    assert imported <= count < imported + BATCH  # whole batches before, whole chunks of the last
    assert (count - imported) % settings.import_chunk_size == 0
