"""Pydantic shapes for everything that enters the catalog: the v1 Product and import results."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import pycountry
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_PLATFORM = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,49}$")
_CURRENCIES = frozenset(c.alpha_3 for c in pycountry.currencies)
MAX_PRICE = Decimal("1000000000")
MAX_IMAGES = 100


_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_OPTIONAL_TEXT = ("source_url", "description", "category", "brand")


def _check_url(value: str, field: str) -> str:
    if not _URL.match(value):
        raise ValueError(f"{field} must be an http(s) URL, got {value[:80]!r}")
    if len(value) > 2048:
        raise ValueError(f"{field} is longer than 2048 characters")
    return value


def split_images(text: str) -> list[str]:
    """Several image URLs in one string, separated by whitespace, commas or '|'."""
    return [part for part in re.split(r"[\s,|]+", text) if part]


def _price(value: Any) -> Any:
    if isinstance(value, float):
        # Floats from JSON are read back through their shortest repr, so 19.99 stays 19.99.
        return Decimal(repr(value))
    if isinstance(value, str):
        text = value.strip().replace("\u00a0", "").replace(" ", "")
        if "," in text and "." not in text:
            text = text.replace(",", ".")  # Polish and German exports: 129,99
        try:
            return Decimal(text)
        except InvalidOperation:
            return value  # the field validator reports it
    return value


class ProductIn(BaseModel):
    """A product as every import path accepts it (the v1 contract).

    One pre-validator normalizes the raw dict (blank strings, numeric ids, decimal commas,
    image strings); the field checks that remain run in pydantic-core. Imports validate
    tens of thousands of these per second, so Python-level hops are kept few.
    """

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    source_platform: str = Field(default="allegro", description="Where the product comes from.")
    source_id: str = Field(min_length=1, max_length=255, description="The id on the source.")
    source_url: str | None = Field(default=None, description="http(s) URL of the source page.")
    title: str = Field(min_length=1, max_length=1000)
    description: str | None = Field(default=None, max_length=100_000)
    category: str | None = Field(default=None, max_length=500)
    brand: str | None = Field(default=None, max_length=255)
    price: Decimal = Field(description="> 0, stored exactly; up to 4 decimal places.")
    currency: str = Field(default="PLN", description="ISO 4217 code, e.g. PLN, EUR, USD.")
    images: list[str] = Field(
        default_factory=list, max_length=MAX_IMAGES, description="Image URLs."
    )
    attributes: dict[str, Any] = Field(default_factory=dict, description="Free key/values.")

    @model_validator(mode="before")
    @classmethod
    def _normalize(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for key in _OPTIONAL_TEXT:
            value = data.get(key)
            if isinstance(value, str):
                data[key] = value.strip() or None
        platform = data.get("source_platform")
        if platform is None or (isinstance(platform, str) and not platform.strip()):
            data["source_platform"] = "allegro"
        elif isinstance(platform, str):
            data["source_platform"] = platform.strip().lower()
        source_id = data.get("source_id")
        # n8n and spreadsheets often send numeric ids; 12345 and "12345" are the same product.
        if isinstance(source_id, int) and not isinstance(source_id, bool):
            data["source_id"] = str(source_id)
        if "price" in data:
            data["price"] = _price(data["price"])
        currency = data.get("currency")
        if currency is None or (isinstance(currency, str) and not currency.strip()):
            data["currency"] = "PLN"
        elif isinstance(currency, str):
            data["currency"] = currency.strip().upper()
        images = data.get("images")
        if images is None:
            data["images"] = []
        elif isinstance(images, str):
            data["images"] = split_images(images)
        if data.get("attributes") is None:
            data["attributes"] = {}
        return data

    @field_validator("source_platform")
    @classmethod
    def _platform(cls, value: str) -> str:
        if not _PLATFORM.match(value):
            raise ValueError("must be 1-50 characters of a-z, 0-9, '.', '_' or '-'")
        return value

    @field_validator("source_url")
    @classmethod
    def _source_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value, "source_url")

    @field_validator("price")
    @classmethod
    def _price(cls, value: Decimal) -> Decimal:
        if not value.is_finite():
            raise ValueError("price must be a finite number")
        if value <= 0:
            raise ValueError("price must be greater than 0")
        if value >= MAX_PRICE:
            raise ValueError("price must be below 1,000,000,000")
        exponent = value.normalize().as_tuple().exponent
        if isinstance(exponent, int) and exponent < -4:
            raise ValueError("price may have at most 4 decimal places")
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if value not in _CURRENCIES:
            raise ValueError(f"currency must be an ISO 4217 code such as PLN, got {value!r}")
        return value

    @field_validator("images")
    @classmethod
    def _images(cls, value: list[str]) -> list[str]:
        # Order kept, duplicates dropped: the first image is the main one on every marketplace.
        return list(dict.fromkeys(_check_url(url, "each image") for url in value))


class ItemError(BaseModel):
    """Why one item of an import failed."""

    index: int = Field(description="1-based row, line or list position of the item.")
    field: str | None = Field(description="The field at fault, None for the whole item.")
    message: str


class ItemResult(BaseModel):
    index: int
    source_id: str | None = None
    status: Literal["created", "updated", "unchanged", "failed"]
    product_id: int | None = None
    errors: list[ItemError] = Field(default_factory=list)


class ImportSummary(BaseModel):
    """The outcome of one import: counts plus the first errors (all of them for API batches)."""

    job_id: int | None = None
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[ItemError] = Field(default_factory=list)
    results: list[ItemResult] = Field(default_factory=list)

    @property
    def succeeded(self) -> int:
        return self.created + self.updated + self.unchanged


class BatchImportResponse(BaseModel):
    """v1 batch/webhook answer: status, counts, per-item results, plus the job id."""

    status: Literal["success", "partial", "failed"]
    job_id: int | None
    success_count: int
    failed_count: int
    created: int
    updated: int
    unchanged: int
    results: list[ItemResult] = Field(
        description="One per item for JSON batches and the webhook; empty for file imports."
    )
    errors: list[ItemError] = Field(
        default_factory=list, description=f"The first {1000} item errors, by row or index."
    )

    @classmethod
    def of(cls, summary: ImportSummary) -> BatchImportResponse:
        status: Literal["success", "partial", "failed"] = (
            "success" if not summary.failed else "partial" if summary.succeeded else "failed"
        )
        return cls(
            status=status,
            job_id=summary.job_id,
            success_count=summary.succeeded,
            failed_count=summary.failed,
            created=summary.created,
            updated=summary.updated,
            unchanged=summary.unchanged,
            results=summary.results,
            errors=summary.errors,
        )


class SingleImportResponse(BaseModel):
    status: Literal["success"] = "success"
    product_id: int
    result: Literal["created", "updated", "unchanged"]
    job_id: int | None = None


class UrlImportRequest(BaseModel):
    url: str = Field(description="http(s) URL of a product page (schema.org, OpenGraph).")
    source_platform: str | None = Field(
        default=None, description="Overrides the platform guessed from the host."
    )


class ImportJobOut(BaseModel):
    """v1 import job, plus additive counts and the first errors."""

    id: int
    source: str | None
    status: str
    total_products: int
    processed_products: int
    failed_products: int
    succeeded_products: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[ItemError] = Field(default_factory=list)
    error_summary: str | None = None
    created_at: Any
    completed_at: Any | None
