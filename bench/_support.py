"""What the benchmarks share: a scratch database, the `listingflow` command, a real server."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listingflow_bin() -> str:
    beside = Path(sys.executable).parent / "listingflow"
    found = str(beside) if beside.exists() else shutil.which("listingflow")
    if not found:
        raise SystemExit("the `listingflow` command is not installed: run `make install`")
    return found


class Scratch:
    """A fresh, migrated database and data directory for one measurement, removed afterwards."""

    def __init__(self, backend: str, workdir: Path | None, pg_admin_url: str) -> None:
        self.backend = backend
        self.pg_admin_url = pg_admin_url
        self.dir = Path(tempfile.mkdtemp(prefix="lf-bench-", dir=workdir))
        self.dbname = f"listingflow_bench_{os.urandom(5).hex()}"
        self.sqlite_path = self.dir / "bench.db"
        if backend == "postgresql":
            self.url = urlunsplit(urlsplit(pg_admin_url)._replace(path=f"/{self.dbname}"))
        else:
            self.url = f"sqlite:///{self.sqlite_path}"
        self._created = False

    def __enter__(self) -> Scratch:
        try:
            if self.backend == "postgresql":
                with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{self.dbname}"')
                self._created = True
            run_cli(self, "db", "upgrade")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._created:
            try:
                with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
                self._created = False
            except psycopg.Error as exc:
                print(f"warning: could not drop database {self.dbname}: {exc}", file=sys.stderr)
        shutil.rmtree(self.dir, ignore_errors=True)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LISTINGFLOW_")}
        env.update(
            LISTINGFLOW_DATABASE_URL=self.url,
            LISTINGFLOW_DATA_DIR=str(self.dir / "data"),
            LISTINGFLOW_LOG_LEVEL="WARNING",
            LISTINGFLOW_ENVIRONMENT="development",
        )
        return env

    def count_products(self) -> int:
        if self.backend == "postgresql":
            with psycopg.connect(self.url) as conn:
                row = conn.execute("SELECT count(*) FROM products").fetchone()
        else:
            with contextlib.closing(sqlite3.connect(self.sqlite_path)) as conn:
                row = conn.execute("SELECT count(*) FROM products").fetchone()
        return int(row[0]) if row else 0


def run_cli(scratch: Scratch, *args: str) -> str:
    """Run a `listingflow` command against the scratch database; its stdout, or a clear error."""
    done = subprocess.run(
        [listingflow_bin(), *args],
        env=scratch.env(),
        cwd=scratch.dir,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"`listingflow {' '.join(args)}` exited {done.returncode}:\n{done.stderr[-2000:]}"
        )
    return done.stdout


@contextlib.contextmanager
def server(
    scratch: Scratch, workers: int, env: dict[str, str] | None = None
) -> Iterator[tuple[str, int]]:
    """`listingflow serve` on a free port (extra settings in `env`); yields its base URL and
    pid; always stopped."""
    port = free_port()
    log_path = scratch.dir / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [listingflow_bin(), "serve", "--port", str(port), "--workers", str(workers)],
            env={**scratch.env(), **(env or {})},
            cwd=scratch.dir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited {proc.returncode}:\n{tail(log_path)}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not become healthy in 60 s:\n{tail(log_path)}")
            time.sleep(0.2)
        yield base, proc.pid
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown, workers included
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def tail(path: Path, size: int = 3000) -> str:
    with contextlib.suppress(OSError):
        return path.read_bytes()[-size:].decode(errors="replace")
    return ""


def machine_lines(pg_url: str | None) -> list[str]:
    """The machine a figure was measured on: CPU, cores, RAM, Python, SQLite, PostgreSQL."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    lines = [
        f"CPU: {cpu}, {os.cpu_count()} cores; RAM {ram}; {platform.system()} {platform.release()}",
        f"Python {platform.python_version()}; SQLite {sqlite3.sqlite_version}",
    ]
    if pg_url:
        try:
            with psycopg.connect(pg_url, connect_timeout=5) as conn:
                row = conn.execute("SHOW server_version").fetchone()
            lines.append(f"PostgreSQL {row[0] if row else '?'} at {_mask(pg_url)}")
        except psycopg.Error as exc:
            lines.append(f"PostgreSQL unreachable at {_mask(pg_url)}: {exc}")
    return lines


def _mask(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":****@"))
    return urlunsplit(parts)


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the worker's process group, then SIGKILL it if it has not exited in 10 s."""
    if proc.poll() is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # stray children, if any
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
