"""Export mode: a marketplace's bulk-upload file from the optimized listings, needing no
credentials, and an account of every product left out and why.

Each product's listing for the marketplace is checked against the marketplace's rules again
(a rule may have changed since it was written), priced by the operator's pricing rules, turned
into an Offer and written by the marketplace's own file writer (registry.export_file). Products
are read a chunk at a time (one statement each) and let go of once turned into offers; the file
itself is written in memory by the writer, whole (10,000 Amazon listings: 12 s, 450 MB peak).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow.exceptions import BadRequest, Conflict, ValidationFailed
from listingflow.integrations.marketplaces import registry
from listingflow.integrations.marketplaces.base import Offer
from listingflow.integrations.marketplaces.kaufland import STOREFRONTS
from listingflow.listing.service import listing_service
from listingflow.models import Listing, Product
from listingflow.publication.connections import connection_service
from listingflow.publication.export_repository import export_repository
from listingflow.publication.offers import offer_for
from listingflow.publication.pricing import pricing_service
from listingflow.rules.pricing import PriceRule, PricingError, quote
from listingflow.rules.types import Severity

log = structlog.get_logger()

CHUNK = 500
# The connection fields each marketplace's file writer takes as options (all non-secret).
EXPORT_SETTINGS: dict[str, tuple[str, ...]] = {
    "amazon": ("seller_id", "marketplace_id", "region"),
    "ebay": ("marketplace_id",),
    "allegro": (),
    "kaufland": ("storefront",),
}
# Amazon takes at most 25,000 messages in one JSON_LISTINGS_FEED: more become a zip of feeds.
MAX_PER_FILE: dict[str, int] = {"amazon": 25_000}


@dataclass(frozen=True, slots=True)
class Skipped:
    product_id: int
    reason: str
    sku: str | None = None


@dataclass(slots=True)
class ExportReport:
    """What went into the file and what was left out, with the reason for each."""

    marketplace: str
    exported: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    filename: str | None = None

    def skip(self, product_id: int, reason: str, sku: str | None = None) -> None:
        self.skipped.append(Skipped(product_id, reason, sku))

    def reasons(self) -> list[tuple[str, list[int]]]:
        """Each reason with the products it left out, the most frequent first."""
        grouped: dict[str, list[int]] = {}
        for item in self.skipped:
            grouped.setdefault(item.reason, []).append(item.product_id)
        return sorted(grouped.items(), key=lambda pair: -len(pair[1]))

    def summary(self, top: int = 3) -> str:
        parts = [f"{len(ids)} {reason}" for reason, ids in self.reasons()[:top]]
        more = len(self.reasons()) - top
        return "; ".join(parts) + (f"; and {more} other reason(s)" if more > 0 else "")


class NothingToExport(Conflict):
    """Every product was left out (or there are none): the report says why."""

    def __init__(self, report: ExportReport) -> None:
        count = len(report.skipped)
        if count:
            message = (
                f"nothing to export to {report.marketplace}: {count} product(s) left out "
                f"({report.summary()})"
            )
        else:
            message = f"nothing to export to {report.marketplace}: there are no products"
        errors = [
            {"field": f"products.{item.product_id}", "message": item.reason}
            for item in report.skipped[:100]
        ]
        super().__init__(message, errors=errors)
        self.report = report


def check_export_marketplace(marketplace: str | None, field_name: str = "marketplace") -> str:
    value = (marketplace or "").strip().lower()
    if value not in registry.PUBLISHABLE:
        raise BadRequest(
            f"cannot export for {marketplace!r}; use one of {', '.join(registry.PUBLISHABLE)}",
            field=field_name,
        )
    return value


def _blocking(listing: Listing, product: Product) -> list[str]:
    issues, _ = listing_service.assess(listing, product)
    return [issue.message for issue in issues if issue.severity is Severity.ERROR]


def _check_options(marketplace: str, options: Mapping[str, Any]) -> None:
    """Options the writer refuses (an unknown Amazon marketplace id): a 422 before any work."""
    try:
        registry.export_file(marketplace, [], options)
    except (ValueError, TypeError) as exc:  # a bad option value, or an option it does not take
        raise ValidationFailed(str(exc), field="options") from exc


def _write(
    marketplace: str, offers: Sequence[Offer], options: Mapping[str, Any]
) -> registry.ExportFile:
    """One file; over the marketplace's per-file limit, a zip of files (name-1.json ...)."""
    size = MAX_PER_FILE.get(marketplace)
    if size is None or len(offers) <= size:
        return registry.export_file(marketplace, offers, options)
    buffer = io.BytesIO()
    filename = ""
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for n, start in enumerate(range(0, len(offers), size), start=1):
            part = registry.export_file(marketplace, offers[start : start + size], options)
            path = PurePosixPath(part.filename)
            filename = path.stem
            archive.writestr(f"{path.stem}-{n}{path.suffix}", part.content)
    return registry.ExportFile(buffer.getvalue(), f"{filename}.zip", "application/zip")


