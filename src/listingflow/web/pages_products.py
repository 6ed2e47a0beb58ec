"""Products: the searchable table with keyset paging and bulk actions, and one product's page
with its listings side by side, hand edits and approval."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Form, Query, Request
from pydantic import BeforeValidator, Field, ValidationError
from starlette.responses import RedirectResponse, Response

from listingflow.deps import CacheDep, ReadSession, WriteSession
from listingflow.exceptions import ListingflowError
from listingflow.integrations.marketplaces import registry
from listingflow.listing.schemas import ListingEdit
from listingflow.listing.service import listing_service
from listingflow.models import Listing, Product, ProductStatus
from listingflow.product.repository import ProductFilter
from listingflow.product.service import product_service
from listingflow.publication.connections import connection_service
from listingflow.publication.schemas import PublishAttemptOut
from listingflow.publication.service import publication_service
from listingflow.rules.marketplaces import MARKETPLACES
from listingflow.web.common import page_router, unit_of_work
from listingflow.web.diffs import word_diff
from listingflow.web.security import Viewer
from listingflow.web.templating import render

router = page_router()
PAGE_SIZE = 50


def product_filter(
    q: str | None,
    status: str | None,
    source: str | None,
    marketplace: str | None,
    score_min: int | None,
    score_max: int | None,
) -> ProductFilter:
    """A filter from the page's query fields; unknown choices are dropped, not errors."""
    return ProductFilter(
        status=status if status in {s.value for s in ProductStatus} else None,
        source_platform=source.strip().lower() if source and source.strip() else None,
        q=q.strip()[:200] if q and q.strip() else None,
        marketplace=marketplace if marketplace in MARKETPLACES else None,
        score_min=score_min,
        score_max=score_max,
    )


def filter_query(flt: ProductFilter) -> dict[str, str]:
    values = {
        "q": flt.q,
        "status": flt.status,
        "source": flt.source_platform,
        "marketplace": flt.marketplace,
        "score_min": flt.score_min,
        "score_max": flt.score_max,
    }
    return {k: str(v) for k, v in values.items() if v is not None}


# The filter form sends its empty number boxes as `score_min=`: empty means no bound.
Score = Annotated[
    Annotated[int, Field(ge=0, le=100)] | None,
    BeforeValidator(lambda v: None if v == "" else v),
    Query(),
]


@router.get("/products")
async def products(
    request: Request,
    viewer: Viewer,
    session: ReadSession,
    cache: CacheDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    status: str | None = None,
    source: Annotated[str | None, Query(max_length=50)] = None,
    marketplace: str | None = None,
    score_min: Score = None,
    score_max: Score = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    deleted: int | None = None,
) -> Response:
    flt = product_filter(q, status, source, marketplace, score_min, score_max)
    rows = await product_service.list_products(
        session, viewer.workspace_id, cache=cache, flt=flt, page_size=PAGE_SIZE, cursor=cursor
    )
    listings = await listing_service.by_product(
        session, viewer.workspace_id, [p.id for p in rows.rows]
    )
    query = filter_query(flt)
    context = {
        "rows": rows,
        "listings": listings,
        "flt": flt,
        "query": query,
        "statuses": [s.value for s in ProductStatus],
        "marketplaces": list(MARKETPLACES),
        "next_url": "/products?" + urlencode({**query, "cursor": rows.next_cursor})
        if rows.next_cursor
        else None,
        "first_url": "/products?" + urlencode(query) if cursor else None,
        "deleted": deleted,
    }
    template = "_products_table.html" if request.headers.get("HX-Target") == "results" else None
    return render(request, template or "products.html", context, viewer=viewer)


@router.post("/products/bulk-delete")
async def bulk_delete(
    viewer: Viewer,
    session: WriteSession,
    cache: CacheDep,
    product_ids: Annotated[list[int], Form()],
) -> Response:
    uow = unit_of_work(session, cache, viewer)
    for product_id in dict.fromkeys(product_ids[:500]):
        await product_service.delete(uow.session, uow.workspace_id, product_id)
    await uow.commit()
    return RedirectResponse(f"/products?deleted={len(set(product_ids[:500]))}", status_code=303)


