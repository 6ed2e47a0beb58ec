"""Publication routes: marketplace connections, the v1 publish routes, publication history and
the marketplace list with connection status."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow import config
from listingflow.deps import ReadSession, Uow, WorkspaceId, get_cache
from listingflow.exceptions import BadRequest, PayloadTooLarge, StillRunning
from listingflow.integrations.marketplaces import registry
from listingflow.job.service import job_items_service, job_service
from listingflow.kit.cache import Cache
from listingflow.models import MarketplaceConnection
from listingflow.publication.connections import connection_service
from listingflow.publication.schemas import (
    BulkPublishRequest,
    BulkPublishResponse,
    ConnectionIn,
    ConnectionOut,
    PublishAttemptOut,
    PublishItemOut,
    PublishOneResponse,
)
from listingflow.publication.service import check_publishable, publication_service
from listingflow.rules.marketplaces import MARKETPLACES

router = APIRouter(tags=["publication"])


def _out(connection: MarketplaceConnection) -> ConnectionOut:
    return ConnectionOut(**connection_service.public(connection))


# --- connections --------------------------------------------------------------------------


@router.get("/api/connections/fields", summary="The credential fields of each marketplace")
async def connection_fields(_: WorkspaceId) -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = {}
    for marketplace in registry.PUBLISHABLE:
        fields, secret = registry.credential_fields(marketplace)
        out[marketplace] = {"fields": list(fields), "secret_fields": list(secret)}
    return out


@router.get("/api/connections", response_model=list[ConnectionOut], summary="Connections")
async def list_connections(session: ReadSession, workspace_id: WorkspaceId) -> list[ConnectionOut]:
    return [_out(c) for c in await connection_service.list(session, workspace_id)]


@router.post(
    "/api/connections",
    response_model=ConnectionOut,
    status_code=201,
    summary="Add a marketplace connection (or replace the credentials of one with this name)",
)
async def add_connection(body: ConnectionIn, uow: Uow) -> ConnectionOut:
    connection = await connection_service.save(
        uow.session,
        uow.workspace_id,
        marketplace=body.marketplace.strip().lower(),
        name=body.name.strip(),
        credentials=body.credentials,
        settings=body.settings,
    )
    await uow.commit()
    return _out(connection)


@router.post(
    "/api/connections/{connection_id}/test",
    response_model=ConnectionOut,
    summary="Try the connection's credentials (a token exchange or a cheap call)",
)
async def test_connection(
    connection_id: int, uow: Uow, cache: Annotated[Cache, Depends(get_cache)]
) -> ConnectionOut:
    connection = await connection_service.check(uow.session, uow.workspace_id, connection_id, cache)
    await uow.commit()
    return _out(connection)


@router.delete("/api/connections/{connection_id}", summary="Remove a connection")
async def remove_connection(connection_id: int, uow: Uow) -> dict[str, str]:
    await connection_service.delete(uow.session, uow.workspace_id, connection_id)
    await uow.commit()
    return {"status": "success", "message": "Connection removed"}


# --- marketplaces -------------------------------------------------------------------------


@router.get("/api/export/marketplaces", summary="Supported marketplaces and their connections")
async def marketplaces(session: ReadSession, workspace_id: WorkspaceId) -> list[dict[str, Any]]:
    connections = await connection_service.list(session, workspace_id)
    out = []
    for key, info in MARKETPLACES.items():
        mine = [c for c in connections if c.marketplace == key]
        out.append(
            {
                "id": key,
                "name": info.name,
                "regions": [region.code for region in info.regions],
                "sites": [region.site for region in info.regions],
                "status": "available",
                "optimizer": info.has_offline_optimizer,
                "publishing": "api" if key in registry.PUBLISHABLE else "not available",
                "connection_status": (
                    "broken"
                    if any(c.status == "broken" for c in mine)
                    else "connected"
                    if any(c.status == "connected" for c in mine)
                    else "untested"
                    if mine
                    else "not connected"
                ),
                "connections": [
                    {"id": c.id, "name": c.name, "status": c.status, "last_error": c.last_error}
                    for c in mine
                ],
            }
        )
    return out


# --- publishing ---------------------------------------------------------------------------


async def _wait_items(
    session: AsyncSession, workspace_id: int, job_id: int, limit: int
) -> list[PublishItemOut]:
    job = await job_service.wait(
        session, workspace_id, job_id, seconds=config.settings.publish_wait_seconds
    )
    items = await job_items_service.items(session, job, status=None, offset=0, limit=limit)
    return [PublishItemOut.of(item) for item in items]


@router.post(
    "/api/export/publish/{product_id}",
    response_model=PublishOneResponse,
    summary="Publish one product's listing to a marketplace (waits briefly for the answer)",
)
async def publish_one(
    product_id: int,
    uow: Uow,
    marketplace: Annotated[str, Query(description="amazon, ebay, allegro or kaufland")] = "amazon",
    connection: Annotated[str | None, Query(description="connection name")] = None,
    dry_run: Annotated[bool, Query(description="validate on the marketplace only")] = False,
) -> PublishOneResponse:
    marketplace = check_publishable(marketplace)
    job, item_ids = await publication_service.start(
        uow.session,
        uow.workspace_id,
        [product_id],
        marketplace,
        connection=connection,
        dry_run=dry_run,
        queue="interactive",
        source="publish",
    )
    job_id = job.id
    publication_service.send_after_commit(uow, job, item_ids)
    await uow.commit()
    [item] = await _wait_items(uow.session, uow.workspace_id, job_id, 1)
    if item.status == "queued":
        raise StillRunning(
            f"the publication is still running as job {job_id}; follow GET /api/jobs/{job_id}"
        )
    return PublishOneResponse(
        **item.model_dump(), marketplace=marketplace, job_id=job_id, dry_run=dry_run
    )


@router.post(
    "/api/export/bulk-publish",
    response_model=BulkPublishResponse,
    summary="Publish many products as a background job; waits briefly for the results",
)
async def bulk_publish(body: BulkPublishRequest, uow: Uow) -> BulkPublishResponse:
    if body.job_type != "publish":
        raise BadRequest("job_type must be 'publish'", field="job_type")
    limit = config.settings.max_batch_items
    product_ids = list(dict.fromkeys(body.product_ids))
    if len(product_ids) > limit:
        raise PayloadTooLarge(
            f"{len(product_ids)} products in one request; the limit is {limit}",
            field="product_ids",
        )
    job, item_ids = await publication_service.start(
        uow.session,
        uow.workspace_id,
        product_ids,
        body.target_marketplace,
        connection=body.connection,
        dry_run=body.dry_run,
        source="bulk-publish",
    )
    job_id, marketplace = job.id, str(job.params["marketplace"])
    publication_service.send_after_commit(uow, job, item_ids)
    await uow.commit()
    results = await _wait_items(uow.session, uow.workspace_id, job_id, len(product_ids))
    failed = sum(r.status == "failed" for r in results)
    queued = sum(r.status == "queued" for r in results)
    succeeded = sum(r.status == "success" for r in results)
    status = (
        "running" if queued else "success" if not failed else "partial" if succeeded else "failed"
    )
    return BulkPublishResponse(
        status=status,
        job_id=job_id,
        marketplace=marketplace,
        success_count=succeeded,
        failed_count=failed,
        queued_count=queued,
        results=results,
    )


@router.get(
    "/api/products/{product_id}/publications",
    response_model=list[PublishAttemptOut],
    summary="A product's publication history, newest first",
)
async def publications(
    product_id: int,
    session: ReadSession,
    workspace_id: WorkspaceId,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[PublishAttemptOut]:
    rows = await publication_service.history(session, workspace_id, product_id, limit=limit)
    return [PublishAttemptOut.of(row) for row in rows]
