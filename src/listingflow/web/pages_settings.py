"""Settings: the workspace's API keys (create, revoke) and the LLM provider (read-only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from listingflow import config
from listingflow.auth.service import auth_service
from listingflow.deps import CacheDep, ReadSession, WriteSession
from listingflow.exceptions import ListingflowError
from listingflow.optimization.service import optimization_service
from listingflow.web.common import page_router, unit_of_work
from listingflow.web.security import Viewer
from listingflow.web.templating import render

router = page_router()


async def _settings_page(
    request: Request,
    viewer: Viewer,
    session: ReadSession | WriteSession,
    *,
    new_key: str | None = None,
    error: str | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    settings = config.settings
    return render(
        request,
        "settings.html",
        {
            "keys": await auth_service.api_keys(session, viewer.workspace_id),
            "usage": await optimization_service.usage(session, viewer.workspace_id),
            "llm": {
                "base_url": settings.llm_base_url,
                "model": settings.llm_model,
                "fallback": settings.llm_fallback,
                "timeout": settings.llm_timeout,
            },
            "new_key": new_key,
            "error": error,
            "message": message,
        },
        viewer=viewer,
        status_code=status_code,
    )


@router.get("/settings")
async def settings_page(
    request: Request, viewer: Viewer, session: ReadSession, revoked: int | None = None
) -> Response:
    message = "The key is revoked; requests with it are refused." if revoked else None
    return await _settings_page(request, viewer, session, message=message)


@router.post("/settings/api-keys")
async def create_api_key(
    request: Request,
    viewer: Viewer,
    session: WriteSession,
    cache: CacheDep,
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    uow = unit_of_work(session, cache, viewer)
    try:
        _, plaintext = await auth_service.create_api_key(uow.session, uow.workspace_id, name=name)
    except ListingflowError as exc:
        return await _settings_page(
            request, viewer, session, error=exc.message, status_code=exc.status_code
        )
    await uow.commit()
    # Shown once, in this answer only (never in a URL or a later page).
    return await _settings_page(request, viewer, session, new_key=plaintext)


@router.post("/settings/api-keys/{key_id}/revoke")
async def revoke_api_key(
    key_id: int, viewer: Viewer, session: WriteSession, cache: CacheDep
) -> Response:
    uow = unit_of_work(session, cache, viewer)
    await auth_service.revoke_api_key(uow.session, uow.workspace_id, key_id)
    await uow.commit()
    return RedirectResponse("/settings?revoked=1", status_code=303)
