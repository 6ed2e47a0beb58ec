"""Import pages: one product by hand, a file with a preview first, a page URL, the webhook."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import File, Form, Request, UploadFile
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from listingflow import config
from listingflow.auth.service import auth_service
from listingflow.deps import CacheDep, ReadSession, WriteSession
from listingflow.exceptions import ListingflowError
from listingflow.importing.files import file_rows
from listingflow.importing.pages import page_row
from listingflow.importing.preview import preview_file, stage_upload, staged_upload
from listingflow.importing.schemas import ImportSummary, ProductIn
from listingflow.importing.service import errors_from_validation, import_service
from listingflow.web.common import page_router, unit_of_work
from listingflow.web.security import Viewer
from listingflow.web.templating import render

router = page_router()
FIELDS = ("source_platform", "source_id", "title", "description", "category", "brand")
FIELDS_MORE = ("price", "currency", "source_url", "images")


def _import_page(
    request: Request,
    viewer: Viewer,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    file_error: str | None = None,
    url_error: str | None = None,
    url: str = "",
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "import.html",
        {
            "form": form or {"source_platform": "manual", "currency": "PLN"},
            "errors": errors or {},
            "file_error": file_error,
            "url_error": url_error,
            "url": url,
        },
        viewer=viewer,
        status_code=status_code,
    )


@router.get("/import")
async def import_page(request: Request, viewer: Viewer) -> Response:
    return _import_page(request, viewer)


@router.post("/import/product")
async def import_product(
    request: Request, viewer: Viewer, session: WriteSession, cache: CacheDep
) -> Response:
    submitted = await request.form()
    form = {name: str(submitted.get(name) or "") for name in FIELDS + FIELDS_MORE}
    data: dict[str, object] = {k: v for k, v in form.items() if k != "images" and v.strip()}
    data["images"] = [line.strip() for line in form["images"].splitlines() if line.strip()]
    try:
        product = ProductIn.model_validate(data)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in errors_from_validation(exc, 1):
            errors.setdefault((error.field or "form").split(".")[0], error.message)
        return _import_page(request, viewer, form=form, errors=errors, status_code=422)
    uow = unit_of_work(session, cache, viewer)
    product_id, _ = await import_service.import_one(uow.session, uow.workspace_id, product)
    await uow.commit()
    return RedirectResponse(f"/products/{product_id}", status_code=303)


@router.post("/import/file/preview")
async def preview_upload(
    request: Request,
    viewer: Viewer,
    file: Annotated[UploadFile, File()],
) -> Response:
    filename = file.filename or "upload"
    try:
        preview = preview_file(filename, file.file)
    except ListingflowError as exc:
        return _import_page(request, viewer, file_error=exc.message, status_code=exc.status_code)
    token = stage_upload(viewer.workspace_id, filename, file.file)
    return render(
        request,
        "import_preview.html",
        {"preview": preview, "filename": filename, "token": token},
        viewer=viewer,
    )


@router.post("/import/file")
async def import_file(
    request: Request,
    viewer: Viewer,
    session: WriteSession,
    cache: CacheDep,
    upload: Annotated[str, Form(max_length=100)],
    filename: Annotated[str, Form(max_length=300)],
    source_platform: Annotated[str, Form(max_length=50)] = "",
) -> Response:
    path = staged_upload(viewer.workspace_id, upload)
    uow = unit_of_work(session, cache, viewer)
    try:
        with path.open("rb") as stream:
            rows = file_rows(filename, stream)
            summary = await import_service.import_rows(
                uow.session,
                uow.workspace_id,
                rows,
                checkpoint=uow.commit,
                source=f"file:{filename}",
                platform=source_platform.strip().lower() or None,
                override_platform=bool(source_platform.strip()),
                params={"filename": filename},
            )
    finally:
        path.unlink(missing_ok=True)
    return _result_page(request, viewer, summary, filename)


def _result_page(request: Request, viewer: Viewer, summary: ImportSummary, source: str) -> Response:
    return render(
        request, "import_result.html", {"summary": summary, "source": source}, viewer=viewer
    )


@router.post("/import/url")
async def import_url(
    request: Request,
    viewer: Viewer,
    session: WriteSession,
    cache: CacheDep,
    url: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    if not url.strip():
        return _import_page(request, viewer, url_error="Enter the page's address.", status_code=422)
    try:
        row = await page_row(url.strip())
    except ListingflowError as exc:
        return _import_page(
            request, viewer, url=url, url_error=exc.message, status_code=exc.status_code
        )
    uow = unit_of_work(session, cache, viewer)
    summary = await import_service.import_rows(
        uow.session,
        uow.workspace_id,
        [row],
        checkpoint=uow.commit,
        source=f"url:{url.strip()[:180]}",
        collect_results=True,
    )
    result = summary.results[0] if summary.results else None
    if result is not None and result.product_id is not None and result.status != "failed":
        return RedirectResponse(f"/products/{result.product_id}", status_code=303)
    return _result_page(request, viewer, summary, url)


def n8n_http_request_node(url: str, secret: str) -> dict[str, object]:
    """An n8n "HTTP Request" node (paste into the n8n canvas) that sends products here."""
    body = (
        '={{ JSON.stringify({ source: "allegro", event_type: "product.import", '
        "data: { products: $input.all().map(item => item.json) } }) }}"
    )
    return {
        "nodes": [
            {
                "name": "Send to ListingFlow",
                "type": "n8n-nodes-base.httpRequest",
                "typeVersion": 4.2,
                "position": [600, 300],
                "parameters": {
                    "method": "POST",
                    "url": url,
                    "sendHeaders": True,
                    "headerParameters": {
                        "parameters": [{"name": "X-Webhook-Secret", "value": secret}]
                    },
                    "sendBody": True,
                    "specifyBody": "json",
                    "jsonBody": body,
                    "options": {},
                },
            }
        ],
        "connections": {},
    }


@router.get("/import/webhook")
async def webhook_page(
    request: Request, viewer: Viewer, session: ReadSession, rotated: int | None = None
) -> Response:
    secret = await auth_service.current_webhook_secret(session, viewer.workspace_id)
    webhook_url = str(request.base_url).rstrip("/") + "/api/import/webhook"
    return render(
        request,
        "webhook.html",
        {
            "n8n": json.dumps(
                n8n_http_request_node(webhook_url, secret or "<your webhook secret>"), indent=2
            ),
            "secret": secret,
            "webhook_url": webhook_url,
            "rotated": rotated,
            "from_settings": config.settings.webhook_secret is not None,
        },
        viewer=viewer,
    )


@router.post("/import/webhook/rotate")
async def rotate_webhook_secret(viewer: Viewer, session: WriteSession, cache: CacheDep) -> Response:
    uow = unit_of_work(session, cache, viewer)
    await auth_service.rotate_webhook_secret(uow.session, uow.workspace_id)
    await uow.commit()
    return RedirectResponse("/import/webhook?rotated=1", status_code=303)
