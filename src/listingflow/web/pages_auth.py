"""Sign in and sign out."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from listingflow import config
from listingflow.auth.limits import AbuseLimits
from listingflow.auth.users import user_service, web_session_service
from listingflow.deps import CacheDep, WriteSession, get_cache
from listingflow.exceptions import Unauthorized
from listingflow.web.common import page_router
from listingflow.web.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Viewer,
    login_csrf_matches,
    new_login_csrf,
    safe_next,
    set_cookie,
)
from listingflow.web.templating import render

router = page_router()


def _login_page(
    request: Request, *, next_url: str, email: str = "", error: str | None = None, status: int = 200
) -> Response:
    token = new_login_csrf()
    response = render(
        request,
        "login.html",
        {"next": next_url, "email": email, "error": error, "login_csrf": token},
        status_code=status,
    )
    set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    existing = await web_session_service.get(
        get_cache(request), request.cookies.get(SESSION_COOKIE)
    )
    if existing is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next_url=safe_next(next))


@router.post("/login")
async def login(
    request: Request,
    session: WriteSession,
    cache: CacheDep,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    next_url = safe_next(next)
    if not login_csrf_matches(request, csrf_token):
        return _login_page(
            request,
            next_url=next_url,
            email=email,
            error="The form expired; please sign in again.",
            status=403,
        )
    limits: AbuseLimits = request.app.state.abuse_limits
    refusal = await limits.check_login(
        client_ip=request.client.host if request.client else None, email=email
    )
    if refusal is not None:
        refused = _login_page(
            request, next_url=next_url, email=email, error=refusal.message + ".", status=429
        )
        refused.headers["Retry-After"] = str(refusal.retry_after)
        return refused
    try:
        user = await user_service.authenticate(session, email, password)
    except Unauthorized:
        await limits.login_failed(email)
        return _login_page(
            request, next_url=next_url, email=email, error="Wrong email or password.", status=401
        )
    await limits.login_succeeded(email)
    await session.commit()
    token, _ = await web_session_service.start(cache, user)
    response = RedirectResponse(next_url, status_code=303)
    set_cookie(request, response, SESSION_COOKIE, token, config.settings.cache_ttl_session)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request, viewer: Viewer, cache: CacheDep) -> Response:
    await web_session_service.end(cache, viewer)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response
