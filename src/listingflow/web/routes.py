"""Mounts the pages, the static files and the handlers that turn sign-in signals into pages."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import RedirectResponse, Response

from listingflow.web import (
    pages_audit,
    pages_auth,
    pages_connections,
    pages_dashboard,
    pages_import,
    pages_jobs,
    pages_ops,
    pages_products,
    pages_publish,
    pages_settings,
)
from listingflow.web.security import CsrfRefused, LoginRequired, login_url
from listingflow.web.templating import STATIC_DIR, render

PAGE_ROUTERS = [
    pages_auth.router,
    pages_dashboard.router,
    pages_products.router,
    pages_import.router,
    pages_jobs.router,
    pages_settings.router,
    pages_connections.router,
    pages_publish.router,
    pages_ops.router,
    pages_audit.router,
]


def install_web(app: FastAPI) -> None:
    """Pages under `/` (the JSON API keeps /api and /health)."""
    for router in PAGE_ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        target = login_url(exc.next_url)
        if request.headers.get("HX-Request") == "true":
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(CsrfRefused)
    async def _csrf_refused(request: Request, exc: CsrfRefused) -> Response:
        return render(
            request,
            "error.html",
            {
                "status": 403,
                "message": "This form was not sent from a ListingFlow page (missing or wrong "
                "CSRF token). Reload the page and try again.",
            },
            status_code=403,
        )
