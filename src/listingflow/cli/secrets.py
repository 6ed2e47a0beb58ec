"""`listingflow secrets rotate`: re-encrypt every stored secret with LISTINGFLOW_SECRET_KEY."""

from __future__ import annotations

import typer

from listingflow.auth.rotation import RotationReport, secret_rotation_service
from listingflow.cli.common import database, err, fail, run

secrets_app = typer.Typer(help="Secrets at rest (the encryption key).", no_args_is_help=True)


@secrets_app.command("rotate")
def rotate_command() -> None:
    """Re-encrypt webhook secrets and marketplace credentials with LISTINGFLOW_SECRET_KEY.

    Set the new key in LISTINGFLOW_SECRET_KEY and the old one in LISTINGFLOW_SECRET_KEY_PREVIOUS
    (a JSON list), run this, then remove the old key. Nothing is written if any secret cannot be
    decrypted with the keys given."""

    async def go() -> RotationReport:
        async with database() as db, db.session() as session:
            report = await secret_rotation_service.rotate(session)
            if not report.unreadable:
                await session.commit()
            return report

    report = run(go)
    if report.unreadable:
        fail(
            f"{len(report.unreadable)} secrets cannot be decrypted with LISTINGFLOW_SECRET_KEY "
            f"or LISTINGFLOW_SECRET_KEY_PREVIOUS ({', '.join(report.unreadable[:5])}); "
            "add the key they were written with to LISTINGFLOW_SECRET_KEY_PREVIOUS; "
            "nothing was changed"
        )
    total = sum(report.rewritten.values())
    detail = ", ".join(f"{kind} {n}" for kind, n in sorted(report.rewritten.items()))
    err.print(f"{total} secrets re-encrypted with the current key ({detail or 'none stored'})")
