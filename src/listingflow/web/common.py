"""What every page module shares: the router class that renders errors as pages, sessions."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from listingflow.auth.users import WebSession
from listingflow.exceptions import ListingflowError
from listingflow.kit.cache import Cache
from listingflow.kit.uow import UnitOfWork
from listingflow.web.templating import render


class WebRoute(APIRoute):
    """A page route: an expected failure (404, 409...) is shown as a page, not JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except ListingflowError as exc:
                viewer = getattr(request.state, "viewer", None)
                return render(
                    request,
                    "error.html",
                    {"status": exc.status_code, "message": exc.message},
                    viewer=viewer,
                    status_code=exc.status_code,
                )

        return route


def page_router() -> APIRouter:
    return APIRouter(route_class=WebRoute, include_in_schema=False)


def unit_of_work(session: AsyncSession, cache: Cache, viewer: WebSession) -> UnitOfWork:
    return UnitOfWork(session=session, cache=cache, workspace_id=viewer.workspace_id)
