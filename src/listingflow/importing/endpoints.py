"""Import routes (v1 contract): webhook, single product, batch, job status; plus file and URL."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, File, Form, Header, Request, Response, UploadFile
from pydantic import BaseModel

from listingflow import config
from listingflow.auth.service import auth_service
from listingflow.deps import CacheDep, ReadSession, Uow, WorkspaceId, WriteSession
from listingflow.exceptions import BadRequest, PayloadTooLarge, Unauthorized, ValidationFailed
from listingflow.importing.schemas import (
    BatchImportResponse,
    ImportJobOut,
    ProductIn,
    SingleImportResponse,
    UrlImportRequest,
)
from listingflow.importing.service import import_service
from listingflow.integrations.sources.base import RowError, SourceRow
from listingflow.job.service import job_service
from listingflow.kit.actor import Actor, set_actor
from listingflow.kit.uow import UnitOfWork

router = APIRouter(prefix="/api/import", tags=["import"])

_PRODUCT_LIST_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {"$ref": "#/components/schemas/ProductIn"},
}
_WEBHOOK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "source": {"type": "string", "default": "allegro"},
        "event_type": {"type": "string", "example": "product.import"},
        "data": {
            "type": "object",
            "required": ["products"],
            "properties": {"products": _PRODUCT_LIST_SCHEMA},
        },
    },
}


def _json_body(raw: bytes) -> Any:
    if not raw.strip():
        raise BadRequest("request body is empty; send JSON", field="body")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}", field="body") from exc


def _product_rows(items: Any, field: str) -> list[SourceRow]:
    if not isinstance(items, list):
        raise ValidationFailed(f"{field} must be a JSON list of products", field=field)
    limit = config.settings.max_batch_items
    if len(items) > limit:
        raise PayloadTooLarge(
            f"{len(items)} products in one request; the limit is {limit}. Split the batch or "
            "upload a file to POST /api/import/file",
            field=field,
        )
    rows = []
    for position, item in enumerate(items, start=1):
        if isinstance(item, dict):
            rows.append(SourceRow(index=position, data=item))
        else:
            error = RowError(position, None, "each product must be a JSON object")
            rows.append(SourceRow(index=position, error=error))
    return rows


async def _import(
    uow: UnitOfWork,
    rows: list[SourceRow],
    *,
    source: str,
    platform: str | None,
    override_platform: bool,
) -> Response:
    summary = await import_service.import_rows(
        uow.session,
        uow.workspace_id,
        rows,
        checkpoint=uow.commit,
        source=source,
        platform=platform,
        override_platform=override_platform,
        collect_results=True,
    )
    return _json(BatchImportResponse.of(summary))


def _json(model: BaseModel) -> Response:
    """Serialized once by pydantic-core: FastAPI would re-validate thousands of item results."""
    return Response(model.model_dump_json(), media_type="application/json")


@router.post(
    "/webhook",
    response_model=BatchImportResponse,
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": _WEBHOOK_SCHEMA}}}},
    summary="n8n webhook import (X-Webhook-Secret, or a signed X-Signature)",
)
async def import_webhook(
    request: Request,
    session: WriteSession,
    cache: CacheDep,
    x_webhook_secret: Annotated[str | None, Header()] = None,
    x_signature: Annotated[str | None, Header()] = None,
) -> Response:
    """No API key here: the caller proves itself with the workspace's webhook secret, either
    as `X-Webhook-Secret` (v1) or as `X-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
    "<t>.<raw body>">` (5-minute window; each signature is accepted once)."""
    raw = await request.body()
    if x_signature:
        workspace_id = await auth_service.workspace_for_signature(session, raw, x_signature)
    elif x_webhook_secret:
        workspace_id = await auth_service.workspace_for_webhook_secret(session, x_webhook_secret)
    else:
        raise Unauthorized("missing X-Webhook-Secret (or X-Signature) header")
    set_actor(
        Actor(
            kind="webhook",
            id="signed" if x_signature else "secret",
            label="webhook (signed)" if x_signature else "webhook",
            ip=request.client.host if request.client else None,
        )
    )
    payload = _json_body(raw)
    if not isinstance(payload, dict):
        raise ValidationFailed("webhook body must be a JSON object", field="body")
    data = payload.get("data")
    products = data.get("products") if isinstance(data, dict) else None
    if products is None:
        raise ValidationFailed("data.products is required", field="data.products")
    if isinstance(products, list) and not products:
        raise BadRequest("data.products is empty: nothing to import", field="data.products")
    source = payload.get("source") or "allegro"
    if not isinstance(source, str):
        raise ValidationFailed("source must be a string", field="source")
    rows = _product_rows(products, "data.products")
    uow = UnitOfWork(session=session, cache=cache, workspace_id=workspace_id)
    return await _import(
        uow, rows, source=f"webhook:{source}", platform=source.lower(), override_platform=True
    )


@router.post("/product", response_model=SingleImportResponse, summary="Import one product")
async def import_product(product: ProductIn, uow: Uow) -> SingleImportResponse:
    product_id, result = await import_service.import_one(uow.session, uow.workspace_id, product)
    await uow.commit()
    return SingleImportResponse(product_id=product_id, result=result)


@router.post(
    "/batch",
    response_model=BatchImportResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _PRODUCT_LIST_SCHEMA}},
        }
    },
    summary="Import a JSON list of products; bad items are reported, good ones imported",
)
async def import_batch(request: Request, uow: Uow, source: str = "allegro") -> Response:
    rows = _product_rows(_json_body(await request.body()), "body")
    return await _import(
        uow, rows, source=f"batch:{source}", platform=source.lower(), override_platform=False
    )


@router.post(
    "/file",
    response_model=BatchImportResponse,
    summary="Import a CSV, XLSX, JSON or JSON Lines file (Shopify and WooCommerce detected)",
)
async def import_file(
    uow: Uow,
    file: Annotated[UploadFile, File(description="CSV, TSV, XLSX, JSON or JSONL")],
    source_platform: Annotated[str | None, Form()] = None,
    mapping: Annotated[UploadFile | None, File(description="column mapping JSON")] = None,
) -> Response:
    from listingflow.importing.files import file_rows

    filename = file.filename or "upload"
    mapping_json = await mapping.read() if mapping is not None else None
    rows = file_rows(filename, file.file, mapping_json)
    summary = await import_service.import_rows(
        uow.session,
        uow.workspace_id,
        rows,
        checkpoint=uow.commit,
        source=f"file:{filename}",
        platform=source_platform.lower() if source_platform else None,
        override_platform=bool(source_platform),
        params={"filename": file.filename},
    )
    return _json(BatchImportResponse.of(summary))


@router.post(
    "/url", response_model=SingleImportResponse, summary="Import a product from its page URL"
)
async def import_url(body: UrlImportRequest, uow: Uow) -> SingleImportResponse:
    from listingflow.importing.pages import page_row

    row = await page_row(body.url)
    summary = await import_service.import_rows(
        uow.session,
        uow.workspace_id,
        [row],
        checkpoint=uow.commit,
        source=f"url:{body.url[:180]}",
        platform=body.source_platform,
        override_platform=bool(body.source_platform),
        collect_results=True,
    )
    result = summary.results[0]
    if result.status == "failed" or result.product_id is None:
        first = result.errors[0] if result.errors else None
        raise ValidationFailed(
            f"the page could not be imported: {first.field}: {first.message}"
            if first
            else "the page could not be imported",
            errors=[e.model_dump() for e in result.errors],
        )
    return SingleImportResponse(
        product_id=result.product_id,
        result=result.status,
        job_id=summary.job_id,
    )


@router.get("/job/{job_id}", response_model=ImportJobOut, summary="An import job's progress")
async def import_job(job_id: int, session: ReadSession, workspace_id: WorkspaceId) -> ImportJobOut:
    job = await job_service.get(session, workspace_id, job_id)
    result = job.result or {}
    return ImportJobOut(
        id=job.id,
        source=job.source,
        status=job.status,
        total_products=job.total,
        processed_products=job.processed,
        failed_products=job.failed,
        succeeded_products=job.succeeded,
        created=int(result.get("created", 0)),
        updated=int(result.get("updated", 0)),
        unchanged=int(result.get("unchanged", 0)),
        errors=result.get("errors", []),
        error_summary=job.error_summary,
        created_at=job.created_at,
        completed_at=job.completed_at,
    )
