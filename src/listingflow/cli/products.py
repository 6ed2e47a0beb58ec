"""`listingflow products list`: the catalog in a table."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from listingflow.auth.service import auth_service
from listingflow.cli.common import database, out, run
from listingflow.kit.cache import MemoryCache
from listingflow.kit.models import normalize_money
from listingflow.product.repository import ProductFilter
from listingflow.product.schemas import ProductRows
from listingflow.product.service import product_service

products_app = typer.Typer(help="Browse the catalog.", no_args_is_help=True)


@products_app.command("list")
def list_products(
    status: Annotated[str | None, typer.Option(help="imported, optimized, published, ...")] = None,
    source: Annotated[str | None, typer.Option(help="source platform")] = None,
    q: Annotated[str | None, typer.Option("--search", "-q", help="title or source id")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
    workspace: Annotated[str, typer.Option("--workspace", "-w")] = "default",
) -> None:
    """The newest products first."""

    async def go() -> ProductRows:
        async with database() as db, db.session() as session:
            ws = await auth_service.workspace(session, workspace)
            return await product_service.list_products(
                session,
                ws.id,
                cache=MemoryCache(),
                flt=ProductFilter(status=status, source_platform=source, q=q),
                page_size=limit,
            )

    page = run(go)
    table = Table("id", "source", "source id", "title", "price", "status", "score")
    for p in page.rows:
        table.add_row(
            str(p.id),
            p.source_platform,
            p.source_id,
            p.title[:60],
            f"{normalize_money(p.price)} {p.currency}",
            p.status,
            "" if p.optimization_score is None else str(p.optimization_score),
        )
    out.print(table)
    out.print(f"{len(page.rows)} of {page.total} products")
