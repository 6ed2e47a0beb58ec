"""Fixtures for the file reader tests: the real export files kept in shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

# In CI a copy of shared/ sits beside the repository checkout.
SHARED_DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared test data not found at {SHARED_DATA.resolve()}")
    return SHARED_DATA
