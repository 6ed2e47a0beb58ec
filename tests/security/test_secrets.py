"""Secrets stay secret: a whole pipeline run with recognizable secrets (an issued API key, the
webhook secret, the LLM key, the encryption key, marketplace client secrets, refresh and access
tokens) leaves none of them in a log line, an API answer (body or header) or the database (only
hashes and ciphertext); the webhook secret and the encryption key rotate without losing access."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import logging
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from asgi_lifespan import LifespanManager
from pydantic import SecretStr

from listingflow.app import create_app
from listingflow.auth.service import auth_service
from listingflow.config import Settings
from listingflow.exceptions import BadRequest
from listingflow.logging import configure_logging
from listingflow.models import MarketplaceConnection
from listingflow.publication.connections import connection_service
from tests.conftest import make_api_key
from tests.db.pgtools import binary
from tests.factories import product_payload
from tests.fakes.allegro_server import FakeAllegroServer
from tests.fakes.ebay_server import FakeEbayServer
from tests.fakes.openai_server import FakeLLMServer
from tests.job.test_worker_faults import OwnRedis

LISTINGFLOW = str(Path(sys.executable).parent / "listingflow")
EAN = "5901234123457"
SECRET_KEY = "sk-rotation-KEY-A-4f1d9c2b7e6a5d3c1b0a9f8e7d6c5b4a"
WEBHOOK = "whsec-DISTINCT-webhook-7c1e5a9f3b2d8e4a6c0f"
LLM_KEY = "gsk_DISTINCT_llm_key_3e9a1c7f5b2d8e6a4c0b"
EBAY_SECRET = "PRD-DISTINCT-ebay-client-secret-51a7c3e9"
EBAY_REFRESH = "v^1.1#i^1#r^1#DISTINCT-ebay-refresh-8d2f6b4a"
ALLEGRO_SECRET = "DISTINCT-allegro-client-secret-2b8e4c6a0f"


@contextlib.contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Every log line of the run: stderr (where structlog writes, JSON with log_json, looked up
    at each call so the app's own logging setup writes here too) and the standard library's
    loggers (httpx, uvicorn, SQLAlchemy, Dramatiq) at DEBUG, all into one stream."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with contextlib.redirect_stderr(stream), contextlib.redirect_stdout(stream):
            yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
        configure_logging("INFO")


def _dump_database(url: str) -> str:
    """Every row of every table as text: pg_dump --data-only, or SQLite's SQL dump."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return "\n".join(conn.iterdump())
    result = subprocess.run(
        [binary("pg_dump", pg=True), "--data-only", "--dbname", url],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


class Recorder:
    """Every API answer along the way, its status line, headers and body, as text."""

    def __init__(self) -> None:
        self.answers: list[str] = []

    async def __call__(self, response: httpx.Response) -> None:
        body = await response.aread()
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        self.answers.append(
            f"{response.request.method} {response.request.url} {response.status_code}\n"
            f"{headers}\n{body.decode('utf-8', 'replace')}"
        )


async def _publish(client: httpx.AsyncClient, marketplace: str) -> dict[str, Any]:
    payload = product_payload(
        attributes={"ean": EAN, "category_id": "9355", "color": "czarny"},
        images=["https://img.example.com/1.jpg", "https://img.example.com/2.jpg"],
    )
    imported = await client.post("/api/import/product", json=payload)
    assert imported.status_code == 200, imported.text
    product_id = imported.json()["product_id"]
    optimized = await client.post(
        f"/api/ai/optimize/{product_id}", params={"target_marketplace": marketplace}
    )
    assert optimized.status_code == 200, optimized.text
    published = await client.post(
        f"/api/export/publish/{product_id}", params={"marketplace": marketplace}
    )
    assert published.status_code == 200, published.text
    body = dict(published.json())
    assert body["status"] == "success", body
    return body


def _dump_redis(url: str) -> str:
    """Every key and value in the Redis database (the cache, rate limits, sessions)."""
    client = redis.Redis.from_url(url)
    try:
        lines = []
        for key in client.scan_iter(count=1000):
            kind = client.type(key).decode()
            value: object = (
                client.get(key)
                if kind == "string"
                else client.hgetall(key)
                if kind == "hash"
                else client.zrange(key, 0, -1, withscores=True)
                if kind == "zset"
                else client.lrange(key, 0, -1)
                if kind == "list"
                else client.smembers(key)
                if kind == "set"
                else kind
            )
            lines.append(f"{key!r} {value!r}")
        return "\n".join(lines)
    finally:
        client.close()


@pytest.mark.parametrize("cache", ["memory", "redis"])
async def test_no_secret_reaches_a_log_an_answer_or_the_database(
    settings: Settings, cache: str, tmp_path: Path
) -> None:
    own_redis = OwnRedis(tmp_path)
    settings.secret_key = SecretStr(SECRET_KEY)
    settings.webhook_secret = SecretStr(WEBHOOK)
    settings.log_json = True
    settings.log_level = "DEBUG"
    settings.publish_wait_seconds = 60
    settings.currency_rates = {"PLN": 1, "EUR": "4.30"}
    settings.pricing_rules = {"ebay": {"currency": "EUR"}, "allegro": {"rounding": "0.99"}}
    recorder = Recorder()
    # Inside the test, not a fixture: pytest puts its own sys.stderr back before the test runs.
    with (
        contextlib.ExitStack() as stack,
        captured_logs() as log_stream,
        FakeLLMServer(api_key=LLM_KEY, rpd_limit=100_000, tpm_limit=10_000_000) as llm,
        FakeEbayServer(client_secret=EBAY_SECRET, refresh_token=EBAY_REFRESH) as ebay,
        FakeAllegroServer(client_secret=ALLEGRO_SECRET) as allegro,
    ):
        if cache == "redis":  # the shared cache: access tokens, rotated refresh tokens
            own_redis.start()
            stack.callback(own_redis.stop)
            settings.redis_url = own_redis.url
        settings.llm_api_key = SecretStr(LLM_KEY)
        settings.llm_base_url = llm.base_url
        allegro_refresh = allegro.issue_refresh_token()
        fast = {"attempts": 3, "backoff": 0.05, "rate": 200.0}
        application = create_app(settings)
        async with LifespanManager(application):
            api_key = await make_api_key(application)
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=application),
                base_url="http://test",
                headers={"X-API-Key": api_key},
                event_hooks={"response": [recorder]},
            ) as client:
                webhook = await client.post(
                    "/api/import/webhook",
                    json={"source": "allegro", "data": {"products": [product_payload()]}},
                    headers={"X-Webhook-Secret": WEBHOOK, "X-API-Key": ""},
                )
                assert webhook.status_code == 200, webhook.text
                refused = await client.post(
                    "/api/import/webhook",
                    json={"data": {"products": [product_payload()]}},
                    headers={"X-Webhook-Secret": WEBHOOK + "x"},
                )
                assert refused.status_code == 401
                for market, credentials, options in (
                    (
                        "ebay",
                        ebay.credentials("EBAY_DE"),
                        {"base_url": ebay.base_url, "auth_url": ebay.token_url},
                    ),
                    (
                        "allegro",
                        {
                            "client_id": allegro.client_id,
                            "client_secret": ALLEGRO_SECRET,
                            "refresh_token": allegro_refresh,
                        },
                        {"base_url": allegro.url, "auth_url": allegro.url},
                    ),
                ):
                    connected = await client.post(
                        "/api/connections",
                        json={
                            "marketplace": market,
                            "credentials": credentials,
                            "settings": {**fast, **options},
                        },
                    )
                    assert connected.status_code == 201, connected.text
                    await _publish(client, market)
                    # a bad credential's error names the field, never echoes the value
                    await client.post(
                        "/api/connections",
                        json={
                            "marketplace": market,
                            "name": "bad",
                            "credentials": {**credentials, "nonsense": credentials["client_id"]},
                        },
                    )
                for path in (
                    "/api/connections",
                    "/api/export/marketplaces",
                    "/api/products",
                    "/api/products/stats/summary",
                    "/api/jobs",
                    "/api/audit",
                    "/health",
                ):
                    await client.get(path)
        assert len(llm.chat_requests) >= 2  # the LLM engine really ran with its key
        assert allegro.token_grants["refresh_token"] >= 1  # and Allegro rotated the token
        secrets = {
            "API key": api_key,
            "webhook secret": WEBHOOK,
            "LLM key": LLM_KEY,
            "encryption key": SECRET_KEY,
            "eBay client secret": EBAY_SECRET,
            "eBay refresh token": EBAY_REFRESH,
            "Allegro client secret": ALLEGRO_SECRET,
            **{f"Allegro refresh token {t[:6]}": t for t in allegro.refresh_tokens},
            **{f"eBay access token {t[:6]}": t for t in ebay.access_tokens},
            **{f"Allegro access token {t[:6]}": t for t in allegro.access_tokens},
        }
        cached = _dump_redis(own_redis.url) if cache == "redis" else ""
    logs = log_stream.getvalue()
    answers = "\n".join(recorder.answers)
    dump = _dump_database(settings.effective_database_url)
    if cache == "redis":
        assert "mp-token" in cached  # the tokens were cached there (as ciphertext)
    assert "connection.saved" in logs and "/api/connections" in answers  # all were captured
    assert "marketplace_connections" in dump
    found = {
        (name, where): text.count(value)
        for name, value in secrets.items()
        for where, text in (
            ("logs", logs),
            ("answers", answers),
            ("database", dump),
            ("redis", cached),
        )
        if value in text
    }
    assert found == {}
    # what the database holds instead: the key's hash, the webhook secret's hash
    assert hashlib.sha256(api_key.encode()).hexdigest() in dump
    assert hashlib.sha256(WEBHOOK.encode()).hexdigest() in dump


