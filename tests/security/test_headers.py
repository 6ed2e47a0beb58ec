"""Security headers on every answer (pages, JSON, files, errors), the docs pages' own policy,
cookies under HTTPS, and templates that escape whatever they show."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

import httpx
import jinja2
import pytest
from fastapi import FastAPI
from markupsafe import escape

from listingflow.security import API_CSP, PAGE_CSP
from listingflow.web.common import WebRoute
from listingflow.web.templating import TEMPLATES_DIR, templates
from tests.factories import product_payload
from tests.security.routes import all_routes
from tests.web.conftest import csrf_of, make_user, sign_in

HOSTILE = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>"


def assert_common_headers(response: httpx.Response) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff", response.url
    assert headers["x-frame-options"] == "DENY", response.url
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin", response.url
    assert "frame-ancestors 'none'" in headers["content-security-policy"], response.url


def directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


def page_paths(app: FastAPI) -> list[str]:
    """Every page a GET reaches without an id in its path."""
    return sorted(
        route.path
        for route in all_routes(app)
        if isinstance(route.original, WebRoute) and "GET" in route.methods and "{" not in route.path
    )


async def test_every_page_has_the_strict_policy(app: FastAPI, web: httpx.AsyncClient) -> None:
    await sign_in(web)
    paths = page_paths(app)
    assert {"/", "/products", "/import", "/jobs", "/settings"} <= set(paths)
    for path in paths:
        response = await web.get(path)
        assert_common_headers(response)
        if path == "/login":  # signed in: sent on to the dashboard
            assert response.status_code == 303
            continue
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html"), path
        assert response.headers["content-security-policy"] == PAGE_CSP, path
    policy = directives(PAGE_CSP)
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert "'unsafe-inline'" not in PAGE_CSP and "'unsafe-eval'" not in PAGE_CSP


async def test_json_files_and_errors_have_the_closed_policy(
    client: httpx.AsyncClient, anon_client: httpx.AsyncClient
) -> None:
    answers = [
        await client.get("/api/products"),
        await client.get("/api/products/999999"),  # 404
        await anon_client.get("/api/products"),  # 401
        await client.post("/api/import/batch", content=b"x" * 30_000_000),  # 413
        await anon_client.get("/health"),
        await anon_client.get("/static/app.js"),
        await client.get("/openapi.json"),
    ]
    assert [r.status_code for r in answers] == [200, 404, 401, 413, 200, 200, 200]
    for response in answers:
        assert_common_headers(response)
        assert response.headers["content-security-policy"] == API_CSP
    assert "strict-transport-security" not in answers[0].headers  # plain HTTP


async def test_error_pages_have_the_page_policy(web: httpx.AsyncClient) -> None:
    await sign_in(web)
    response = await web.get("/products/999999")
    assert response.status_code == 404
    assert response.headers["content-security-policy"] == PAGE_CSP


async def test_docs_allow_only_their_own_inline_script_by_hash(
    client: httpx.AsyncClient, anon_client: httpx.AsyncClient
) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert_common_headers(response)
    scripts = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    assert scripts, "the docs page has its inline script"
    policy = directives(response.headers["content-security-policy"])
    for script in scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy["script-src"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    redoc = await client.get("/redoc")
    assert "cdn.jsdelivr.net" in redoc.headers["content-security-policy"]
    # The relaxed policy is for those two paths only.
    assert (
        "cdn.jsdelivr.net"
        not in (await anon_client.get("/login")).headers["content-security-policy"]
    )


async def test_https_answers_carry_hsts_and_secure_http_only_cookies(app: FastAPI) -> None:
    await make_user(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as browser:
        form = await browser.get("/login")
        assert "max-age=" in form.headers["strict-transport-security"]
        login_cookie = form.headers["set-cookie"]
        signed = await browser.post(
            "/login",
            data={
                "email": "seller@example.com",
                "password": "correct horse battery",
                "csrf_token": csrf_of(form.text),
                "next": "/",
            },
        )
        assert signed.status_code == 303
        session_cookie = next(
            c for c in signed.headers.get_list("set-cookie") if c.startswith("lf_session=")
        )
    for cookie in (login_cookie, session_cookie):
        attributes = {a.strip().lower() for a in cookie.split(";")}
        assert "httponly" in attributes and "secure" in attributes, cookie
        assert "samesite=lax" in attributes, cookie


async def test_cookies_are_not_marked_secure_over_plain_http(web: httpx.AsyncClient) -> None:
    form = await web.get("/login")
    attributes = {a.strip().lower() for a in form.headers["set-cookie"].split(";")}
    assert "httponly" in attributes and "secure" not in attributes


# --- templates ---------------------------------------------------------------------------------

TEMPLATE_FILES = sorted(TEMPLATES_DIR.glob("*.html"))
INLINE_CODE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=|\sstyle\s*=|javascript:|hx-on|<style",
    re.IGNORECASE,
)


def test_the_environment_escapes_every_template() -> None:
    env = templates.env
    assert env.autoescape is True  # not select_autoescape: any file name escapes
    assert env.from_string("{{ v }}").render(v=HOSTILE) == str(escape(HOSTILE))


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda p: p.name)
def test_no_template_turns_escaping_off_or_carries_inline_code(path: Path) -> None:
    source = path.read_text()
    ast = templates.env.parse(source)
    filters = {node.name for node in ast.find_all(jinja2.nodes.Filter)}
    assert "safe" not in filters, f"{path.name} uses |safe"
    assert not list(ast.find_all(jinja2.nodes.ScopedEvalContextModifier)), (
        f"{path.name} turns autoescape off"
    )
    markup = re.sub(r"\{#.*?#\}", "", source, flags=re.DOTALL)  # Jinja comments are not sent
    found = INLINE_CODE.search(markup)
    assert found is None, f"{path.name}: {found}"


def test_the_template_list_is_not_empty() -> None:
    assert len(TEMPLATE_FILES) >= 10


async def test_a_hostile_product_is_shown_as_text_on_its_pages(
    app: FastAPI, client: httpx.AsyncClient, web: httpx.AsyncClient
) -> None:
    created = await client.post(
        "/api/import/product",
        json=product_payload(title=f"Mug {HOSTILE}", brand=HOSTILE, description=HOSTILE),
    )
    assert created.status_code == 200, created.text
    product_id = created.json()["product_id"]
    await sign_in(web)
    for path in ("/products", f"/products/{product_id}", f"/products?q={HOSTILE}"):
        page = await web.get(path)
        assert page.status_code == 200, path
        assert "<script>alert(1)" not in page.text, path
        assert "<img src=x" not in page.text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, path


async def test_an_unhandled_error_500_carries_the_headers_too(app: FastAPI) -> None:
    """A 500 is answered outside every middleware (Starlette's ServerErrorMiddleware)."""

    async def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/api/test-boom", boom)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/api/test-boom")
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert_common_headers(response)
    assert response.headers["content-security-policy"] == API_CSP


async def test_the_api_docs_are_for_api_users_only(
    app: FastAPI, client: httpx.AsyncClient, anon_client: httpx.AsyncClient
) -> None:
    schema = await anon_client.get("/openapi.json")
    assert schema.status_code == 401
    assert "X-API-Key" in schema.json()["detail"]
    docs = await anon_client.get("/docs")
    assert docs.status_code == 303 and docs.headers["location"] == "/login?next=/docs"
    assert (await anon_client.get("/redoc")).status_code == 303
    wrong = await anon_client.get("/openapi.json", headers={"X-API-Key": "lf_not_a_key"})
    assert wrong.status_code == 401
    assert (await client.get("/openapi.json")).status_code == 200  # an API key
    await make_user(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as web:
        await sign_in(web)
        assert (await web.get("/docs")).status_code == 200  # a signed-in session


async def test_api_docs_can_be_public_or_off(settings: Any) -> None:
    from asgi_lifespan import LifespanManager

    from listingflow.app import create_app

    for mode, expected in (("public", 200), ("off", 404)):
        settings.api_docs = mode
        application = create_app(settings)
        async with LifespanManager(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as anon:
                assert (await anon.get("/openapi.json")).status_code == expected
                assert (await anon.get("/docs")).status_code == expected
