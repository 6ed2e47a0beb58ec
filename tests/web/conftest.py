"""Web page fixtures: a user, a signed-in httpx client and the CSRF token its pages carry."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from listingflow.auth.service import auth_service
from listingflow.auth.users import user_service

EMAIL = "seller@example.com"
PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def make_user(app: FastAPI, email: str = EMAIL, workspace: str = "default") -> None:
    async with app.state.db.session() as session:
        ws = await auth_service.get_or_create_workspace(session, workspace)
        await user_service.create(session, ws.id, email=email, password=PASSWORD)
        await session.commit()


async def sign_in(client: httpx.AsyncClient, email: str = EMAIL) -> str:
    """Signs the client in; returns the session's CSRF token (from the dashboard)."""
    form = await client.get("/login")
    response = await client.post(
        "/login",
        data={
            "email": email,
            "password": PASSWORD,
            "csrf_token": csrf_of(form.text),
            "next": "/",
        },
    )
    assert response.status_code == 303, response.text
    page = await client.get("/")
    assert page.status_code == 200
    return csrf_of(page.text)


@pytest.fixture
async def web(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client (keeps cookies), not yet signed in; a user exists."""
    await make_user(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
async def signed_in(web: httpx.AsyncClient) -> tuple[httpx.AsyncClient, str]:
    return web, await sign_in(web)
