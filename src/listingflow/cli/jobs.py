"""`listingflow worker` (Dramatiq worker processes) and `listingflow jobs list|show|watch`."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from listingflow import config
from listingflow.auth.service import auth_service
from listingflow.cli.common import database, err, fail, out, run
from listingflow.job.schemas import JobOut
from listingflow.job.service import job_items_service, job_service
from listingflow.worker.broker import QUEUES

jobs_app = typer.Typer(help="Background jobs: list, show, watch.", no_args_is_help=True)
WorkspaceOpt = Annotated[str, typer.Option("--workspace", "-w")]


def worker_command(
    processes: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
    threads: Annotated[int, typer.Option(min=1, help="threads per process")] = 8,
    queues: Annotated[str, typer.Option(help="comma-separated queues to consume")] = ",".join(
        QUEUES
    ),
) -> None:
    """Start Dramatiq workers for the configured broker (LISTINGFLOW_BROKER_URL)."""
    if not config.settings.broker_url:
        fail(
            "listingflow worker needs LISTINGFLOW_BROKER_URL (redis://... or amqp://...); "
            "without it jobs run inside `listingflow serve`",
            code=2,
        )
    names = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = sorted(set(names) - set(QUEUES))
    if unknown:
        fail(f"unknown queue(s) {', '.join(unknown)}; queues are {', '.join(QUEUES)}", code=2)
    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    args = make_argument_parser().parse_args(
        [
            "listingflow.worker.entry",
            "--processes",
            str(processes),
            "--threads",
            str(threads),
            "--queues",
            *names,
        ]
    )
    raise typer.Exit(dramatiq_main(args))


def _job_table(jobs: list[JobOut]) -> Table:
    table = Table("id", "kind", "status", "done", "failed", "rate/s", "source", "created")
    for job in jobs:
        table.add_row(
            str(job.id),
            job.kind,
            job.status,
            f"{job.processed}/{job.total}",
            str(job.failed),
            "" if job.rate_per_second is None else f"{job.rate_per_second:g}",
            (job.source or "")[:40],
            job.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    return table


async def _job(workspace: str, job_id: int) -> JobOut:
    async with database() as db, db.session() as session:
        ws = await auth_service.workspace(session, workspace)
        return JobOut.of(await job_service.get(session, ws.id, job_id))


@jobs_app.command("list")
def jobs_list(
    kind: Annotated[str | None, typer.Option(help="import, optimize, ...")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
    workspace: WorkspaceOpt = "default",
) -> None:
    """Recent jobs, newest first."""

    async def go() -> list[JobOut]:
        async with database() as db, db.session() as session:
            ws = await auth_service.workspace(session, workspace)
            jobs = await job_service.recent(session, ws.id, kind=kind, limit=limit)
            return [JobOut.of(job) for job in jobs]

    out.print(_job_table(run(go)))


@jobs_app.command("show")
def jobs_show(job_id: int, workspace: WorkspaceOpt = "default") -> None:
    """One job and its failed items."""

    async def go() -> tuple[JobOut, list[tuple[int | None, str | None, str | None]]]:
        async with database() as db, db.session() as session:
            ws = await auth_service.workspace(session, workspace)
            job = await job_service.get(session, ws.id, job_id)
            failed = await job_items_service.items(
                session, job, status="failed", offset=0, limit=50
            )
            return JobOut.of(job), [(i.product_id, i.marketplace, i.last_error) for i in failed]

    job, failed = run(go)
    out.print(_job_table([job]))
    if failed:
        table = Table("product", "marketplace", "error", title="failed items (first 50)")
        for product_id, marketplace, error in failed:
            table.add_row(str(product_id), marketplace or "", error or "")
        out.print(table)


@jobs_app.command("watch")
def jobs_watch(
    job_id: int,
    workspace: WorkspaceOpt = "default",
    interval: Annotated[float, typer.Option(min=0.1, help="seconds between polls")] = 1.0,
) -> None:
    """A live progress bar until the job finishes."""

    async def go() -> JobOut:
        job = await _job(workspace, job_id)
        progress = Progress(
            TextColumn(f"[bold]job {job_id}[/bold] {{task.fields[status]}}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
        )
        with progress:
            task = progress.add_task("job", total=job.total, status=job.status)
            while True:
                progress.update(task, completed=job.processed, total=job.total, status=job.status)
                if job.status not in ("pending", "running"):
                    return job
                await asyncio.sleep(interval)
                job = await _job(workspace, job_id)

    job = run(go)
    out.print(f"job {job.id} {job.status}: {job.succeeded} succeeded, {job.failed} failed")
    if job.failed:
        raise typer.Exit(1)


def autoscale_command(
    backend: Annotated[
        str, typer.Option(help="local (worker processes here) or command")
    ] = "local",
    command: Annotated[
        str | None, typer.Option(help="for --backend command: template with {replicas}")
    ] = None,
    min_replicas: Annotated[int, typer.Option("--min", min=0)] = 1,
    max_replicas: Annotated[int, typer.Option("--max", min=1)] = 5,
    step: Annotated[int, typer.Option(min=1)] = 1,
    up: Annotated[int, typer.Option(help="scale up above this many waiting")] = 100,
    down: Annotated[int, typer.Option(help="scale down below this many waiting")] = 10,
    cooldown: Annotated[float, typer.Option(min=0, help="seconds between changes")] = 60.0,
    interval: Annotated[float, typer.Option(min=0.5, help="seconds between checks")] = 10.0,
    threads: Annotated[int, typer.Option(min=1, help="threads of each local worker")] = 8,
    queues: Annotated[str, typer.Option(help="queues to count")] = ",".join(QUEUES),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only print decisions")] = False,
    once: Annotated[bool, typer.Option("--once", help="one check, then exit")] = False,
) -> None:
    """Scale workers with the queue: above --up waiting add --step, below --down remove one."""
    import time

    from listingflow.ops.autoscaler import Autoscaler, CommandBackend, LocalBackend, Policy

    broker_url = config.settings.broker_url
    if not broker_url:
        fail("autoscaling needs LISTINGFLOW_BROKER_URL (redis:// or amqp://)", code=2)
    if min_replicas > max_replicas:
        fail("--min must not exceed --max", code=2)
    chosen: LocalBackend | CommandBackend
    if backend == "local":
        chosen = LocalBackend(threads=threads)
    elif backend == "command":
        if not command or "{replicas}" not in command:
            fail("--backend command needs --command with {replicas} in it", code=2)
        chosen = CommandBackend(command, replicas=min_replicas)
    else:
        fail("--backend must be local or command", code=2)
    scaler = Autoscaler(
        broker_url=broker_url,
        queues=tuple(q.strip() for q in queues.split(",") if q.strip()),
        backend=chosen,
        policy=Policy(min_replicas, max_replicas, step, up, down, cooldown),
        dry_run=dry_run,
    )
    try:
        while True:
            decision = scaler.step()
            out.print(decision.reason)
            if once:
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        return
    finally:
        if backend == "local" and not once:
            chosen.close()
