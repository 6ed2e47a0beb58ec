"""The publish page: products picked on the products page (or one product's button) or by a
filter, one connected marketplace, an optional connection name, dry run; the job starts as
POST /api/export/bulk-publish starts it and the seller follows it on its job page."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from listingflow import config
from listingflow.deps import CacheDep, ReadSession, WriteSession
from listingflow.exceptions import ListingflowError, PayloadTooLarge, ValidationFailed
from listingflow.integrations.marketplaces import registry
from listingflow.models import MarketplaceConnection, ProductStatus
from listingflow.product.service import product_service
from listingflow.publication.connections import connection_service
from listingflow.publication.service import publication_service
from listingflow.web.common import page_router, unit_of_work
from listingflow.web.pages_connections import broken
from listingflow.web.pages_products import product_filter
from listingflow.web.security import Viewer
from listingflow.web.templating import render

router = page_router()
_FILTER_FIELDS = ("q", "status", "source", "score_min", "score_max")


async def _publish_page(
    request: Request,
    viewer: Viewer,
    session: ReadSession | WriteSession,
    *,
    product_ids: list[int],
    form: dict[str, object] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    connections = await connection_service.list(session, viewer.workspace_id)
    connected = _by_marketplace(connections)
    choices = [m for m in registry.PUBLISHABLE if m in connected]
    default = {
        "scope": "selection" if product_ids else "filter",
        "marketplace": choices[0] if len(choices) == 1 else "",
        "dry_run": False,
    }
    return render(
        request,
        "publish.html",
        {
            "product_ids": product_ids,
            "form": form or default,
            "errors": errors or {},
            "connected": connected,
            "choices": choices,
            "unconnected": [m for m in registry.PUBLISHABLE if m not in connected],
            "broken": broken(connections),
            "statuses": [s.value for s in ProductStatus],
            "limit": config.settings.max_batch_items,
        },
        viewer=viewer,
        status_code=status_code,
    )


def _by_marketplace(
    connections: list[MarketplaceConnection],
) -> dict[str, list[MarketplaceConnection]]:
    out: dict[str, list[MarketplaceConnection]] = {}
    for connection in connections:
        out.setdefault(connection.marketplace, []).append(connection)
    return out


@router.get("/publish")
async def publish_page(request: Request, viewer: Viewer, session: ReadSession) -> Response:
    return await _publish_page(request, viewer, session, product_ids=[])


@router.post("/publish/selection")
async def publish_selection(
    request: Request,
    viewer: Viewer,
    session: ReadSession,
    product_ids: Annotated[list[int], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
) -> Response:
    """The publish form for products picked on the products page (nothing starts yet)."""
    return await _publish_page(
        request, viewer, session, product_ids=list(dict.fromkeys(product_ids))
    )


def _score(value: object) -> int | None:
    text = str(value or "").strip()
    return max(0, min(100, int(text))) if text.isdigit() else None


@router.post("/publish")
async def start_publish(
    request: Request, viewer: Viewer, session: WriteSession, cache: CacheDep
) -> Response:
    submitted = await request.form()
    product_ids = [int(str(v)) for v in submitted.getlist("product_ids") if str(v).isdigit()]
    scope = str(submitted.get("scope") or ("selection" if product_ids else "filter"))
    form: dict[str, object] = {key: str(submitted.get(key) or "") for key in _FILTER_FIELDS}
    marketplace = str(submitted.get("marketplace") or "").strip().lower()
    name = str(submitted.get("connection") or "").strip()
    dry_run = submitted.get("dry_run") in ("1", "on", "true")
    form.update(scope=scope, marketplace=marketplace, connection=name, dry_run=dry_run)
    limit = config.settings.max_batch_items
    uow = unit_of_work(session, cache, viewer)
    try:
        if not marketplace:
            raise ValidationFailed("choose a marketplace to publish to", field="marketplace")
        if len(name) > 100:
            raise ValidationFailed(
                "a connection name has at most 100 characters", field="connection"
            )
        if scope == "filter":
            # Only products with a listing for this marketplace can be published to it.
            flt = product_filter(
                str(form["q"]) or None,
                str(form["status"]) or None,
                str(form["source"]) or None,
                marketplace,
                _score(form["score_min"]),
                _score(form["score_max"]),
            )
            product_ids = await product_service.ids(
                uow.session, uow.workspace_id, flt=flt, limit=limit + 1
            )
        if not product_ids:
            raise ValidationFailed(
                f"no products match: nothing to publish (only products with a {marketplace} "
                "listing are taken; optimize them first)",
                field="products",
            )
        if len(product_ids) > limit:
            raise PayloadTooLarge(
                f"more than {limit} products in one publish job: narrow the filter",
                field="products",
            )
        job, item_ids = await publication_service.start(
            uow.session,
            uow.workspace_id,
            product_ids,
            marketplace,
            connection=name or None,
            dry_run=dry_run,
            source="web-publish",
        )
    except ListingflowError as exc:
        await uow.rollback()
        return await _publish_page(
            request,
            viewer,
            session,
            product_ids=product_ids if scope == "selection" else [],
            form=form,
            errors={exc.field or "form": exc.message},
            status_code=exc.status_code,
        )
    job_id = job.id
    publication_service.send_after_commit(uow, job, item_ids)
    await uow.commit()
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)
