"""Collects every domain's router."""

from fastapi import APIRouter

from listingflow.audit.endpoints import router as audit_router
from listingflow.importing.endpoints import router as import_router
from listingflow.job.endpoints import router as job_router
from listingflow.listing.endpoints import router as listing_router
from listingflow.ops.endpoints import router as ops_router
from listingflow.optimization.endpoints import router as optimization_router
from listingflow.product.endpoints import router as product_router
from listingflow.publication.endpoints import router as publication_router
from listingflow.publication.export_endpoints import router as export_router

router = APIRouter()
router.include_router(ops_router)
router.include_router(import_router)
router.include_router(product_router)
router.include_router(listing_router)
router.include_router(optimization_router)
router.include_router(job_router)
router.include_router(publication_router)
router.include_router(audit_router)
router.include_router(export_router)
