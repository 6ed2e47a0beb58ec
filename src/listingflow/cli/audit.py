"""`listingflow audit`: the audit log in a table, newest first."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from listingflow.audit.service import audit_service
from listingflow.auth.service import auth_service
from listingflow.cli.common import database, out, run
from listingflow.kit import jsonutil
from listingflow.models import AuditEvent


def audit_command(
    action: Annotated[
        str | None, typer.Option(help="action or its prefix: product, listing.edit")
    ] = None,
    object_type: Annotated[str | None, typer.Option("--object", help="product, listing...")] = None,
    object_id: Annotated[str | None, typer.Option("--id", help="the object's id")] = None,
    actor: Annotated[str | None, typer.Option(help="part of the actor's label")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    workspace: Annotated[str, typer.Option("--workspace", "-w")] = "default",
) -> None:
    """Who did what, when and from where: every write, newest first."""

    async def go() -> list[AuditEvent]:
        async with database() as db, db.session() as session:
            ws = await auth_service.workspace(session, workspace)
            return await audit_service.events(
                session,
                ws.id,
                action=action,
                object_type=object_type,
                object_id=object_id,
                actor=actor,
                limit=limit,
            )

    events = run(go)
    table = Table("when (UTC)", "who", "from", "action", "object", "changes")
    for e in events:
        table.add_row(
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            e.actor_label,
            e.ip or "",
            e.action,
            f"{e.object_type} {e.object_id or ''}".strip(),
            jsonutil.dumps(e.changes).decode()[:120],
        )
    out.print(table)
    out.print(f"{len(events)} events")
