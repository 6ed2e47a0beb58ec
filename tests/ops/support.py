"""Helpers for the ops tests that run `listingflow` as a real process."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listingflow_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A clean environment: a SQLite database under tmp_path, quiet logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LISTINGFLOW_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        LISTINGFLOW_DATABASE_URL=f"sqlite:///{tmp_path / 'lf.db'}",
        LISTINGFLOW_DATA_DIR=str(tmp_path / "var"),
        LISTINGFLOW_LOG_LEVEL="WARNING",
        LISTINGFLOW_ENVIRONMENT="development",
    )
    env.update(extra)
    return env


def wait_healthy(base: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        assert proc.poll() is None, f"server exited {proc.returncode}"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        assert time.monotonic() < deadline, "server did not become healthy"
        time.sleep(0.2)
