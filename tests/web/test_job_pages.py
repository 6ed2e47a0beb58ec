"""Optimize and jobs pages: a job started from the page runs like batch-optimize's, its progress
streams over SSE to the signed-in page, failed items show their errors and can be retried."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import make_api_key
from tests.web.test_product_pages import _ids, _import, _product


@pytest.fixture
async def api(app: FastAPI) -> httpx.AsyncClient:
    key = await make_api_key(app)
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(
        transport=transport, base_url="http://test", headers={"X-API-Key": key}
    )


async def _finished(api: httpx.AsyncClient, job_id: int) -> dict[str, Any]:
    for _ in range(400):
        job = (await api.get(f"/api/jobs/{job_id}")).json()
        if job["status"] not in ("pending", "running"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def _job_id(response: httpx.Response) -> int:
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/jobs/(\d+)", response.headers["location"])
    assert match
    return int(match.group(1))


async def test_optimize_a_selection_for_two_marketplaces(
    signed_in: tuple[httpx.AsyncClient, str], api: httpx.AsyncClient
) -> None:
    web, token = signed_in
    await _import(api, [_product(i) for i in range(3)])
    ids = await _ids(api)
    chosen = await web.post(
        "/optimize/selection", data={"csrf_token": token, "product_ids": ids[:2]}
    )
    assert "The 2 selected products" in chosen.text
    started = await web.post(
        "/optimize",
        data={
            "csrf_token": token,
            "scope": "selection",
            "product_ids": ids[:2],
            "marketplaces": ["amazon", "ebay"],
            "engine": "offline",
        },
    )
    job = await _finished(api, _job_id(started))
    assert (job["status"], job["total"], job["succeeded"]) == ("completed", 4, 4)
    listings = (await api.get(f"/api/products/{ids[0]}/listings")).json()
    assert sorted(item["marketplace"] for item in listings) == ["amazon", "ebay"]
    page = await web.get(f"/jobs/{job['id']}")
    assert 'data-progress="100"' in page.text
    assert "data-job-events" not in page.text  # finished: no stream to follow
    assert "4 / 4 · 4 done · 0 failed" in page.text


async def test_optimize_by_filter_takes_the_matching_products(
    signed_in: tuple[httpx.AsyncClient, str], api: httpx.AsyncClient
) -> None:
    web, token = signed_in
    await _import(api, [_product(i) for i in range(5)])
    started = await web.post(
        "/optimize",
        data={
            "csrf_token": token,
            "scope": "filter",
            "q": "SKU-000",
            "status": "imported",
            "marketplaces": "allegro",
        },
    )
    job = await _finished(api, _job_id(started))
    assert job["total"] == 5
    assert job["succeeded"] == 5
    nothing = await web.post(
        "/optimize",
        data={"csrf_token": token, "scope": "filter", "q": "no such", "marketplaces": "allegro"},
    )
    assert nothing.status_code == 422
    assert "no products match" in nothing.text


async def test_optimize_form_errors_are_shown_on_the_form(
    signed_in: tuple[httpx.AsyncClient, str], api: httpx.AsyncClient
) -> None:
    web, token = signed_in
    await _import(api, [_product(1)])
    ids = await _ids(api)
    no_marketplace = await web.post(
        "/optimize", data={"csrf_token": token, "scope": "selection", "product_ids": ids}
    )
    assert no_marketplace.status_code == 422
    assert "choose at least one marketplace" in no_marketplace.text
    assert f'name="product_ids" value="{ids[0]}"' in no_marketplace.text  # selection kept
    no_llm = await web.post(
        "/optimize",
        data={
            "csrf_token": token,
            "product_ids": ids,
            "marketplaces": "amazon",
            "engine": "llm",
        },
    )
    assert no_llm.status_code == 422
    assert "LISTINGFLOW_LLM_API_KEY" in no_llm.text
    refused = await web.post("/optimize", data={"product_ids": ids, "marketplaces": "amazon"})
    assert refused.status_code == 403


async def test_failed_items_show_their_error_and_can_be_retried(
    signed_in: tuple[httpx.AsyncClient, str], api: httpx.AsyncClient
) -> None:
    web, token = signed_in
    await _import(api, [_product(1)])
    [product_id] = await _ids(api)
    started = await web.post(
        "/optimize",
        data={
            "csrf_token": token,
            "product_ids": [product_id, 987654],
            "marketplaces": "allegro",
        },
    )
    job = await _finished(api, _job_id(started))
    assert (job["succeeded"], job["failed"]) == (1, 1)
    page = await web.get(f"/jobs/{job['id']}")
    assert re.search(
        r"#987654</a></td>\s*<td>allegro</td><td>\d+</td><td>product 987654 not found", page.text
    )
    retried = await web.post(f"/jobs/{job['id']}/retry-failed", data={"csrf_token": token})
    assert retried.status_code == 303
    again = await _finished(api, job["id"])
    assert again["failed"] == 1  # the product still does not exist
    jobs = await web.get("/jobs")
    assert f'href="/jobs/{job["id"]}"' in jobs.text


async def test_progress_streams_to_the_signed_in_page(
    signed_in: tuple[httpx.AsyncClient, str], api: httpx.AsyncClient
) -> None:
    web, token = signed_in
    await _import(api, [_product(i) for i in range(6)])
    ids = await _ids(api)
    started = await web.post(
        "/optimize", data={"csrf_token": token, "product_ids": ids, "marketplaces": "kaufland"}
    )
    job_id = _job_id(started)
    events: list[tuple[str, dict[str, Any]]] = []
    async with web.stream("GET", f"/jobs/{job_id}/events?interval=0.2") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        name = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events.append((name, json.loads(line.split(":", 1)[1])))
    assert events[-1][0] == "done"
    assert events[-1][1]["processed"] == 6
    assert events[-1][1]["progress"] == 1.0
    assert all(name == "progress" for name, _ in events[:-1])
    other = httpx.AsyncClient(transport=web._transport, base_url="http://test")
    async with other:
        signed_out = await other.get(f"/jobs/{job_id}/events")
    assert signed_out.status_code == 303  # no session, no stream
    assert (await web.get("/jobs/999999/events")).status_code == 404


async def test_cancel_from_the_job_page(
    signed_in: tuple[httpx.AsyncClient, str], api: httpx.AsyncClient
) -> None:
    web, token = signed_in
    await _import(api, [_product(1)])
    ids = await _ids(api)
    started = await web.post(
        "/optimize", data={"csrf_token": token, "product_ids": ids, "marketplaces": "amazon"}
    )
    job_id = _job_id(started)
    cancel = await web.post(f"/jobs/{job_id}/cancel", data={"csrf_token": token})
    job = await _finished(api, job_id)
    if cancel.status_code == 303:
        assert job["status"] in ("cancelled", "completed")
    else:  # the one item finished before the cancel arrived
        assert cancel.status_code == 409
        assert "already finished" in cancel.text


async def test_llm_jobs_go_to_the_llm_queue(
    signed_in: tuple[httpx.AsyncClient, str], api: httpx.AsyncClient, settings: Any
) -> None:
    from pydantic import SecretStr

    web, token = signed_in
    await _import(api, [_product(1)])
    ids = await _ids(api)
    settings.llm_api_key = SecretStr("test-key")
    settings.llm_base_url = "http://127.0.0.1:9/v1"  # nothing listens: the offline fallback
    settings.llm_deadline = 1.0
    started = await web.post(
        "/optimize",
        data={"csrf_token": token, "product_ids": ids, "marketplaces": "amazon", "engine": "llm"},
    )
    job = await _finished(api, _job_id(started))
    assert job["params"]["queue"] == "llm"
    assert job["params"]["engine"] == "llm"
