"""`listingflow optimize` and `listingflow validate`: listings for many products, with a summary."""

from __future__ import annotations

from statistics import mean
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow.auth.service import auth_service
from listingflow.cli.common import database, err, fail, out, run, unit_of_work
from listingflow.exceptions import ListingflowError
from listingflow.kit.cache import MemoryCache
from listingflow.listing.service import listing_service
from listingflow.optimization.service import check_engine, check_marketplace
from listingflow.product.repository import ProductFilter
from listingflow.product.service import product_service

Marketplaces = Annotated[
    str, typer.Option("--to", help="comma-separated marketplaces, e.g. amazon,ebay")
]
Status = Annotated[str | None, typer.Option(help="only products with this status")]
Limit = Annotated[int, typer.Option(min=1, help="at most this many products")]
WorkspaceOpt = Annotated[str, typer.Option("--workspace", "-w")]


def _marketplaces(value: str) -> list[str]:
    try:
        return [check_marketplace(m, "--to") for m in value.split(",") if m.strip()]
    except ListingflowError as exc:
        fail(exc.message, code=2)


async def _product_ids(
    session: AsyncSession, workspace_id: int, status: str | None, limit: int
) -> list[int]:
    ids: list[int] = []
    cursor: str | None = None
    while len(ids) < limit:
        page = await product_service.list_products(
            session,
            workspace_id,
            cache=MemoryCache(),
            flt=ProductFilter(status=status),
            page_size=min(100, limit - len(ids)),
            cursor=cursor,
        )
        ids += [p.id for p in page.rows]
        cursor = page.next_cursor
        if not cursor:
            break
    return ids


def optimize_command(
    to: Marketplaces,
    engine: Annotated[str, typer.Option(help="offline (default) or llm")] = "offline",
    status: Status = None,
    limit: Limit = 1_000_000,
    workspace: WorkspaceOpt = "default",
) -> None:
    """Optimize products for each marketplace; prints mean score before/after and issues."""
    marketplaces = _marketplaces(to)
    try:
        engine = check_engine(engine)
    except ListingflowError as exc:
        fail(exc.message, code=2)

    async def go() -> dict[str, dict[str, list[int]]]:
        stats: dict[str, dict[str, list[int]]] = {
            m: {"before": [], "after": [], "errors": [], "warnings": []} for m in marketplaces
        }
        async with database() as db:
            async with db.session() as session:
                ws = await auth_service.workspace(session, workspace)
                ids = await _product_ids(session, ws.id, status, limit)
            progress = Progress(
                TextColumn("[bold]optimizing[/bold]"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
            )
            with progress:
                task = progress.add_task("optimize", total=len(ids) * len(marketplaces))
                async with unit_of_work(db, ws.id) as uow:
                    for n, product_id in enumerate(ids, start=1):
                        for marketplace in marketplaces:
                            _, listing = await listing_service.optimize(
                                uow.session,
                                uow.workspace_id,
                                product_id,
                                marketplace,
                                engine=engine,
                                cache=uow.cache,
                            )
                            row = stats[marketplace]
                            row["before"].append(listing.score_before or 0)
                            row["after"].append(listing.score)
                            severities = [i["severity"] for i in listing.issues]
                            row["errors"].append(severities.count("error"))
                            row["warnings"].append(severities.count("warning"))
                            progress.advance(task)
                        if n % 500 == 0:
                            await uow.commit()
                    await uow.commit()
        return stats

    stats = run(go)
    table = Table(
        "marketplace",
        "listings",
        "score before",
        "score after",
        "with errors",
        "warnings",
        title="optimization summary",
    )
    for marketplace, row in stats.items():
        count = len(row["after"])
        table.add_row(
            marketplace,
            str(count),
            f"{mean(row['before']):.1f}" if count else "-",
            f"{mean(row['after']):.1f}" if count else "-",
            str(sum(1 for e in row["errors"] if e)),
            str(sum(row["warnings"])),
        )
    out.print(table)


def validate_command(
    to: Marketplaces,
    status: Status = None,
    limit: Limit = 1_000_000,
    workspace: WorkspaceOpt = "default",
) -> None:
    """Check existing listings against their marketplace's rules; exit 1 when any has errors."""
    marketplaces = _marketplaces(to)

    async def go() -> list[tuple[int, str, str, str]]:
        problems: list[tuple[int, str, str, str]] = []
        async with database() as db:
            async with db.session() as session:
                ws = await auth_service.workspace(session, workspace)
                ids = await _product_ids(session, ws.id, status, limit)
            async with unit_of_work(db, ws.id) as uow:
                grouped = await listing_service.by_product(uow.session, ws.id, ids)
                for product_id in ids:
                    for listing in grouped.get(product_id, []):
                        if listing.marketplace not in marketplaces:
                            continue
                        checked = await listing_service.validate(uow.session, ws.id, listing.id)
                        problems += [
                            (product_id, listing.marketplace, i["severity"], i["message"])
                            for i in checked.issues
                            if i["severity"] == "error"
                        ]
                await uow.commit()
        return problems

    problems = run(go)
    if not problems:
        out.print("every listing passes its marketplace's rules")
        return
    table = Table("product", "marketplace", "severity", "problem", title="listings with errors")
    for row in problems[:200]:
        table.add_row(str(row[0]), row[1], row[2], row[3])
    out.print(table)
    raise typer.Exit(1)
