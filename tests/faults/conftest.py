"""Fault tests: servers of the test's own (Redis, PostgreSQL, a tiny filesystem) that a test
stops and starts; the machine's shared services are never touched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.job.test_worker_faults import OwnRedis


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
