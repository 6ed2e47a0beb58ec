"""Publication I/O: connections (never with secrets), publish requests and results, history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from listingflow.models import JobItem, PublishAttempt

V1_ITEM_STATUS = {"succeeded": "success", "failed": "failed", "cancelled": "cancelled"}


class ConnectionIn(BaseModel):
    marketplace: str = Field(description="amazon, ebay, allegro or kaufland")
    name: str = Field(default="default", min_length=1, max_length=100)
    credentials: dict[str, str] = Field(
        description="the marketplace's credential fields (GET /api/connections/fields); secret "
        "ones are encrypted at rest and never returned"
    )
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="optional: base_url / auth_url (a sandbox or test host), rate (requests/s), "
        "sandbox (true), and client options",
    )


class ConnectionOut(BaseModel):
    id: int
    marketplace: str
    name: str
    status: str = Field(description="untested, connected, or broken (reconnect)")
    fields: dict[str, str] = Field(description="the non-secret credential fields")
    secret_fields: list[str] = Field(description="names of the stored secret fields (no values)")
    settings: dict[str, Any]
    last_error: str | None
    checked_at: datetime | None
    created_at: datetime


class PublishItemOut(BaseModel):
    product_id: int
    status: str = Field(description="success, failed, or queued (still running)")
    sku: str | None = None
    remote_id: str | None = None
    publication_status: str | None = Field(
        default=None, description="what the marketplace said: published, accepted, valid..."
    )
    price: str | None = None
    currency: str | None = None
    issues: list[dict[str, Any]] = Field(default_factory=list)
    error: str | None = None

    @classmethod
    def of(cls, item: JobItem) -> PublishItemOut:
        result = item.result or {}
        return cls(
            product_id=item.product_id or 0,
            status=V1_ITEM_STATUS.get(item.status, "queued"),
            sku=result.get("sku"),
            remote_id=result.get("remote_id"),
            publication_status=result.get("status"),
            price=result.get("price"),
            currency=result.get("currency"),
            issues=result.get("issues") or [],
            error=item.last_error if item.status == "failed" else None,
        )


class PublishOneResponse(PublishItemOut):
    marketplace: str
    job_id: int
    dry_run: bool


class BulkPublishRequest(BaseModel):
    job_type: str = Field(default="publish", description="v1 field; only 'publish' is known")
    target_marketplace: str
    product_ids: list[int] = Field(min_length=1)
    connection: str | None = Field(default=None, description="connection name (default: the one)")
    dry_run: bool = Field(default=False, description="validate on the marketplace, publish nothing")


class BulkPublishResponse(BaseModel):
    status: str = Field(description="success, partial, failed, or running")
    job_id: int
    marketplace: str
    success_count: int
    failed_count: int
    queued_count: int
    results: list[PublishItemOut]


class PublishAttemptOut(BaseModel):
    id: int
    marketplace: str
    mode: str
    status: str
    sku: str | None
    remote_id: str | None
    http_status: int | None
    issues: list[dict[str, Any]]
    request_summary: dict[str, Any]
    price: dict[str, Any]
    error: str | None
    job_id: int | None
    created_at: datetime

    @classmethod
    def of(cls, row: PublishAttempt) -> PublishAttemptOut:
        return cls.model_validate(row, from_attributes=True)