def _sign(secret: str, body: bytes) -> str:
    ts = int(time.time())
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_rotated_webhook_secret_works_and_the_old_one_is_refused(
    settings: Settings,
) -> None:
    settings.webhook_secret = SecretStr(WEBHOOK)
    for restart in range(2):  # a restart with the old value still in the settings: still refused
        # a new body each round: the same signature twice in one second is a refused replay
        body = json.dumps({"data": {"products": [product_payload()]}}).encode()
        application = create_app(settings)
        async with LifespanManager(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                if restart == 0:
                    old = await client.post(
                        "/api/import/webhook", content=body, headers={"X-Webhook-Secret": WEBHOOK}
                    )
                    assert old.status_code == 200, old.text
                    async with application.state.db.session() as session:
                        workspace = await auth_service.default_workspace(session)
                        new = await auth_service.rotate_webhook_secret(session, workspace.id)
                        await session.commit()
                for secret, expected in ((WEBHOOK, 401), (new.plaintext, 200)):
                    plain = await client.post(
                        "/api/import/webhook", content=body, headers={"X-Webhook-Secret": secret}
                    )
                    assert plain.status_code == expected, (restart, secret, plain.text)
                    signed = await client.post(
                        "/api/import/webhook",
                        content=body,
                        headers={
                            "X-Signature": _sign(secret, body),
                            "content-type": "application/json",
                        },
                    )
                    assert signed.status_code == expected, (restart, secret, signed.text)


def _rotate_cli(
    settings: Settings, key: str, previous: list[str]
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LISTINGFLOW_DATABASE_URL": settings.effective_database_url,
        "LISTINGFLOW_DATA_DIR": str(settings.data_dir),
        "LISTINGFLOW_SECRET_KEY": key,
        "LISTINGFLOW_SECRET_KEY_PREVIOUS": json.dumps(previous),
    }
    return subprocess.run(
        [LISTINGFLOW, "secrets", "rotate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_encryption_key_rotates_without_losing_access(settings: Settings) -> None:
    key_a, key_b = "A" * 40, "B" * 40
    settings.secret_key = SecretStr(key_a)
    application = create_app(settings)
    database = None
    async with LifespanManager(application):
        database = application.state.db
        async with database.session() as session:
            workspace = await auth_service.default_workspace(session)
            webhook = await auth_service.create_webhook_secret(session, workspace.id)
            connection = await connection_service.save(
                session,
                workspace.id,
                marketplace="ebay",
                name="default",
                credentials={**FakeEbayServer().credentials(), "client_secret": EBAY_SECRET},
            )
            connection_service.store_tokens(connection, {"refresh_token": EBAY_REFRESH})
            await session.commit()
            connection_id = connection.id

        async def readable() -> tuple[str | None, str | None, str | None]:
            async with database.session() as session:
                stored = await session.get(MarketplaceConnection, connection_id)
                assert stored is not None
                try:
                    secret = connection_service.credentials(stored)["client_secret"]
                except BadRequest:  # "cannot be decrypted ...; connect it again"
                    secret = None
                tokens = connection_service.tokens(stored).get("refresh_token")
                hook = await auth_service.current_webhook_secret(session, workspace.id)
                return secret, tokens, hook

        everything = (EBAY_SECRET, EBAY_REFRESH, webhook.plaintext)
        assert await readable() == everything
        settings.secret_key = SecretStr(key_b)  # B alone cannot read what A wrote
        assert await readable() == (None, None, None)
        settings.secret_key_previous = [SecretStr(key_a)]  # B with A as the previous key
        assert await readable() == everything

        refused = _rotate_cli(settings, key_b, [])  # without A: refuses and changes nothing
        assert refused.returncode == 1 and "cannot be decrypted" in refused.stderr, refused
        assert await readable() == everything
        rotated = _rotate_cli(settings, key_b, [key_a])
        assert rotated.returncode == 0, rotated.stderr
        assert "4 secrets re-encrypted" in rotated.stderr, rotated.stderr

        settings.secret_key_previous = []  # A dropped: everything still opens with B alone
        assert await readable() == everything
        settings.secret_key = SecretStr(key_a)  # and A no longer opens anything
        assert await readable() == (None, None, None)
