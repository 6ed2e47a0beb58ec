"""FastAPI dependencies shared by the routers: sessions, cache, the caller's workspace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import structlog
from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow.auth.checked_keys import key_digest, recently_checked, remember_checked
from listingflow.auth.service import auth_service
from listingflow.db import Database
from listingflow.exceptions import Unauthorized
from listingflow.kit.actor import Actor, set_actor
from listingflow.kit.cache import Cache
from listingflow.kit.uow import UnitOfWork

log = structlog.get_logger()

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKeyHeader")
bearer = HTTPBearer(auto_error=False, scheme_name="BearerApiKey")


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_cache(request: Request) -> Cache:
    cache: Cache = request.app.state.cache
    return cache


async def cache_dependency(request: Request) -> Cache:
    """get_cache as a dependency: async, because FastAPI runs a plain `def` dependency in a
    worker thread, a thread hop on every request for a dictionary lookup."""
    return get_cache(request)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session on the primary; the endpoint commits, anything else is rolled back on close."""
    async with get_database(request).sessionmaker() as session:
        yield session


async def _record_use(database: Database, presented: str) -> None:
    """last_used_at of a key just checked against the database (at most hourly per key), on
    the primary and in its own transaction. A failure costs the note, never the request."""
    try:
        async with database.sessionmaker() as session:
            await auth_service.record_api_key_use(session, presented)
            await session.commit()
    except SQLAlchemyError as exc:
        log.warning("api_key.use_not_recorded", error=str(exc))


async def current_workspace_id(
    request: Request,
    x_api_key: Annotated[str | None, Security(api_key_header)] = None,
    authorization: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
) -> int:
    """The workspace of the API key sent as `X-API-Key: <key>` or `Authorization: Bearer <key>`."""
    presented = x_api_key or (authorization.credentials if authorization else None)
    if not presented:
        raise Unauthorized(
            "an API key is required: send X-API-Key: <key> or Authorization: Bearer <key>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    known = getattr(request.state, "api_key_workspace", None)
    if known is not None and known[0] == presented:  # already checked for this request
        return int(known[1])
    cache = get_cache(request)
    digest = key_digest(presented)
    checked = await recently_checked(cache, digest)
    if checked is not None:
        workspace_id = checked[0]
    else:
        database = get_database(request)
        try:
            async with database.read_sessionmaker() as session:
                key = await auth_service.authenticate_api_key(session, presented)
        except Unauthorized:
            if not database.has_replica:
                raise
            # A key made moments ago may not have reached the replica yet: the primary decides.
            async with database.sessionmaker() as session:
                key = await auth_service.authenticate_api_key(session, presented)
        workspace_id = key.workspace_id
        if auth_service.key_use_due(key):  # at most hourly: no write on most checks
            await _record_use(database, presented)
        await remember_checked(cache, digest, workspace_id)
    request.state.api_key_workspace = (presented, workspace_id)
    request.state.workspace_id = workspace_id
    prefix = presented[:10]
    set_actor(
        Actor(
            kind="api_key",
            id=prefix,
            label=f"api key {prefix}…",
            ip=request.client.host if request.client else None,
        )
    )
    return workspace_id


async def reading_workspace_id(
    request: Request,
    x_api_key: Annotated[str | None, Security(api_key_header)] = None,
    authorization: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
) -> int | None:
    """Whose read this is, for routing: the API key's workspace, or one a page's sign-in put on
    the request before; None when unknown (the read then goes to the primary)."""
    if x_api_key or authorization:
        return await current_workspace_id(request, x_api_key, authorization)
    workspace_id: int | None = getattr(request.state, "workspace_id", None)
    return workspace_id


async def get_read_session(
    request: Request,
    cache: Annotated[Cache, Depends(cache_dependency)],
    workspace_id: Annotated[int | None, Depends(reading_workspace_id)],
) -> AsyncIterator[AsyncSession]:
    """A session for read-only work: on the read replica when one is configured, unless the
    caller's workspace wrote within the read-your-writes window (Database.reader)."""
    sessionmaker = await get_database(request).reader(cache, workspace_id)
    async with sessionmaker() as session:
        yield session


@asynccontextmanager
async def read_session(
    request: Request, cache: Cache, workspace_id: int | None
) -> AsyncIterator[AsyncSession]:
    """The same session as ReadSession, opened only when needed (after a cache miss)."""
    sessionmaker = await get_database(request).reader(cache, workspace_id)
    async with sessionmaker() as session:
        yield session


async def get_uow(
    session: Annotated[AsyncSession, Depends(get_session)],
    cache: Annotated[Cache, Depends(cache_dependency)],
    workspace_id: Annotated[int, Depends(current_workspace_id)],
) -> UnitOfWork:
    return UnitOfWork(session=session, cache=cache, workspace_id=workspace_id)


WorkspaceId = Annotated[int, Depends(current_workspace_id)]
ReadSession = Annotated[AsyncSession, Depends(get_read_session)]
WriteSession = Annotated[AsyncSession, Depends(get_session)]
CacheDep = Annotated[Cache, Depends(cache_dependency)]
Uow = Annotated[UnitOfWork, Depends(get_uow)]
