"""HTTP caching at the front door: ETag (a hash of the body) and Cache-Control on GET JSON,
304 for If-None-Match, no-store where answers must not be cached, gzip over 1 KB, and an SSE
stream that is neither buffered nor compressed (through a real server)."""

from __future__ import annotations

import asyncio
import hashlib

import httpx
from fastapi import FastAPI
from tests.factories import product_payload

from listingflow.auth.service import auth_service
from listingflow.db import Database
from listingflow.models import Job


async def _import(client: httpx.AsyncClient, n: int) -> None:
    body = (
        await client.post("/api/import/batch", json=[product_payload() for _ in range(n)])
    ).json()
    assert body["failed_count"] == 0, body


async def test_get_json_carries_a_weak_etag_of_its_body_and_private_cache_control(
    client: httpx.AsyncClient,
) -> None:
    await _import(client, 2)
    response = await client.get("/api/products/stats/summary")
    assert response.status_code == 200
    digest = hashlib.blake2b(response.content, digest_size=16).hexdigest()
    assert response.headers["etag"] == f'W/"{digest}"'
    assert response.headers["cache-control"] == "private, max-age=0"


async def test_if_none_match_gives_304_until_a_write_changes_the_body(
    client: httpx.AsyncClient,
) -> None:
    await _import(client, 2)
    first = await client.get("/api/products")
    etag = first.headers["etag"]
    again = await client.get("/api/products", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert "content-length" not in again.headers or again.headers["content-length"] == "0"
    listed = await client.get("/api/products", headers={"If-None-Match": f'"other", {etag}'})
    assert listed.status_code == 304
    await _import(client, 1)
    changed = await client.get("/api/products", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["total"] == 3


async def test_health_jobs_and_errors_are_no_store_without_etag(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/health", "/api/jobs", "/api/products/999999"):
        response = await client.get(path)
        assert response.headers["cache-control"] == "no-store", path
        assert "etag" not in response.headers, path


async def test_answers_over_1_kb_are_gzipped_when_accepted(client: httpx.AsyncClient) -> None:
    await _import(client, 5)
    big = await client.get("/api/products", headers={"Accept-Encoding": "gzip"})
    assert big.headers["content-encoding"] == "gzip"
    assert big.json()["total"] == 5  # httpx decodes it
    plain = await client.get("/api/products", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.headers["etag"] == big.headers["etag"]  # the tag names the content, not bytes
    small = await client.get("/health", headers={"Accept-Encoding": "gzip"})
    assert len(small.content) < 1024
    assert "content-encoding" not in small.headers


def test_sse_events_stream_unbuffered_and_uncompressed(
    served_app: tuple[FastAPI, str],
) -> None:
    app, base = served_app

    async def setup() -> tuple[str, int]:
        # The app's engine belongs to the server's loop: this loop gets an engine of its own.
        database = Database(app.state.settings)
        try:
            async with database.session() as session:
                ws = await auth_service.get_or_create_workspace(session, "default")
                _, key = await auth_service.create_api_key(session, ws.id, name="sse")
                job = Job(workspace_id=ws.id, kind="optimize", status="running", total=5)
                session.add(job)
                await session.commit()
                return key, job.id
        finally:
            await database.dispose()

    key, job_id = asyncio.run(setup())
    headers = {"X-API-Key": key, "Accept-Encoding": "gzip"}
    # The job never finishes: a buffered stream would never deliver its first event.
    with (
        httpx.Client(base_url=base, headers=headers, timeout=10) as http,
        http.stream("GET", f"/api/jobs/{job_id}/events?interval=0.2") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in response.headers
        assert "etag" not in response.headers
        assert response.headers["cache-control"] == "no-store"
        for line in response.iter_lines():
            if line.startswith("event:"):
                assert line.split(":", 1)[1].strip() == "progress"
                break
