"""`listingflow connect MARKETPLACE` and `listingflow connections list|remove`: marketplace
accounts, credentials stored encrypted, each tested when saved.

Credentials come from `--set field=value`, from `LISTINGFLOW_<MARKETPLACE>_<FIELD>` variables
(non-interactive use), or are asked for (secret ones with hidden input). An Allegro connection
without a refresh token runs Allegro's device flow: a person confirms a code on Allegro's page.
Secrets are never printed or logged; what is shown of a connection is its public view.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from listingflow.auth.service import auth_service
from listingflow.cli.common import database, err, fail, out, run, unit_of_work
from listingflow.integrations.marketplaces import registry
from listingflow.integrations.marketplaces.allegro import (
    DeviceCode,
    poll_device_flow,
    start_device_flow,
)
from listingflow.integrations.marketplaces.base import MarketplaceError
from listingflow.publication.connections import connection_service

WorkspaceOpt = Annotated[str, typer.Option("--workspace", "-w", help="workspace slug")]
connections_app = typer.Typer(help="Marketplace connections: list, remove.", no_args_is_help=True)


def _interactive() -> bool:
    """Ask for missing fields only at a terminal; scripts give them all via --set or env."""
    return sys.stdin.isatty()


def _env_name(marketplace: str, field: str) -> str:
    return f"LISTINGFLOW_{marketplace}_{field}".upper()


def _parse_sets(values: list[str], marketplace: str, fields: tuple[str, ...]) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            fail(f"--set takes field=value, e.g. --set {fields[0]}=...", code=2)
        if name not in fields:
            fail(
                f"{marketplace} has no credential field {name!r}; its fields are "
                f"{', '.join(fields)}",
                code=2,
            )
        parsed[name] = value
    return parsed


def gather_credentials(
    marketplace: str, given: list[str], *, interactive: bool
) -> tuple[dict[str, str], tuple[str, ...]]:
    """Values from --set, then the environment, then prompts (only at a terminal)."""
    fields, secret_fields = registry.credential_fields(marketplace)
    values = _parse_sets(given, marketplace, fields)
    for name in fields:
        if name not in values and os.environ.get(_env_name(marketplace, name)):
            values[name] = os.environ[_env_name(marketplace, name)]
    device_flow = marketplace == "allegro"
    for name in fields:
        if name in values or not interactive:
            continue
        if device_flow and name == "refresh_token":
            continue  # the device flow brings it
        secret = name in secret_fields
        answer = typer.prompt(
            f"{marketplace} {name}" + (" (hidden)" if secret else "") + " (empty to skip)",
            default="",
            show_default=False,
            hide_input=secret,
        )
        if str(answer).strip():
            values[name] = str(answer).strip()
    return values, secret_fields


async def allegro_device_flow(
    credentials: dict[str, str], *, auth_url: str | None, sandbox: bool
) -> str:
    """Allegro's device flow: print where to confirm, wait for the person; the refresh token."""
    client_id, client_secret = credentials.get("client_id"), credentials.get("client_secret")
    if not client_id or not client_secret:
        fail("allegro needs client_id and client_secret to start the device flow", code=2)
    device: DeviceCode = await start_device_flow(
        client_id, client_secret, auth_url=auth_url, sandbox=sandbox
    )
    err.print(
        f"Open [bold]{device.verification_uri_complete}[/bold] and confirm the code "
        f"[bold]{device.user_code}[/bold] (waiting up to {int(device.expires_in)} s)"
    )
    tokens = await poll_device_flow(
        client_id, client_secret, device, auth_url=auth_url, sandbox=sandbox
    )
    err.print("Allegro confirmed the connection")
    return tokens.refresh_token


def _public_table(rows: list[dict[str, Any]], title: str) -> Table:
    table = Table(
        "id", "marketplace", "name", "status", "fields", "checked", "last error", title=title
    )
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["marketplace"],
            row["name"],
            row["status"],
            ", ".join(f"{k}={v}" for k, v in sorted(row["fields"].items())),
            row["checked_at"].strftime("%Y-%m-%d %H:%M") if row["checked_at"] else "-",
            row["last_error"] or "",
        )
    return table


