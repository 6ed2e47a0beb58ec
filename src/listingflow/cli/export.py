"""`listingflow export --to MARKETPLACE --out DIR`: the marketplace's bulk-upload file of the
optimized listings, made without credentials, with what was left out and why."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from listingflow.auth.service import auth_service
from listingflow.cli.common import database, err, fail, out, run
from listingflow.exceptions import ListingflowError
from listingflow.integrations.marketplaces.registry import ExportFile
from listingflow.publication.export import (
    ExportReport,
    NothingToExport,
    check_export_marketplace,
    export_service,
)

WorkspaceOpt = Annotated[str, typer.Option("--workspace", "-w", help="workspace slug")]


def _reasons_table(report: ExportReport) -> Table:
    table = Table("left out", "products", "reason", title=f"not exported to {report.marketplace}")
    for reason, ids in report.reasons():
        shown = ", ".join(str(i) for i in ids[:8]) + (", ..." if len(ids) > 8 else "")
        table.add_row(str(len(ids)), shown, reason)
    return table


def _write(directory: Path, export: ExportFile) -> Path:
    """Write the file whole or not at all (a half-written feed must never be uploaded)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / export.filename
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(export.content)
    os.replace(partial, path)
    return path


def export_command(
    to: Annotated[str, typer.Option("--to", help="amazon, ebay, allegro or kaufland")],
    out_dir: Annotated[Path, typer.Option("--out", help="folder the file is written to")],
    product: Annotated[
        list[int] | None,
        typer.Option("--product", help="only this product id (repeat for more); default all"),
    ] = None,
    workspace: WorkspaceOpt = "default",
) -> None:
    """Write a marketplace's upload file of the optimized listings (no credentials needed).

    Amazon JSON listings feed, eBay bulk inventory JSON, Allegro offers JSON or Kaufland
    product-data CSV; prints what was left out and why, and exits 1 when nothing can be
    exported.
    """
    try:
        marketplace = check_export_marketplace(to, "--to")
    except ListingflowError as exc:
        fail(exc.message, code=2)

    async def go() -> tuple[ExportFile | None, ExportReport, str]:
        async with database() as db, db.session() as session:
            ws = await auth_service.workspace(session, workspace)
            try:
                export, report = await export_service.build(
                    session, ws.id, marketplace, product_ids=product or None
                )
            except NothingToExport as exc:
                return None, exc.report, exc.message
            return export, report, ""

    export, report, problem = run(go)
    if export is None:
        if report.skipped:
            out.print(_reasons_table(report))
        fail(problem)
    path = _write(out_dir, export)
    summary = Table("exported", "left out", "file", title=f"{marketplace} export")
    summary.add_row(str(report.exported), str(len(report.skipped)), str(path))
    out.print(summary)
    if report.skipped:
        out.print(_reasons_table(report))
    err.print(f"{report.exported} listing(s) written to {path}")
