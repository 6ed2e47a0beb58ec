"""Export route: a marketplace's bulk-upload file as a download, made without credentials."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from listingflow.deps import ReadSession, WorkspaceId
from listingflow.exceptions import BadRequest
from listingflow.publication.export import check_export_marketplace, export_service

router = APIRouter(tags=["publication"])


def _product_ids(value: str | None) -> list[int] | None:
    if value is None or not value.strip():
        return None
    try:
        ids = [int(part) for part in value.split(",") if part.strip()]
    except ValueError as exc:
        raise BadRequest(
            "product_ids must be comma-separated product ids, e.g. 1,2,3", field="product_ids"
        ) from exc
    if any(i <= 0 for i in ids):
        raise BadRequest("product ids are positive numbers", field="product_ids")
    return ids


@router.get(
    "/api/export/file",
    summary="A marketplace's bulk-upload file of the optimized listings (no credentials needed)",
    response_class=Response,
    responses={
        200: {"description": "the file, as an attachment"},
        400: {"description": "unknown marketplace or bad product_ids"},
        409: {"description": "nothing could be exported; the errors say why for each product"},
    },
)
async def export_file(
    session: ReadSession,
    workspace_id: WorkspaceId,
    marketplace: Annotated[str, Query(description="amazon, ebay, allegro or kaufland")],
    product_ids: Annotated[
        str | None, Query(description="comma-separated product ids; all products when left out")
    ] = None,
) -> Response:
    """Products without a listing for the marketplace, with a listing that breaks its rules or
    a price the pricing rules hold back are left out; `X-Skipped-Count` says how many."""
    marketplace = check_export_marketplace(marketplace)
    export, report = await export_service.build(
        session, workspace_id, marketplace, product_ids=_product_ids(product_ids)
    )
    return Response(
        content=export.content,
        media_type=export.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename}"',
            "Cache-Control": "no-store",
            "X-Exported-Count": str(report.exported),
            "X-Skipped-Count": str(len(report.skipped)),
        },
    )
