"""Sign-in abuse limits: attempts per client address, and an email locked after repeated failed
sign-ins (even the right password is refused until the lock ends); in memory and in Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from listingflow.app import create_app
from listingflow.config import Settings
from tests.web.conftest import EMAIL, PASSWORD, csrf_of, make_user

# The limits do not touch the database: SQLite is enough (each attempt hashes with argon2).
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@asynccontextmanager
async def running(settings: Settings, **overrides: Any) -> AsyncIterator[FastAPI]:
    app = create_app(settings.model_copy(update=overrides))
    async with LifespanManager(app):
        yield app


@asynccontextmanager
async def browser(app: FastAPI, ip: str = "198.51.100.20") -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(ip, 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def attempt(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    form = await client.get("/login")
    return await client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(form.text), "next": "/"},
    )


@pytest.fixture(params=["memory", "redis"])
def storage(request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("redis_url") if request.param == "redis" else None


async def test_an_email_is_locked_after_repeated_failures(
    settings: Settings, storage: str | None
) -> None:
    async with running(
        settings, redis_url=storage, login_max_failures=3, login_lockout_seconds=600
    ) as app:
        await make_user(app)
        await make_user(app, "other@example.com")
        async with browser(app) as client:
            failures = [(await attempt(client, EMAIL, "wrong")).status_code for _ in range(3)]
            locked = await attempt(client, EMAIL, PASSWORD)  # the right password, too late
            other = await attempt(client, "other@example.com", PASSWORD)
    assert failures == [401, 401, 401]
    assert locked.status_code == 429
    assert "locked after 3 failed sign-ins" in locked.text
    assert 1 <= int(locked.headers["retry-after"]) <= 600
    assert "lf_session" not in locked.headers.get("set-cookie", "")
    assert other.status_code == 303  # only that email is locked


async def test_the_lock_counts_the_email_however_it_is_typed(settings: Settings) -> None:
    async with running(settings, login_max_failures=2) as app:
        await make_user(app)
        async with browser(app) as client:
            await attempt(client, EMAIL.upper(), "wrong")
            await attempt(client, f"  {EMAIL} ", "wrong")
            locked = await attempt(client, EMAIL, PASSWORD)
    assert locked.status_code == 429


async def test_a_successful_sign_in_clears_the_failures(settings: Settings) -> None:
    async with running(settings, login_max_failures=3) as app:
        await make_user(app)
        async with browser(app) as client:
            first = [(await attempt(client, EMAIL, "wrong")).status_code for _ in range(2)]
            assert (await attempt(client, EMAIL, PASSWORD)).status_code == 303
            await client.post("/logout", data={"csrf_token": csrf_of((await client.get("/")).text)})
            again = [(await attempt(client, EMAIL, "wrong")).status_code for _ in range(2)]
            signed_in = await attempt(client, EMAIL, PASSWORD)
    assert first == again == [401, 401]
    assert signed_in.status_code == 303


async def test_an_address_is_limited_whatever_the_emails(
    settings: Settings, storage: str | None
) -> None:
    async with running(settings, redis_url=storage, login_rate_limit_per_ip="4/minute") as app:
        await make_user(app)
        async with browser(app, ip="198.51.100.30") as client:
            tries = [
                (await attempt(client, f"guess{i}@example.com", "x")).status_code for i in range(4)
            ]
            refused = await attempt(client, EMAIL, PASSWORD)
        async with browser(app, ip="198.51.100.31") as elsewhere:
            allowed = await attempt(elsewhere, EMAIL, PASSWORD)
    assert tries == [401, 401, 401, 401]
    assert refused.status_code == 429
    assert "too many sign-in attempts from this address" in refused.text
    assert allowed.status_code == 303


async def test_two_app_instances_on_one_redis_share_the_lock(
    settings: Settings, redis_url: str
) -> None:
    overrides = {"redis_url": redis_url, "broker_url": redis_url, "login_max_failures": 2}
    async with running(settings, **overrides) as first, running(settings, **overrides) as second:
        await make_user(first)
        async with browser(first) as a, browser(second) as b:
            await attempt(a, EMAIL, "wrong")
            await attempt(b, EMAIL, "wrong")
            on_first = await attempt(a, EMAIL, PASSWORD)
            on_second = await attempt(b, EMAIL, PASSWORD)
    assert on_first.status_code == on_second.status_code == 429


async def test_zero_failures_turns_the_lock_off(settings: Settings) -> None:
    async with running(settings, login_max_failures=0) as app:
        await make_user(app)
        async with browser(app) as client:
            for _ in range(8):
                assert (await attempt(client, EMAIL, "wrong")).status_code == 401
            assert (await attempt(client, EMAIL, PASSWORD)).status_code == 303
