"""Listing routes: a product's listings, hand edits, validation, approval."""

from __future__ import annotations

from fastapi import APIRouter

from listingflow.deps import ReadSession, Uow, WorkspaceId
from listingflow.listing.schemas import ListingEdit, ListingOut, ValidationOut
from listingflow.listing.service import listing_service

router = APIRouter(tags=["listings"])


@router.get(
    "/api/products/{product_id}/listings",
    response_model=list[ListingOut],
    summary="A product's listings, one per marketplace",
)
async def product_listings(
    product_id: int, session: ReadSession, workspace_id: WorkspaceId
) -> list[ListingOut]:
    product, listings = await listing_service.for_product(session, workspace_id, product_id)
    return [ListingOut.of(item, product_hash=product.content_hash) for item in listings]


@router.post(
    "/api/listings/{listing_id}/validate",
    response_model=ValidationOut,
    summary="Check a listing against its marketplace's rules",
)
async def validate_listing(listing_id: int, uow: Uow) -> ValidationOut:
    listing = await listing_service.validate(uow.session, uow.workspace_id, listing_id)
    await uow.commit()
    out = ListingOut.of(listing)
    return ValidationOut(
        listing_id=listing.id,
        marketplace=listing.marketplace,
        valid=not any(i.severity == "error" for i in out.issues),
        issues=out.issues,
        score=listing.score,
    )


@router.patch("/api/listings/{listing_id}", response_model=ListingOut, summary="Edit by hand")
async def edit_listing(listing_id: int, changes: ListingEdit, uow: Uow) -> ListingOut:
    listing = await listing_service.edit(uow.session, uow.workspace_id, listing_id, changes)
    await uow.commit()
    return ListingOut.of(listing)


@router.post(
    "/api/listings/{listing_id}/approve",
    response_model=ListingOut,
    summary="Approve for publishing (refused while the listing has errors)",
)
async def approve_listing(listing_id: int, uow: Uow) -> ListingOut:
    listing = await listing_service.approve(uow.session, uow.workspace_id, listing_id)
    await uow.commit()
    return ListingOut.of(listing)
