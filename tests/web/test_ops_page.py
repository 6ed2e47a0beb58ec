"""Operations page: health of the database, cache, broker and workers, the advisor's advice (the
same as GET /api/ops/status), queue depths, latency and error rate, LLM calls against the quota;
a broker that cannot be reached shows as down, not as a 500."""

from __future__ import annotations

import re

import httpx
import pytest
from pydantic import SecretStr

from listingflow.config import Settings


def _health(html: str, part: str) -> tuple[str, str]:
    row = re.search(
        rf"<td>{part}</td>\s*<td><span class=\"badge[^\"]*\">(\w+)</span></td>\s*<td>(.*?)</td>",
        html,
        re.S,
    )
    assert row, f"no {part} row"
    return row.group(1), re.sub(r"<[^>]+>", "", row.group(2))


async def test_the_page_needs_a_session(web: httpx.AsyncClient) -> None:
    response = await web.get("/ops")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/ops"


async def test_health_advice_and_readings_in_embedded_mode(
    signed_in: tuple[httpx.AsyncClient, str], settings: Settings
) -> None:
    web, _ = signed_in
    for _ in range(5):  # some traffic for the latency figures
        assert (await web.get("/products")).status_code == 200
    page = await web.get("/ops")
    assert page.status_code == 200
    assert _health(page.text, "Database")[0] == "up"
    assert _health(page.text, "Cache") == ("up", "in-process memory")
    broker = _health(page.text, "Broker")
    assert broker[0] == "up" and broker[1].startswith("in-process, 0 messages waiting")
    workers = _health(page.text, "Workers")
    assert (
        workers[0] == "up" and f"in this process ({settings.worker_threads} threads)" in workers[1]
    )
    for queue in ("interactive", "bulk", "llm", "publish"):
        assert f"<tr><td>{queue}</td><td>0</td></tr>" in page.text

    # The page shows what GET /api/ops/status says (both take a fresh sample, so a live reading
    # may cross a threshold between the two: read both again until they agree).
    for _ in range(5):
        api = (await web.get("/api/ops/status")).json()  # a loopback client: answered
        page = await web.get("/ops")
        summary = re.search(r'<p id="advice-summary"><strong>([^<]+)</strong>', page.text)
        assert summary
        if summary.group(1) == api["summary"]:
            break
    assert summary.group(1) == api["summary"]
    assert f'id="advice-status">{api["status"]}<' in page.text
    p95 = re.search(r'<span class="figure" id="p95">([^<]+)<', page.text)
    assert p95 and re.fullmatch(r"\d+ ms", p95.group(1).strip()), p95
    errors = re.search(r"error rate \((\d+) of (\d+) requests\)", page.text)
    assert errors and int(errors.group(2)) > 0
    assert "LLM calls today (no LLM configured)" in page.text


@pytest.fixture
def llm_configured(settings: Settings) -> Settings:
    settings.llm_api_key = SecretStr("sk-test-not-used")
    settings.llm_rpd = 1000
    return settings


async def test_llm_calls_today_are_shown_against_the_daily_quota(
    llm_configured: Settings, signed_in: tuple[httpx.AsyncClient, str]
) -> None:
    web, _ = signed_in
    page = await web.get("/ops")
    quota = re.search(r'<span class="figure" id="llm-quota">([^<]+)<', page.text)
    assert quota and quota.group(1) == "0 / 1000"
    assert "sk-test-not-used" not in page.text


@pytest.fixture
def redis_everywhere(settings: Settings, redis_url: str) -> Settings:
    settings.redis_url = redis_url
    return settings


async def test_a_shared_redis_cache_is_named(
    redis_everywhere: Settings, signed_in: tuple[httpx.AsyncClient, str]
) -> None:
    web, _ = signed_in
    page = await web.get("/ops")
    assert _health(page.text, "Cache") == ("up", "Redis (shared by every replica)")


@pytest.fixture
def unreachable_broker(settings: Settings) -> Settings:
    settings.broker_url = "redis://127.0.0.1:9/0"  # the discard port: nothing answers there
    return settings


async def test_an_unreachable_broker_shows_as_down(
    unreachable_broker: Settings, signed_in: tuple[httpx.AsyncClient, str]
) -> None:
    web, _ = signed_in
    page = await web.get("/ops")
    assert page.status_code == 200
    state, detail = _health(page.text, "Broker")
    assert state == "down"
    assert "ConnectionError" in detail
    assert _health(page.text, "Database")[0] == "up"
    assert _health(page.text, "Workers")[0] == "unknown"  # separate processes
