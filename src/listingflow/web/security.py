"""Signing in for the web pages: the session cookie, the login requirement and CSRF checks.

Every POST to a page must carry the session's CSRF token, as the `csrf_token` form field or the
`X-CSRF-Token` header (htmx sends it from the page's hx-headers). The login form, which has no
session yet, uses a double-submit cookie instead.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.responses import Response

from listingflow.auth.users import WebSession, web_session_service
from listingflow.deps import get_cache
from listingflow.kit.actor import Actor, set_actor

SESSION_COOKIE = "lf_session"
LOGIN_CSRF_COOKIE = "lf_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class LoginRequired(Exception):
    """No valid session: the page redirects to /login and comes back afterwards."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class CsrfRefused(Exception):
    """A state-changing request without the session's CSRF token."""


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path="/",
    )


async def presented_csrf(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # Starlette keeps it for the endpoint to read again
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def safe_next(url: str | None) -> str:
    """Only a path on this site (never //evil.example or a full URL)."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return "/"
    return url


async def require_session(request: Request) -> WebSession:
    """The signed-in user's session; refuses a POST without its CSRF token."""
    cache = get_cache(request)
    web_session = await web_session_service.get(cache, request.cookies.get(SESSION_COOKIE))
    if web_session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target if request.method == "GET" else "/")
    if request.method in _UNSAFE and not web_session_service.csrf_matches(
        web_session, await presented_csrf(request)
    ):
        raise CsrfRefused
    request.state.workspace_id = web_session.workspace_id
    request.state.viewer = web_session
    set_actor(
        Actor(
            kind="user",
            id=str(web_session.user_id),
            label=web_session.email,
            ip=request.client.host if request.client else None,
        )
    )
    return web_session


def new_login_csrf() -> str:
    return secrets.token_urlsafe(32)


def login_csrf_matches(request: Request, presented: str | None) -> bool:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    return bool(cookie and presented) and hmac.compare_digest(
        (cookie or "").encode(), (presented or "").encode()
    )


def login_url(next_url: str) -> str:
    return "/login" if next_url == "/" else f"/login?next={quote(next_url, safe='/')}"


Viewer = Annotated[WebSession, Depends(require_session)]
