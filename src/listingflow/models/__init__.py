"""Every table, one module each; importing this package registers them all on Base.metadata."""

from listingflow.kit.models import Base
from listingflow.models.api_key import ApiKey
from listingflow.models.audit_event import AuditEvent
from listingflow.models.job import Job, JobKind, JobStatus
from listingflow.models.job_item import FINISHED_ITEM_STATUSES, JobItem, JobItemStatus
from listingflow.models.listing import Listing, ListingStatus
from listingflow.models.llm_usage import LlmUsage
from listingflow.models.marketplace_connection import ConnectionStatus, MarketplaceConnection
from listingflow.models.product import Product, ProductStatus
from listingflow.models.publish_attempt import PublishAttempt
from listingflow.models.user import User
from listingflow.models.webhook_delivery import WebhookDelivery
from listingflow.models.webhook_secret import WebhookSecret
from listingflow.models.workspace import DEFAULT_WORKSPACE_SLUG, Workspace

__all__ = [
    "DEFAULT_WORKSPACE_SLUG",
    "FINISHED_ITEM_STATUSES",
    "ApiKey",
    "AuditEvent",
    "Base",
    "ConnectionStatus",
    "Job",
    "JobItem",
    "JobItemStatus",
    "JobKind",
    "JobStatus",
    "Listing",
    "ListingStatus",
    "LlmUsage",
    "MarketplaceConnection",
    "Product",
    "ProductStatus",
    "PublishAttempt",
    "User",
    "WebhookDelivery",
    "WebhookSecret",
    "Workspace",
]