def connect_command(
    marketplace: Annotated[str, typer.Argument(help="amazon, ebay, allegro or kaufland")],
    name: Annotated[str, typer.Option("--name", help="a name for this account")] = "default",
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="a credential, field=value (repeat for more)"),
    ] = None,
    base_url: Annotated[str | None, typer.Option(help="API root (sandboxes, tests)")] = None,
    auth_url: Annotated[str | None, typer.Option(help="OAuth host (sandboxes, tests)")] = None,
    sandbox: Annotated[bool, typer.Option(help="use the marketplace's sandbox hosts")] = False,
    workspace: WorkspaceOpt = "default",
) -> None:
    """Connect a marketplace account: credentials saved encrypted, then tested.

    Exits 1 when the marketplace refuses them (the connection is kept, marked with the error).
    """
    marketplace = marketplace.strip().lower()
    try:
        credentials, _ = gather_credentials(
            marketplace, list(set_ or []), interactive=_interactive()
        )
    except registry.UnsupportedMarketplaceError as exc:
        fail(str(exc), code=2)
    settings: dict[str, Any] = {}
    if base_url:
        settings["base_url"] = base_url
    if auth_url:
        settings["auth_url"] = auth_url
    if sandbox:
        settings["sandbox"] = True

    async def go() -> tuple[dict[str, Any], str | None]:
        if marketplace == "allegro" and not credentials.get("refresh_token"):
            try:
                credentials["refresh_token"] = await allegro_device_flow(
                    credentials, auth_url=auth_url, sandbox=sandbox
                )
            except MarketplaceError as exc:
                return {}, exc.message
        async with database() as db:
            async with db.session() as session:
                ws = await auth_service.workspace(session, workspace)
            async with unit_of_work(db, ws.id) as uow:
                connection = await connection_service.save(
                    uow.session,
                    uow.workspace_id,
                    marketplace=marketplace,
                    name=name,
                    credentials=credentials,
                    settings=settings,
                )
                rotated: dict[str, str] = {}

                async def persist(tokens: dict[str, str]) -> None:
                    rotated.update(tokens)

                client = connection_service.client(connection, uow.cache, persist)
                error: MarketplaceError | None = None
                try:
                    await client.check_connection()
                except MarketplaceError as exc:
                    error = exc
                finally:
                    await client.aclose()
                if rotated:  # a marketplace that rotates refresh tokens issued a new one
                    connection_service.store_tokens(connection, rotated)
                connection_service.mark(connection, error)
                await uow.commit()
                return connection_service.public(connection), error.message if error else None

    public, problem = run(go)
    if not public:
        fail(f"the {marketplace} connection was not saved: {problem}")
    out.print(_public_table([public], f"{marketplace} connection"))
    if problem:
        fail(
            f"{marketplace} refused the connection {name!r} (saved as {public['status']}): "
            f"{problem}"
        )
    err.print(f"{marketplace} connection {name!r} works (id {public['id']})")


@connections_app.command("list")
def connections_list(
    marketplace: Annotated[str | None, typer.Option(help="only this marketplace")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    workspace: WorkspaceOpt = "default",
) -> None:
    """Every marketplace connection of the workspace, without its secrets."""

    async def go() -> list[dict[str, Any]]:
        async with database() as db, db.session() as session:
            ws = await auth_service.workspace(session, workspace)
            found = await connection_service.list(
                session, ws.id, marketplace.strip().lower() if marketplace else None
            )
            return [connection_service.public(c) for c in found]

    rows = run(go)
    if as_json:
        out.print_json(json.dumps(rows, default=str))
        return
    if not rows:
        out.print(
            "no marketplace connections yet: add one with `listingflow connect <marketplace>`"
        )
        return
    out.print(_public_table(rows, "marketplace connections"))


@connections_app.command("remove")
def connections_remove(
    connection_id: Annotated[int, typer.Argument(help="the id `connections list` shows")],
    workspace: WorkspaceOpt = "default",
) -> None:
    """Remove a connection and its stored credentials."""

    async def go() -> None:
        async with database() as db:
            async with db.session() as session:
                ws = await auth_service.workspace(session, workspace)
            async with unit_of_work(db, ws.id) as uow:
                await connection_service.delete(uow.session, uow.workspace_id, connection_id)
                await uow.commit()

    run(go)
    err.print(f"connection {connection_id} removed")
