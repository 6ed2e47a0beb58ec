"""Servers a test starts for itself: PostgreSQL clusters (a primary and a streaming standby) and
PgBouncer, each on a free port under a temporary folder, run as the postgres user when we are
root (initdb and pgbouncer refuse root), and stopped by process group afterwards.

The machine's shared PostgreSQL is never reconfigured or restarted here.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

REQUIRE_SERVICES = os.environ.get("LISTINGFLOW_REQUIRE_SERVICES") == "1"
PG_BIN = Path(os.environ.get("LISTINGFLOW_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_ADMIN_URL = os.environ.get(
    "LISTINGFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def missing(what: str) -> None:
    """Skip the test, or fail it when LISTINGFLOW_REQUIRE_SERVICES=1 (CI)."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} (required: LISTINGFLOW_REQUIRE_SERVICES=1)")
    pytest.skip(what)


def binary(name: str, *, pg: bool = False) -> str:
    """The path of a program, or skip/fail naming it."""
    candidate = PG_BIN / name if pg else None
    if candidate is not None and candidate.is_file():
        return str(candidate)
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        where = f" (looked in {PG_BIN} and PATH)" if pg else ""
        missing(f"{name} is not installed{where}")
    return str(found)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before port {port} opened")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on port {port} after {timeout} s")


def _as_postgres() -> dict[str, Any]:
    """Popen/run arguments that drop to the postgres user when we are root."""
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        missing("running as root but there is no postgres user to run PostgreSQL tools as")
    return {"user": "postgres", "group": "postgres"}


def owned_tempdir(prefix: str) -> Path:
    """A temporary folder the server's user owns (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")
    return path


def run_tool(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, capture_output=True, text=True, check=False, **_as_postgres(), **kwargs
    )
    if result.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr[-2000:]}")
    return result


def start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """A server in its own process group, output to `log`."""
    with open(log, "ab") as out:
        if os.geteuid() == 0:
            shutil.chown(log, "postgres", "postgres")
        return subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **_as_postgres()
        )


def stop_group(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGINT) -> None:
    """Stop a server and everything in its process group; SIGKILL if it lingers."""
    if proc is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@dataclass
class Cluster:
    """One PostgreSQL server of our own (trust auth on 127.0.0.1)."""

    data: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    options: list[str] = field(default_factory=list)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self.proc = start(
            [
                binary("postgres", pg=True),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.data}",
                # Small and fast: a throwaway server shares 2 cores with everyone.
                "-c",
                "shared_buffers=32MB",
                "-c",
                "max_connections=60",
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
                *self.options,
            ],
            self.data.parent / f"{self.data.name}.log",
        )
        wait_for_port(self.port, self.proc)
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        stop_group(self.proc)
        self.proc = None

    def execute(self, sql: str, database: str = "postgres") -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url(database), autocommit=True) as conn:
            cur = conn.execute(sql.encode())
            return cur.fetchall() if cur.description else []


def init_primary(root: Path) -> Cluster:
    data = root / "primary"
    run_tool(
        [
            binary("initdb", pg=True),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        ]
    )
    return Cluster(data=data, port=free_port())


def base_backup(primary: Cluster, root: Path) -> Cluster:
    """A hot standby streaming from `primary` (pg_basebackup -R writes the recovery settings)."""
    data = root / "standby"
    run_tool(
        [
            binary("pg_basebackup", pg=True),
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-D",
            str(data),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
        ]
    )
    return Cluster(data=data, port=free_port(), options=["-c", "hot_standby=on"])


@contextlib.contextmanager
def primary_and_standby() -> Iterator[tuple[Cluster, Cluster]]:
    """A primary and its streaming hot standby, both ours; removed afterwards."""
    root = owned_tempdir("listingflow-replica-")
    primary = standby = None
    try:
        primary = init_primary(root)
        primary.start()
        standby = base_backup(primary, root)
        standby.start()
        yield primary, standby
    finally:
        if standby is not None:
            standby.stop()
        if primary is not None:
            primary.stop()
        shutil.rmtree(root, ignore_errors=True)


def wait_until_replayed(primary: Cluster, standby: Cluster, timeout: float = 30.0) -> None:
    """Block until the standby has replayed everything the primary has written so far."""
    (lsn,) = primary.execute("SELECT pg_current_wal_lsn()::text")[0]
    deadline = time.monotonic() + timeout
    while True:
        (done,) = standby.execute(f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn")[0]
        if done:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"standby did not replay up to {lsn} in {timeout} s")
        time.sleep(0.05)


@contextlib.contextmanager
def pgbouncer(target_host: str, target_port: int, *, pool_size: int = 10) -> Iterator[int]:
    """PgBouncer in transaction mode in front of target_host:target_port; yields its port.
    `psql -p <port> pgbouncer` (admin user postgres) answers SHOW POOLS / SHOW STATS."""
    exe = binary("pgbouncer")
    root = owned_tempdir("listingflow-pgbouncer-")
    port = free_port()
    userlist = root / "userlist.txt"
    userlist.write_text('"postgres" ""\n')
    ini = root / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"* = host={target_host} port={target_port}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = trust\n"
        f"auth_file = {userlist}\n"
        "pool_mode = transaction\n"
        "max_client_conn = 500\n"
        f"default_pool_size = {pool_size}\n"
        "admin_users = postgres\n"
        "stats_users = postgres\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
        f"pidfile = {root / 'pgbouncer.pid'}\n"
    )
    if os.geteuid() == 0:
        for path in (userlist, ini):
            shutil.chown(path, "postgres", "postgres")
    proc = start([exe, str(ini)], root / "pgbouncer.log")
    try:
        wait_for_port(port, proc)
        yield port
    finally:
        stop_group(proc)
        shutil.rmtree(root, ignore_errors=True)


def pgbouncer_show(port: int, what: str) -> list[dict[str, str]]:
    """The admin console's SHOW <what> as rows of column -> text (simple query protocol only,
    so through psql rather than psycopg's extended protocol)."""
    psql = binary("psql", pg=True)
    where = ["-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "pgbouncer"]
    result = subprocess.run(
        [psql, *where, "--csv", "-c", f"SHOW {what}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return list(csv.DictReader(io.StringIO(result.stdout)))
