"""Signing in and out of the web pages: login required, cookies, CSRF, the user command."""

from __future__ import annotations

import httpx
import pytest
from typer.testing import CliRunner

from listingflow.cli.main import app as cli
from listingflow.config import Settings
from tests.web.conftest import EMAIL, PASSWORD, csrf_of, sign_in


async def test_pages_redirect_to_login_when_signed_out(web: httpx.AsyncClient) -> None:
    response = await web.get("/?status=imported")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/%3Fstatus%3Dimported"


async def test_htmx_requests_get_a_redirect_header(web: httpx.AsyncClient) -> None:
    response = await web.get("/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login"


async def test_sign_in_sets_a_strict_session_cookie(web: httpx.AsyncClient) -> None:
    form = await web.get("/login")
    response = await web.post(
        "/login",
        data={"email": EMAIL, "password": PASSWORD, "csrf_token": csrf_of(form.text), "next": "/"},
    )
    assert response.status_code == 303
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("lf_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # plain HTTP here; see the HTTPS test
    assert "Max-Age=3600" in cookie
    page = await web.get("/")
    assert page.status_code == 200
    assert "Dashboard" in page.text


async def test_session_cookie_is_secure_under_https(app: object, web: httpx.AsyncClient) -> None:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
        form = await client.get("/login")
        response = await client.post(
            "/login",
            data={"email": EMAIL, "password": PASSWORD, "csrf_token": csrf_of(form.text)},
        )
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("lf_session="))
    assert "Secure" in cookie


async def test_wrong_password_is_refused_with_one_message(web: httpx.AsyncClient) -> None:
    form = await web.get("/login")
    response = await web.post(
        "/login",
        data={"email": EMAIL, "password": "wrong password!", "csrf_token": csrf_of(form.text)},
    )
    assert response.status_code == 401
    assert "Wrong email or password." in response.text
    unknown = await web.post(
        "/login",
        data={
            "email": "nobody@example.com",
            "password": PASSWORD,
            "csrf_token": csrf_of(response.text),
        },
    )
    assert unknown.status_code == 401
    assert "Wrong email or password." in unknown.text
    assert (await web.get("/")).status_code == 303


async def test_login_without_its_csrf_token_is_refused(web: httpx.AsyncClient) -> None:
    await web.get("/login")
    response = await web.post("/login", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 403
    assert (await web.get("/")).status_code == 303


async def test_login_redirects_only_to_local_paths(web: httpx.AsyncClient) -> None:
    form = await web.get("/login")
    response = await web.post(
        "/login",
        data={
            "email": EMAIL,
            "password": PASSWORD,
            "csrf_token": csrf_of(form.text),
            "next": "//evil.example/x",
        },
    )
    assert response.headers["location"] == "/"


async def test_post_without_csrf_token_is_refused(web: httpx.AsyncClient) -> None:
    token = await sign_in(web)
    refused = await web.post("/logout")
    assert refused.status_code == 403
    assert "CSRF" in refused.text
    wrong = await web.post("/logout", data={"csrf_token": token + "x"})
    assert wrong.status_code == 403
    assert (await web.get("/")).status_code == 200  # still signed in


async def test_logout_ends_the_session_everywhere(web: httpx.AsyncClient) -> None:
    token = await sign_in(web)
    cookie = web.cookies.get("lf_session")
    response = await web.post("/logout", headers={"X-CSRF-Token": token})
    assert response.status_code == 303
    web.cookies.set("lf_session", cookie or "")  # a copied cookie no longer works either
    assert (await web.get("/")).status_code == 303


async def test_sessions_live_in_the_shared_cache(web: httpx.AsyncClient, app: object) -> None:
    await sign_in(web)
    cache = app.state.cache  # type: ignore[attr-defined]
    from listingflow.kit.cache import cache_key
    from listingflow.kit.crypto import sha256_hex

    stored = await cache.get(cache_key("session", sha256_hex(web.cookies["lf_session"])))
    assert stored["email"] == EMAIL
    assert web.cookies["lf_session"] not in str(stored)


def test_user_create_command_makes_a_user_who_can_sign_in(settings: Settings) -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli, ["user", "create", "--email", "Ann@Example.com", "--password", "long enough pw"]
    )
    assert result.exit_code == 0, result.output
    assert "ann@example.com" in result.stderr
    again = runner.invoke(
        cli, ["user", "create", "--email", "ann@example.com", "--password", "long enough pw"]
    )
    assert again.exit_code == 1
    assert "already exists" in again.stderr
    short = runner.invoke(cli, ["user", "create", "--email", "b@example.com", "--password", "x"])
    assert short.exit_code == 1
    assert "at least 10 characters" in short.stderr


@pytest.mark.parametrize("email", ["not-an-email", "a@b@c"])
def test_user_create_refuses_a_bad_email(settings: Settings, email: str) -> None:
    result = CliRunner().invoke(
        cli, ["user", "create", "--email", email, "--password", "long enough pw"]
    )
    assert result.exit_code == 1
    assert "email must look like" in result.stderr