class ExportService:
    async def options(
        self, session: AsyncSession, workspace_id: int, marketplace: str
    ) -> dict[str, Any]:
        """The file writer's options from the workspace's connection (when there is one)."""
        connection = await connection_service.pick(session, workspace_id, marketplace, None)
        if connection is None:
            return {}
        fields = connection.settings.get("fields", {})
        return {
            name: fields[name]
            for name in EXPORT_SETTINGS.get(marketplace, ())
            if str(fields.get(name) or "").strip()
        }

    async def build(
        self,
        session: AsyncSession,
        workspace_id: int,
        marketplace: str,
        *,
        product_ids: Sequence[int] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> tuple[registry.ExportFile, ExportReport]:
        """The marketplace's file for every product (or `product_ids`) whose listing passes the
        rules and prices; raises NothingToExport (409) when no product could go in."""
        marketplace = check_export_marketplace(marketplace)
        settings = {**await self.options(session, workspace_id, marketplace), **(options or {})}
        _check_options(marketplace, settings)
        report = ExportReport(marketplace)
        try:
            rule, rates, pricing_problem = (
                pricing_service.rule(marketplace),
                pricing_service.rates(),
                None,
            )
        except PricingError as exc:  # a broken rule or rates table: every item says so
            rule, rates, pricing_problem = PriceRule(), {}, str(exc)
        storefront = str(settings.get("storefront", "de")).lower()
        offers: list[Offer] = []
        first_with: dict[str, int] = {}  # sku -> the product that has it
        rows = self._rows(session, workspace_id, marketplace, product_ids, report)
        async for product, listing in rows:
            if listing is None:
                report.skip(product.id, f"not optimized for {marketplace}")
                continue
            errors = _blocking(listing, product)
            if errors:
                report.skip(product.id, "the listing breaks the rules: " + "; ".join(errors[:3]))
                continue
            if pricing_problem:
                report.skip(product.id, pricing_problem)
                continue
            try:
                price = quote(product.price, product.currency, rule, rates)
            except PricingError as exc:
                report.skip(product.id, str(exc))
                continue
            if price.held_back:
                report.skip(product.id, price.held_back)
                continue
            offer = offer_for(product, listing, price)
            if offer.sku in first_with:
                report.skip(
                    product.id,
                    f"SKU {offer.sku} is product {first_with[offer.sku]}'s too: give one of them "
                    "its own sku attribute",
                    offer.sku,
                )
                continue
            if marketplace == "kaufland":
                # Kaufland's file names the storefront's currency: a price in another would
                # be read as if it were in that currency.
                wanted = STOREFRONTS.get(storefront, (offer.currency,))[0]
                if offer.currency != wanted:
                    report.skip(
                        product.id,
                        f"priced in {offer.currency}, but the Kaufland {storefront} storefront "
                        f"sells in {wanted}: set pricing_rules.kaufland.currency to {wanted}",
                        offer.sku,
                    )
                    continue
            first_with[offer.sku] = product.id
            offers.append(offer)
        if not offers:
            raise NothingToExport(report)
        try:
            export = _write(marketplace, offers, settings)
        except ValueError:
            # The writer refused an offer it cannot write (a Kaufland product without an EAN):
            # each is tried alone to find which, then the file is written without them.
            offers = self._writable(marketplace, offers, settings, first_with, report)
            if not offers:
                raise NothingToExport(report) from None
            try:
                export = _write(marketplace, offers, settings)
            except ValueError as exc:
                raise ValidationFailed(str(exc), field="options") from exc
        report.exported = len(offers)
        report.filename = export.filename
        log.info(
            "export.built",
            marketplace=marketplace,
            exported=report.exported,
            skipped=len(report.skipped),
            bytes=len(export.content),
        )
        return export, report

    async def _rows(
        self,
        session: AsyncSession,
        workspace_id: int,
        marketplace: str,
        product_ids: Sequence[int] | None,
        report: ExportReport,
    ) -> AsyncIterator[tuple[Product, Listing | None]]:
        """(product, listing or None) in id order, a chunk per statement; ids asked for that
        are not the workspace's products are reported as not found."""
        wanted = sorted(set(product_ids)) if product_ids is not None else None
        batches: Iterable[Sequence[int] | None] = (
            [wanted[i : i + CHUNK] for i in range(0, len(wanted), CHUNK)]
            if wanted is not None
            else [None]
        )
        for batch in batches:
            after = 0
            seen: set[int] = set()
            while True:
                rows = await export_repository.chunk(
                    session,
                    workspace_id,
                    marketplace,
                    after_id=after,
                    limit=CHUNK,
                    product_ids=batch,
                )
                for product, listing in rows:
                    seen.add(product.id)
                    yield product, listing
                for product, listing in rows:  # done with them: let the session forget them
                    session.expunge(product)
                    if listing is not None:
                        session.expunge(listing)
                if len(rows) < CHUNK:
                    break
                after = rows[-1][0].id
            for missing in sorted(set(batch or ()) - seen):
                report.skip(missing, "product not found")

    def _writable(
        self,
        marketplace: str,
        offers: list[Offer],
        options: Mapping[str, Any],
        product_of: Mapping[str, int],
        report: ExportReport,
    ) -> list[Offer]:
        """The offers the file writer takes alone; the others are reported with its reason."""
        kept: list[Offer] = []
        for offer in offers:
            try:
                registry.export_file(marketplace, [offer], options)
            except ValueError as exc:
                report.skip(product_of[offer.sku], str(exc), offer.sku)
                continue
            kept.append(offer)
        return kept


export_service = ExportService()
