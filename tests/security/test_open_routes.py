"""Which routes answer a caller with no API key, no session and no token: every route of the app
is called anonymously from another host, and only the ones open by design may answer."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI
from starlette.routing import Mount

from tests.security.routes import all_routes

# Open by design: liveness, the sign-in form and the static files (CSS/JS) it needs. The API's
# documentation needs an API key or a session (LISTINGFLOW_API_DOCS). The webhook has no API key
# but refuses anyone without its secret.
OPEN_BY_DESIGN = {
    "GET /health",
    "GET /login",
    "POST /login",
    "GET /static",
}
OUTSIDER = ("203.0.113.7", 40000)  # not loopback: /metrics needs its token from here


def _url(path: str) -> str:
    if path == "/static":
        return "/static/app.css"
    return re.sub(r"\{[^}]+\}", "1", path)


def _guarded(response: httpx.Response) -> bool:
    """Refused for want of credentials: 401, a redirect to sign in, or the operator's 403."""
    if response.status_code == 401:
        return True
    if response.status_code in (302, 303, 307):
        return response.headers.get("location", "").startswith("/login")
    if response.status_code == 403 and response.headers.get("content-type", "").startswith(
        "application/json"
    ):
        return response.json().get("code") == "forbidden"
    return False


async def test_only_the_routes_open_by_design_answer_an_anonymous_caller(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app, client=OUTSIDER)
    calls: list[tuple[str, str]] = []
    for route in all_routes(app):
        methods = {"GET"} if isinstance(route.original, Mount) else route.methods - {"HEAD"}
        calls += [(method, route.path) for method in sorted(methods)]
    answered: dict[str, int] = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as anon:
        for method, path in calls:
            response = await anon.request(method, _url(path))
            assert response.status_code < 500, (method, path, response.text)
            if not _guarded(response):
                answered[f"{method} {path}"] = response.status_code
    print(
        f"\nroutes: {len(calls)} (method x path); open to an anonymous caller: "
        f"{len(answered)}: {sorted(answered)}"
    )
    assert len(calls) > 40
    assert set(answered) == OPEN_BY_DESIGN, answered


async def test_the_webhook_refuses_a_caller_without_its_secret(
    anon_client: httpx.AsyncClient,
) -> None:
    response = await anon_client.post("/api/import/webhook", json={"data": {"products": []}})
    assert response.status_code == 401
