"""`listingflow ops status` (the scaling advisor of a running server), `listingflow stage` (the
growth stage from the database) and `listingflow capacity` (a short self-test on loopback)."""

from __future__ import annotations

import json
import secrets
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from listingflow import config
from listingflow.auth.service import auth_service
from listingflow.cli.common import database, err, fail, out, run, unit_of_work
from listingflow.ops.capacity import CapacityResult, measure
from listingflow.ops.repository import ops_repository
from listingflow.ops.service import ops_service
from listingflow.ops.stage import CAPACITY, STAGES, Activity, StageReport, pick_stage

ops_app = typer.Typer(help="Operations: what to scale, and why.", no_args_is_help=True)

_STYLE = {"healthy": "green", "watch": "yellow", "scale": "bold red", "unknown": "dim"}
GROQ_FREE_RPD = 14_400  # the guide's breaking point: "Groq API 14,400/day"


@ops_app.command("status")
def ops_status(
    url: Annotated[str, typer.Option(help="the running server")] = "http://127.0.0.1:8000",
    token: Annotated[
        str | None, typer.Option(help="metrics token (default: LISTINGFLOW_METRICS_TOKEN)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the JSON")] = False,
) -> None:
    """Ask a running server's advisor what to scale, and why (GET /api/ops/status)."""
    secret = token or (
        config.settings.metrics_token.get_secret_value() if config.settings.metrics_token else ""
    )
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    try:
        response = httpx.get(f"{url.rstrip('/')}/api/ops/status", headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        fail(f"could not reach {url}: {exc}")
    if response.status_code != 200:
        detail = response.json().get("detail", response.text) if response.content else ""
        fail(f"{url} answered {response.status_code}: {detail}")
    body: dict[str, Any] = response.json()
    if as_json:
        out.print_json(json.dumps(body))
        return
    table = Table(
        title=f"Scaling advisor: {body['summary']} "
        f"(window {body['window_seconds']:.0f} s, {body['samples']} samples)"
    )
    table.add_column("signal", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for name in ("now", "guide's lines", "scale what", "why"):
        table.add_column(name)
    for f in body["findings"]:
        style = _STYLE.get(f["status"], "")
        table.add_row(
            f["signal"],
            f"[{style}]{f['status']}[/{style}]",
            f["value"],
            f["threshold"],
            f["target"],
            f["reason"],
        )
    out.print(table)
    if body.get("queues"):
        out.print(
            "queues: "
            + ", ".join(f"{q} {n}" for q, n in body["queues"].items())
            + "   jobs: "
            + ", ".join(f"{s} {n}" for s, n in sorted(body["jobs"].items()))
        )


def stage_command(
    days: Annotated[int, typer.Option(min=1, max=90, help="days of activity to average")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Name the growth stage (the scaling guide's table) from users per day, products per month
    and optimizations per day in the database, with its infrastructure, cost and next trigger."""

    async def go() -> Activity:
        async with database() as db:
            return await ops_service.activity(db, days=days)

    activity = run(go)
    report = pick_stage(activity)
    if as_json:
        out.print_json(json.dumps(_stage_json(activity, report)))
        return
    table = Table(
        "stage",
        "users/day",
        "products/month",
        "monthly cost",
        "infrastructure",
        title="Growth stages (scaling guide)",
    )
    for stage in STAGES:
        here = stage is report.stage
        table.add_row(
            ("▶ " if here else "  ") + stage.name,
            stage.users_per_day,
            stage.products_per_month,
            stage.monthly_cost,
            stage.infrastructure,
            style="bold green" if here else None,
        )
    out.print(table)
    out.print(
        f"Measured (last {days} days): {activity.users_per_day:,} users/day, "
        f"{activity.products_per_month:,} products in the last 30 days, "
        f"{activity.optimizations_per_day:,} optimizations/day."
    )
    out.print(
        f"Stage: [bold]{report.stage.name}[/bold] ({report.stage.infrastructure}, "
        f"{report.stage.monthly_cost}/month); by users {report.by_users.name}, by products "
        f"{report.by_products.name}."
    )
    out.print(f"Next trigger: {report.next_trigger}.")
    rpd = config.settings.llm_rpd
    if rpd:
        out.print(
            f"Optimizations/day against the LLM's daily request limit: "
            f"{activity.optimizations_per_day:,} of {rpd:,} (the guide's free Groq tier breaks "
            f"at {GROQ_FREE_RPD:,}/day)."
        )
    err.print(
        "[dim]users/day: workspaces active per day (products, jobs, listings, API keys) or web "
        "users signed in, whichever is larger; there is no per-request log.[/dim]"
    )


def _stage_json(activity: Activity, report: StageReport) -> dict[str, Any]:
    return {
        "users_per_day": activity.users_per_day,
        "products_per_month": activity.products_per_month,
        "optimizations_per_day": activity.optimizations_per_day,
        "stage": report.stage.name,
        "by_users": report.by_users.name,
        "by_products": report.by_products.name,
        "infrastructure": report.stage.infrastructure,
        "monthly_cost": report.stage.monthly_cost,
        "next_stage": report.next_stage.name if report.next_stage else None,
        "next_trigger": report.next_trigger,
    }


def capacity_command(
    seconds: Annotated[float, typer.Option(min=1, max=60, help="seconds of load")] = 5.0,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="concurrent clients")] = 16,
    workspace: Annotated[str, typer.Option("--workspace", "-w")] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Measure this installation on loopback for a few seconds (read-only requests against the
    configured database) and print it beside the guide's capacity table."""

    async def prepare() -> tuple[int, int, str, list[str], list[Any]]:
        async with database() as db, db.session() as session:
            ws = await auth_service.get_or_create_workspace(session, workspace)
            key_row, key = await auth_service.create_api_key(
                session, ws.id, name=f"capacity self-test {secrets.token_hex(3)}"
            )
            products = await ops_repository.sample_products(session, 50)
            await session.commit()
            paths = ["/api/products/stats/summary", "/api/products?page_size=20", "/health"]
            mine = [p for p in products if p.workspace_id == ws.id]
            if mine:
                paths.append(f"/api/products/{mine[0].id}")
            return ws.id, key_row.id, key, paths, products

    async def revoke(workspace_id: int, key_id: int) -> None:
        async with database(migrate=False) as db, unit_of_work(db, workspace_id) as uow:
            await auth_service.revoke_api_key(uow.session, workspace_id, key_id)
            await uow.commit()  # moves the workspace's generation: the key stops at once

    workspace_id, key_id, key, paths, products = run(prepare)
    settings = config.settings
    llm_rpm = settings.llm_rpm if settings.llm_api_key is not None else None
    try:
        err.print(f"measuring for {seconds:g} s with {concurrency} clients on loopback ...")
        result = measure(
            key, paths, products, seconds=seconds, concurrency=concurrency, llm_rpm=llm_rpm
        )
    except RuntimeError as exc:
        fail(str(exc))
    finally:
        run(lambda: revoke(workspace_id, key_id))
    if as_json:
        out.print_json(json.dumps(_capacity_json(result)))
        return
    _print_capacity(result, paths)


def _capacity_json(r: CapacityResult) -> dict[str, Any]:
    return {
        "seconds": round(r.seconds, 2),
        "concurrency": r.concurrency,
        "requests": r.requests,
        "errors": r.errors,
        "p95_ms": r.p95_ms,
        "requests_per_minute": round(r.requests_per_minute),
        "db_queries_per_second": round(r.db_queries_per_second, 1),
        "optimizations_per_minute": round(r.optimizations_per_minute),
        "concurrent_users": round(r.concurrent_users),
        "guide": [
            {
                "plan": row.plan,
                "requests_per_minute": row.requests_per_minute,
                "db_queries_per_second": row.db_queries_per_second,
                "optimizations_per_minute": row.optimizations_per_minute,
                "concurrent_users": row.concurrent_users,
            }
            for row in CAPACITY
        ],
    }


def _print_capacity(r: CapacityResult, paths: list[str]) -> None:
    table = Table("", "measured here", *(row.plan for row in CAPACITY), title="Capacity")
    table.add_row(
        "API requests/minute",
        f"{r.requests_per_minute:,.0f}",
        *(f"~{row.requests_per_minute:,}" for row in CAPACITY),
    )
    table.add_row(
        "database queries/second",
        f"{r.db_queries_per_second:,.0f}",
        *(f"~{row.db_queries_per_second:,}" for row in CAPACITY),
    )
    table.add_row(
        "optimizations/minute",
        f"{r.optimizations_per_minute:,.0f}" + (" (LLM RPM)" if r.llm_rpm else " (offline)"),
        *(f"~{row.optimizations_per_minute:,}" for row in CAPACITY),
    )
    table.add_row(
        "concurrent users",
        f"{r.concurrent_users:,.0f}",
        *(f"~{row.concurrent_users:,}" for row in CAPACITY),
    )
    out.print(table)
    p95 = f"{r.p95_ms:.0f} ms" if r.p95_ms is not None else "-"
    out.print(
        f"{r.requests:,} requests in {r.seconds:.1f} s from {r.concurrency} clients "
        f"({r.errors} errors, p95 {p95}) over {', '.join(paths)}. One server process on this "
        "machine, client included; concurrent users = requests/s x 3 s, the guide's own ratio."
    )