def _listing_view(product: Product, listing: Listing) -> dict[str, object]:
    title_before, title_after = word_diff(product.title, listing.title)
    desc_before, desc_after = word_diff(product.description or "", listing.description)
    return {
        "listing": listing,
        "title_before": title_before,
        "title_after": title_after,
        "desc_before": desc_before,
        "desc_after": desc_after,
        "stale": listing.source_hash != product.content_hash,
        "errors": [i for i in listing.issues if i.get("severity") == "error"],
    }


async def _product_page(
    request: Request,
    viewer: Viewer,
    session: ReadSession | WriteSession,
    product_id: int,
    *,
    message: str | None = None,
    failure: tuple[int, str] | None = None,
    field_errors: dict[int, dict[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    product, listings = await listing_service.for_product(session, viewer.workspace_id, product_id)
    history: dict[str, list[PublishAttemptOut]] = {}
    for attempt in await publication_service.history(session, viewer.workspace_id, product_id):
        history.setdefault(attempt.marketplace, []).append(PublishAttemptOut.of(attempt))
    connections: dict[str, list[str]] = {}
    for connection in await connection_service.list(session, viewer.workspace_id):
        connections.setdefault(connection.marketplace, []).append(connection.status)
    return render(
        request,
        "product.html",
        {
            "product": product,
            "views": [_listing_view(product, item) for item in listings],
            "history": history,
            "other_history": {
                m: rows for m, rows in history.items() if m not in {x.marketplace for x in listings}
            },
            "connections": connections,
            "publishable": registry.PUBLISHABLE,
            "message": message,
            "failure": failure,
            "field_errors": field_errors or {},
            "marketplaces": list(MARKETPLACES),
        },
        viewer=viewer,
        status_code=status_code,
    )


@router.get("/products/{product_id}")
async def product_page(
    request: Request,
    product_id: int,
    viewer: Viewer,
    session: ReadSession,
    saved: str | None = None,
) -> Response:
    messages = {"edit": "Your changes are saved.", "approve": "The listing is approved."}
    return await _product_page(
        request, viewer, session, product_id, message=messages.get(saved or "")
    )


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@router.post("/listings/{listing_id}/edit")
async def edit_listing(
    request: Request,
    listing_id: int,
    viewer: Viewer,
    session: WriteSession,
    cache: CacheDep,
    title: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    bullets: Annotated[str, Form()] = "",
    keywords: Annotated[str, Form()] = "",
) -> Response:
    listing = await listing_service.get(session, viewer.workspace_id, listing_id)
    try:
        changes = ListingEdit(
            title=title.strip(),
            description=description.strip(),
            bullets=_lines(bullets),
            keywords=[k.strip() for k in keywords.replace("\n", ",").split(",") if k.strip()],
        )
    except ValidationError as exc:
        errors = {
            str(e["loc"][0]): str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()
        }
        return await _product_page(
            request,
            viewer,
            session,
            listing.product_id,
            field_errors={listing_id: errors},
            status_code=422,
        )
    uow = unit_of_work(session, cache, viewer)
    await listing_service.edit(uow.session, uow.workspace_id, listing_id, changes)
    await uow.commit()
    return RedirectResponse(f"/products/{listing.product_id}?saved=edit", status_code=303)


@router.post("/listings/{listing_id}/approve")
async def approve_listing(
    request: Request, listing_id: int, viewer: Viewer, session: WriteSession, cache: CacheDep
) -> Response:
    listing = await listing_service.get(session, viewer.workspace_id, listing_id)
    product_id = listing.product_id
    uow = unit_of_work(session, cache, viewer)
    try:
        await listing_service.approve(uow.session, uow.workspace_id, listing_id)
    except ListingflowError as exc:
        await uow.rollback()
        return await _product_page(
            request,
            viewer,
            session,
            product_id,
            failure=(listing_id, exc.message),
            status_code=exc.status_code,
        )
    await uow.commit()
    return RedirectResponse(f"/products/{product_id}?saved=approve", status_code=303)
