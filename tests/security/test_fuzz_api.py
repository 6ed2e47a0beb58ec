"""Schemathesis over the whole OpenAPI schema of create_app(), against the real app under
uvicorn (SQLite, embedded jobs) with an API key: no answer may be a 5xx, and every answer must
be one the schema declares (status code, content type, headers and body).

Bounded for CI: a fixed number of examples per operation (FUZZ_EXAMPLES, default 25),
derandomized so that every run sends the same requests, no shrinking. Valid requests first
(positive), then invalid ones (negative). Schemathesis' negative_data_rejection check is not
used: the v1 batch and webhook routes answer 200 with a per-item report for invalid items by
design, and unknown query parameters are ignored as HTTP allows; the answers must still be
declared ones. The figures (requests sent, 5xx) are printed at the end and go into
docs/security.md.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from listingflow import config
from listingflow import db as dbmod
from listingflow.app import create_app
from listingflow.auth.service import auth_service
from listingflow.config import Settings
from tests.conftest import WEBHOOK_SECRET, _reset_postgres

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Streams that follow a job until it ends: a fuzzed request must not wait on one for long.
REQUEST_TIMEOUT = 15.0


class AppServer:
    """The app under uvicorn in a thread, lifespan on (database, cache, embedded worker)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.sock = sock
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings), log_level="warning", access_log=False, lifespan="on"
            )
        )
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )

    def __enter__(self) -> AppServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive(), "the app did not start"
            assert time.monotonic() < deadline, "the app did not start in 30 s"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


async def _new_api_key(settings: Settings) -> str:
    database = dbmod.Database(settings)
    try:
        async with database.session() as session:
            workspace = await auth_service.default_workspace(session)
            _, key = await auth_service.create_api_key(session, workspace.id, name="fuzz")
            await session.commit()
        return key
    finally:
        await database.dispose()


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[str, str]]:
    """SQLite in CI (the bound); FUZZ_DATABASE=postgresql fuzzes a fresh PostgreSQL database."""
    home = tmp_path_factory.mktemp("fuzz")
    database_url = f"sqlite:///{home / 'fuzz.db'}"
    if os.environ.get("FUZZ_DATABASE") == "postgresql":
        database_url = request.getfixturevalue("pg_url")
        _reset_postgres(database_url)
    previous = config.settings
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        data_dir=home / "var",
        database_url=database_url,
        webhook_secret=WEBHOOK_SECRET,
        # Every fuzzed request is counted, never refused for volume (limits have their tests).
        rate_limit_per_key="0",
        rate_limit_per_ip="0",
        # Fuzzed product-page URLs must fail fast (no internet here).
        url_fetch_timeout=1.0,
        job_wait_seconds=1.0,
        publish_wait_seconds=1.0,
        max_batch_items=50,
    )
    dbmod.upgrade(settings.effective_database_url)
    try:
        with AppServer(settings) as server:
            key = asyncio.run(_new_api_key(settings))
            yield server.url, key
    finally:
        config.settings = previous


def _fuzz_operation(
    operation: Any,
    base_url: str,
    key: str,
    mode: GenerationMode,
    checks: list[Any],
    session: requests.Session,
    counts: Counter[str],
    failures: dict[str, list[str]],
) -> None:
    @hypothesis_settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(
            base_url=base_url, session=session, headers={"X-API-Key": key}, timeout=REQUEST_TIMEOUT
        )
        counts["requests"] += 1
        counts[f"{response.status_code // 100}xx"] += 1
        try:
            case.validate_response(response, checks=checks)
        except (Exception, BaseExceptionGroup) as exc:  # collected; the test lists them all
            found = failures.setdefault(operation.label, [])
            if len(found) < 3:
                found.append(f"{exc}\n    {case.as_curl_command()}"[:1500])

    try:
        run()
    except Unsatisfiable:  # nothing to make invalid (no parameters, no body): nothing to send
        assert mode is GenerationMode.NEGATIVE, operation.label


def _fuzz(
    schema: Any, base_url: str, key: str, mode: GenerationMode, checks: list[Any]
) -> tuple[Counter[str], dict[str, list[str]]]:
    counts: Counter[str] = Counter()
    failures: dict[str, list[str]] = {}
    session = requests.Session()
    for result in schema.get_all_operations():
        _fuzz_operation(result.ok(), base_url, key, mode, checks, session, counts, failures)
    session.close()
    return counts, failures


def test_fuzzing_the_whole_schema_finds_no_5xx_and_no_schema_mismatch(
    served: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    base_url, key = served
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", headers={"X-API-Key": key})
    operations = sum(1 for _ in schema.get_all_operations())
    positive, positive_failures = _fuzz(schema, base_url, key, GenerationMode.POSITIVE, CHECKS)
    negative, negative_failures = _fuzz(schema, base_url, key, GenerationMode.NEGATIVE, CHECKS)
    total = positive + negative
    summary = (
        f"fuzz: {operations} operations, {total['requests']} requests "
        f"({positive['requests']} valid, {negative['requests']} invalid), "
        f"2xx {total['2xx']}, 4xx {total['4xx']}, 5xx {total['5xx']}"
    )
    with capsys.disabled():
        print(f"\n{summary}")
    report = "\n".join(
        f"[{kind}] {label}:\n  " + "\n  ".join(found)
        for kind, failures in (("valid", positive_failures), ("invalid", negative_failures))
        for label, found in failures.items()
    )
    assert total["requests"] >= operations * 2
    assert total["5xx"] == 0, report
    assert not positive_failures and not negative_failures, report
