"""`listingflow import FILE | --url URL`: a progress bar, then a summary of what happened."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from listingflow.auth.service import auth_service
from listingflow.cli.common import database, err, fail, out, run, unit_of_work
from listingflow.exceptions import ListingflowError
from listingflow.importing.pages import page_row
from listingflow.importing.schemas import ImportSummary
from listingflow.importing.service import import_service
from listingflow.integrations.sources.base import SourceReaderError, SourceRow
from listingflow.integrations.sources.files import open_reader
from listingflow.integrations.sources.mapping import load_mapping


class _CountingReader(io.RawIOBase):
    """Counts bytes read so the progress bar can follow a streaming reader through the file."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.consumed += n
        return n

    def seekable(self) -> bool:
        return self._raw.seekable()

    def seek(self, offset: int, whence: int = 0) -> int:
        position = self._raw.seek(offset, whence)
        self.consumed = position
        return position

    def tell(self) -> int:
        return self._raw.tell()


def import_command(
    file: Annotated[Path | None, typer.Argument(help="CSV, TSV, XLSX, JSON or JSONL file")] = None,
    url: Annotated[str | None, typer.Option("--url", help="import a product page URL")] = None,
    workspace: Annotated[str, typer.Option("--workspace", "-w", help="workspace slug")] = "default",
    source_platform: Annotated[
        str | None, typer.Option("--source-platform", "-s", help="set the source platform")
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option("--mapping", "-m", help="column mapping JSON file")
    ] = None,
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv, xlsx, json or jsonl (default: by name)")
    ] = None,
) -> None:
    """Import products from a file or a product page. Exit 0 when every row imported, 1 when
    some rows failed (they are listed), 2 when the file or URL cannot be read at all."""
    if (file is None) == (url is None):
        fail("give a FILE or --url URL (one of them)", code=2)
    platform = source_platform.lower() if source_platform else None
    if url is not None:
        summary = run(lambda: _import_url(url, workspace, platform))
    else:
        assert file is not None
        if not file.is_file():
            fail(f"{file}: no such file", code=2)
        column_mapping = None
        if mapping is not None:
            try:
                column_mapping = load_mapping(mapping)
            except SourceReaderError as exc:
                fail(str(exc), code=2)
        summary = run(lambda: _import_file(file, workspace, platform, column_mapping, file_format))
    _print_summary(summary)
    if summary.failed:
        raise typer.Exit(1)


async def _import_file(
    path: Path, workspace: str, platform: str | None, mapping: Any, file_format: str | None
) -> ImportSummary:
    size = path.stat().st_size  # noqa: ASYNC240 (a CLI: nothing else runs on this loop)
    with path.open("rb") as raw:
        counting = _CountingReader(raw)
        stream = io.BufferedReader(counting, buffer_size=1 << 16)
        try:
            rows = open_reader(
                path, filename=path.name, stream=stream, mapping=mapping, format=file_format
            )
            first = next(rows, None)
        except SourceReaderError as exc:
            fail(f"{path.name}: {exc}", code=2)
        if first is None:
            fail(f"{path.name} has no products", code=2)
        progress = Progress(
            TextColumn("[bold]importing[/bold] {task.fields[rows]:,} rows"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=False,
        )
        with progress:
            task = progress.add_task("import", total=size, rows=0)

            def on_progress(count: int) -> None:
                progress.update(task, completed=counting.consumed, rows=count)

            async with database() as db:
                async with db.session() as session:
                    ws = await auth_service.workspace(session, workspace)
                async with unit_of_work(db, ws.id) as uow:
                    summary = await import_service.import_rows(
                        uow.session,
                        uow.workspace_id,
                        _chain(first, rows),
                        checkpoint=uow.commit,
                        source=f"cli:{path.name}",
                        platform=platform,
                        override_platform=bool(platform),
                        on_progress=on_progress,
                        params={"filename": path.name},
                    )
            progress.update(task, completed=size, rows=summary.total)
    return summary


async def _import_url(url: str, workspace: str, platform: str | None) -> ImportSummary:
    try:
        row = await page_row(url)
    except ListingflowError as exc:
        fail(exc.message, code=2)
    async with database() as db:
        async with db.session() as session:
            ws = await auth_service.workspace(session, workspace)
        async with unit_of_work(db, ws.id) as uow:
            return await import_service.import_rows(
                uow.session,
                uow.workspace_id,
                [row],
                checkpoint=uow.commit,
                source=f"url:{url[:180]}",
                platform=platform,
                override_platform=bool(platform),
                collect_results=True,
            )


def _chain(first: SourceRow, rest: Any) -> Any:
    yield first
    yield from rest


def _print_summary(summary: ImportSummary) -> None:
    table = Table("imported", "updated", "unchanged", "failed", "job", title="import summary")
    table.add_row(
        f"[green]{summary.created:,}[/green]",
        f"{summary.updated:,}",
        f"{summary.unchanged:,}",
        f"[red]{summary.failed:,}[/red]" if summary.failed else "0",
        str(summary.job_id),
    )
    out.print(table)
    if summary.errors:
        errors = Table("row", "field", "problem", title=f"first {len(summary.errors)} errors")
        for e in summary.errors[:50]:
            errors.add_row(str(e.index), e.field or "", e.message)
        out.print(errors)
