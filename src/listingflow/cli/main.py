"""`listingflow`: serve, import, products, db, apikey, webhook, workspace, user, config."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from listingflow import config
from listingflow import db as dbmod
from listingflow.auth.service import auth_service
from listingflow.cli.audit import audit_command
from listingflow.cli.backup import backup_command, restore_command
from listingflow.cli.common import database, err, fail, out, run
from listingflow.cli.connect import connect_command, connections_app
from listingflow.cli.export import export_command
from listingflow.cli.imports import import_command
from listingflow.cli.jobs import autoscale_command, jobs_app, worker_command
from listingflow.cli.ops import capacity_command, ops_app, stage_command
from listingflow.cli.optimize import optimize_command, validate_command
from listingflow.cli.products import products_app
from listingflow.cli.secrets import secrets_app
from listingflow.kit.actor import cli_actor, set_actor

app = typer.Typer(
    name="listingflow",
    help="ListingFlow: import products, optimize listings, publish them to marketplaces.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("audit")(audit_command)
db_app = typer.Typer(help="Database schema: migrate and check.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys.", no_args_is_help=True)
webhook_app = typer.Typer(help="Webhook secrets for the n8n import webhook.", no_args_is_help=True)
webhook_secret_app = typer.Typer(help="Create webhook secrets.", no_args_is_help=True)
workspace_app = typer.Typer(help="Workspaces.", no_args_is_help=True)
user_app = typer.Typer(help="Users who sign in to the web pages.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(apikey_app, name="apikey")
app.add_typer(webhook_app, name="webhook")
webhook_app.add_typer(webhook_secret_app, name="secret")
app.add_typer(workspace_app, name="workspace")
app.add_typer(user_app, name="user")
app.add_typer(products_app, name="products")
app.command("import")(import_command)
app.command("optimize")(optimize_command)
app.command("validate")(validate_command)
app.command("worker")(worker_command)
app.command("autoscale")(autoscale_command)
app.add_typer(jobs_app, name="jobs")
app.add_typer(ops_app, name="ops")
app.command("stage")(stage_command)
app.command("capacity")(capacity_command)
app.command("backup")(backup_command)
app.command("restore")(restore_command)
app.command("export")(export_command)
app.command("connect")(connect_command)
app.add_typer(connections_app, name="connections")
app.add_typer(secrets_app, name="secrets")

WorkspaceOpt = Annotated[str, typer.Option("--workspace", "-w", help="workspace slug")]


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
) -> None:
    """Serve the API (and, as they land, the web UI)."""
    import uvicorn

    from listingflow.ops.metrics import multiprocess_for

    with multiprocess_for(workers):  # /metrics sums every worker process
        uvicorn.run(
            "listingflow.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,
        )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to the configured database."""
    url = config.settings.effective_database_url
    config.settings.data_dir.mkdir(parents=True, exist_ok=True)
    dbmod.upgrade(url)
    err.print(f"database at revision {dbmod.current_revision(url)}")


@db_app.command("check")
def db_check() -> None:
    """Fail (exit 1) when the models and the migrations disagree, or migrations are pending."""
    url = config.settings.effective_database_url
    current, head = dbmod.current_revision(url), dbmod.head_revision(url)
    if current != head:
        fail(f"database is at {current}, migrations at {head}: run `listingflow db upgrade`")
    diffs = dbmod.check(url)
    if diffs:
        for diff in diffs:
            err.print(f"  {diff}")
        fail(f"{len(diffs)} difference(s) between models and migrations: write a migration")
    err.print(f"models and migrations agree (revision {head})")


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Option("--name", "-n", help="what the key is for")],
    workspace: WorkspaceOpt = "default",
) -> None:
    """Create an API key; it is printed once, on stdout, and only its hash is stored."""

    async def go() -> str:
        async with database() as db, db.session() as session:
            ws = await auth_service.get_or_create_workspace(session, workspace)
            _, key = await auth_service.create_api_key(session, ws.id, name=name)
            await session.commit()
            return key

    print(run(go))


@webhook_secret_app.command("create")
def webhook_secret_create(
    workspace: WorkspaceOpt = "default",
    name: Annotated[str, typer.Option(help="label")] = "n8n",
) -> None:
    """Create a webhook secret for a workspace; printed once, on stdout."""

    async def go() -> str:
        async with database() as db, db.session() as session:
            ws = await auth_service.get_or_create_workspace(session, workspace)
            secret = await auth_service.create_webhook_secret(session, ws.id, name=name)
            await session.commit()
            return secret.plaintext

    print(run(go))


@workspace_app.command("create")
def workspace_create(
    slug: Annotated[str, typer.Argument(help="short name: a-z, 0-9, - and _")],
    name: Annotated[str | None, typer.Option(help="display name")] = None,
) -> None:
    """Create a workspace."""

    async def go() -> int:
        async with database() as db, db.session() as session:
            ws = await auth_service.create_workspace(session, slug, name=name)
            await session.commit()
            return ws.id

    workspace_id = run(go)
    err.print(f"workspace {slug!r} created (id {workspace_id})")


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option("--email", "-e", help="what the user signs in with")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="at least 10 characters; asked for when not given",
        ),
    ],
    workspace: WorkspaceOpt = "default",
) -> None:
    """Create a user of the web pages (the password is stored as an argon2 hash)."""
    from listingflow.auth.users import user_service

    async def go() -> int:
        async with database() as db, db.session() as session:
            ws = await auth_service.get_or_create_workspace(session, workspace)
            user = await user_service.create(session, ws.id, email=email, password=password)
            await session.commit()
            return user.id

    user_id = run(go)
    err.print(f"user {email.strip().lower()!r} created (id {user_id}) in workspace {workspace!r}")


@app.command("config")
def show_config(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Print the effective settings, secrets masked."""
    values = config.settings.masked()
    if as_json:
        out.print_json(json.dumps(values, default=str))
        return
    table = Table("setting", "value", title="ListingFlow settings (LISTINGFLOW_*)")
    for key, value in values.items():
        table.add_row(key, "" if value is None else str(value))
    out.print(table)


def main() -> None:
    set_actor(cli_actor())  # the audit log names whoever ran the command
    app()
