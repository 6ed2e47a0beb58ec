"""Settings > Marketplace connections: list (status and last error, never a secret), add or
reconnect (a form per marketplace made from its credential fields), test, remove.

The pages call `connection_service` as /api/connections does. A secret typed into a form is
sent on to the service and never written back into a page, not even after a failed save.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from listingflow.deps import CacheDep, ReadSession, WriteSession
from listingflow.exceptions import ListingflowError, ValidationFailed
from listingflow.integrations.marketplaces import registry
from listingflow.models import ConnectionStatus, MarketplaceConnection
from listingflow.publication.connections import connection_service
from listingflow.web.common import page_router, unit_of_work
from listingflow.web.security import Viewer
from listingflow.web.templating import render

router = page_router()

# Host overrides a seller may set for a sandbox or a local test server (the client settings
# connection_service knows); nothing else from the form reaches a client's options.
HOST_FIELDS = ("base_url", "auth_url")
_MESSAGES = {
    "saved": "The connection is saved. Test it to see that the marketplace accepts it.",
    "removed": "The connection is removed.",
}


def credential_forms() -> list[dict[str, Any]]:
    """One add form per publishable marketplace: its fields in order, which are secret."""
    forms = []
    for marketplace in registry.PUBLISHABLE:
        fields, secret = registry.credential_fields(marketplace)
        forms.append(
            {
                "marketplace": marketplace,
                "fields": [
                    {
                        "name": name,
                        "label": name.replace("_", " ").capitalize(),
                        "secret": name in secret,
                    }
                    for name in fields
                ],
            }
        )
    return forms


def broken(connections: list[MarketplaceConnection]) -> list[MarketplaceConnection]:
    return [c for c in connections if c.status == ConnectionStatus.BROKEN.value]


def _field_errors(exc: ListingflowError, fields: tuple[str, ...]) -> dict[str, str]:
    """The inputs an error is about: the field it names (`credentials.secret_key`), or the
    credential fields its message names ("credentials lack secret_key"); else the whole form."""
    field = exc.field or ""
    name = field.removeprefix("credentials.")
    if name in fields or name in ("name", *HOST_FIELDS):
        return {name: exc.message}
    named = [f for f in fields if f in exc.message]
    if field.startswith("credentials") and named:
        return {f: exc.message for f in named}
    return {"form": exc.message}


async def _page(
    request: Request,
    viewer: Viewer,
    session: ReadSession | WriteSession,
    *,
    message: str | None = None,
    open_form: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    connections = await connection_service.list(session, viewer.workspace_id)
    return render(
        request,
        "connections.html",
        {
            "connections": [connection_service.public(c) for c in connections],
            "broken": broken(connections),
            "forms": credential_forms(),
            "open_form": open_form,
            "values": values or {},
            "errors": errors or {},
            "message": message,
        },
        viewer=viewer,
        status_code=status_code,
    )


@router.get("/settings/connections")
async def connections_page(
    request: Request,
    viewer: Viewer,
    session: ReadSession,
    done: str | None = None,
    tested: int | None = None,
    reconnect: int | None = None,
) -> Response:
    if tested is not None:
        found = await connection_service.get(session, viewer.workspace_id, tested)
        works = found.status == ConnectionStatus.CONNECTED.value and not found.last_error
        outcome = "works" if works else "failed its test (see its error below)"
        message = f"The {found.marketplace} connection {found.name!r} {outcome}."
        return await _page(request, viewer, session, message=message)
    if reconnect is None:
        return await _page(request, viewer, session, message=_MESSAGES.get(done or ""))
    # Reconnecting: the marketplace's form with the connection's name, non-secret fields and
    # hosts filled in; every secret is typed again.
    connection = connection_service.public(
        await connection_service.get(session, viewer.workspace_id, reconnect)
    )
    values = {
        "name": connection["name"],
        **connection["fields"],
        **{k: str(v) for k, v in connection["settings"].items() if k in HOST_FIELDS},
    }
    return await _page(request, viewer, session, open_form=connection["marketplace"], values=values)


def _submitted(form: FormData, fields: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
    def text(key: str) -> str:
        value = form.get(key)
        return value.strip() if isinstance(value, str) else ""

    credentials = {name: text(f"credentials.{name}") for name in fields}
    hosts = {name: text(name) for name in HOST_FIELDS}
    return credentials, hosts


@router.post("/settings/connections")
async def add_connection(
    request: Request, viewer: Viewer, session: WriteSession, cache: CacheDep
) -> Response:
    form = await request.form()
    marketplace = str(form.get("marketplace") or "").strip().lower()
    name = str(form.get("name") or "").strip() or "default"
    try:
        fields, secret = registry.credential_fields(marketplace)
    except registry.UnsupportedMarketplaceError as exc:
        return await _page(request, viewer, session, errors={"form": str(exc)}, status_code=400)
    credentials, hosts = _submitted(form, fields)
    # What the page may show again: never a secret.
    shown = {"name": name, **hosts, **{k: v for k, v in credentials.items() if k not in secret}}
    uow = unit_of_work(session, cache, viewer)
    try:
        if len(name) > 100:
            raise ValidationFailed("a connection name has at most 100 characters", field="name")
        for host in HOST_FIELDS:
            if hosts[host] and not hosts[host].startswith(("https://", "http://")):
                raise ValidationFailed(f"{host} must start with https:// or http://", field=host)
        await connection_service.save(
            uow.session,
            uow.workspace_id,
            marketplace=marketplace,
            name=name,
            credentials=credentials,
            settings={k: v for k, v in hosts.items() if v},
        )
    except ListingflowError as exc:
        await uow.rollback()
        return await _page(
            request,
            viewer,
            session,
            open_form=marketplace,
            values=shown,
            errors=_field_errors(exc, fields),
            status_code=exc.status_code,
        )
    await uow.commit()
    return RedirectResponse("/settings/connections?done=saved", status_code=303)


@router.post("/settings/connections/{connection_id}/test")
async def test_connection(
    connection_id: int, viewer: Viewer, session: WriteSession, cache: CacheDep
) -> Response:
    uow = unit_of_work(session, cache, viewer)
    await connection_service.check(uow.session, uow.workspace_id, connection_id, cache)
    await uow.commit()
    return RedirectResponse(f"/settings/connections?tested={connection_id}", status_code=303)


@router.post("/settings/connections/{connection_id}/remove")
async def remove_connection(
    connection_id: int, viewer: Viewer, session: WriteSession, cache: CacheDep
) -> Response:
    uow = unit_of_work(session, cache, viewer)
    await connection_service.delete(uow.session, uow.workspace_id, connection_id)
    await uow.commit()
    return RedirectResponse("/settings/connections?done=removed", status_code=303)
