"""The audit log: every write through every front door is recorded with who, what, when and
from where; it is append-only; GET /api/audit and `listingflow audit` read it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.conftest import WEBHOOK_SECRET
from tests.factories import product_payload

from listingflow.audit.service import audit_service
from listingflow.kit.actor import Actor, set_actor
from listingflow.models import AuditEvent
from listingflow.models.audit_event import AuditLogIsAppendOnly


async def _events(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/api/audit", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_who_deleted_product_123_is_answered(client: httpx.AsyncClient, api_key: str) -> None:
    created = await client.post("/api/import/product", json=product_payload(source_id="DEL-1"))
    product_id = created.json()["product_id"]
    assert (await client.delete(f"/api/products/{product_id}")).status_code == 200
    [event] = await _events(client, action="product.delete", object_id=str(product_id))
    assert event["actor_kind"] == "api_key"
    assert event["actor_label"].startswith(f"api key {api_key[:10]}")
    assert api_key not in str(event)  # never the key itself
    assert event["changes"]["source_id"] == "DEL-1"
    assert event["ip"]
    assert event["request_id"]


async def test_imports_edits_approvals_jobs_and_keys_are_recorded(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post("/api/import/product", json=product_payload())
    product_id = created.json()["product_id"]
    await client.post(f"/api/ai/optimize/{product_id}", params={"target_marketplace": "ebay"})
    listing = (await client.get(f"/api/products/{product_id}/listings")).json()[0]
    edited = await client.patch(
        f"/api/listings/{listing['id']}", json={"title": "Sony WH-1000XM5 headphones black"}
    )
    assert edited.status_code == 200, edited.text
    actions = [e["action"] for e in await _events(client)]
    assert "import" in actions
    assert "optimize.start" in actions
    [edit] = await _events(client, action="listing.edit")
    assert edit["changes"]["title"]["to"] == "Sony WH-1000XM5 headphones black"
    assert edit["changes"]["title"]["from"] == listing["title"]


async def test_the_webhook_is_its_own_actor(
    anon_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    response = await anon_client.post(
        "/api/import/webhook",
        json={"source": "allegro", "data": {"products": [product_payload()]}},
        headers={"X-Webhook-Secret": WEBHOOK_SECRET},
    )
    assert response.status_code == 200, response.text
    [event] = await _events(client, action="import")
    assert event["actor_kind"] == "webhook"
    assert WEBHOOK_SECRET not in str(event)


async def test_connection_changes_are_recorded_without_secrets(
    client: httpx.AsyncClient,
) -> None:
    secret = "kaufland-secret-value-0123456789"
    response = await client.post(
        "/api/connections",
        json={
            "marketplace": "kaufland",
            "credentials": {"client_key": "k" * 32, "secret_key": secret, "storefront": "de"},
        },
    )
    assert response.status_code == 201, response.text
    await client.delete(f"/api/connections/{response.json()['id']}")
    events = await _events(client, action="connection")
    assert [e["action"] for e in events] == ["connection.delete", "connection.save"]
    assert secret not in str(events)
    assert events[1]["changes"]["secret_fields"] == ["secret_key"]


async def test_the_log_is_append_only(app: Any, client: httpx.AsyncClient) -> None:
    await client.post("/api/import/product", json=product_payload())
    async with app.state.db.session() as session:
        event = (await session.execute(select(AuditEvent))).scalars().first()
        assert event is not None
        event.action = "nothing.happened"
        with pytest.raises(AuditLogIsAppendOnly):
            await session.flush()
        await session.rollback()
        event = (await session.execute(select(AuditEvent))).scalars().first()
        assert event is not None
        await session.delete(event)
        with pytest.raises(AuditLogIsAppendOnly):
            await session.flush()


async def test_an_event_is_rolled_back_with_its_change(app: Any) -> None:
    set_actor(Actor(kind="cli", id="ann", label="cli (ann)"))
    async with app.state.db.session() as session:
        await audit_service.record(session, 1, "product.delete", "product", 1)
        await session.rollback()
        assert (await session.execute(select(AuditEvent))).scalars().first() is None


async def test_paging_by_before_id(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await client.post("/api/import/product", json=product_payload())
    first = (await client.get("/api/audit", params={"limit": 2})).json()
    assert len(first["items"]) == 2 and first["next_before_id"]
    rest = await _events(client, limit=2, before_id=first["next_before_id"])
    assert rest and rest[0]["id"] < first["items"][-1]["id"] + 1
    assert {e["id"] for e in rest}.isdisjoint({e["id"] for e in first["items"]})
    bad = await client.get("/api/audit", params={"limit": 1000})
    assert bad.status_code == 422


def test_listingflow_audit_shows_cli_imports_with_who_ran_them(
    settings: Any, tmp_path: Any
) -> None:
    from typer.testing import CliRunner

    from listingflow.cli.main import app as cli
    from listingflow.kit.actor import cli_actor

    set_actor(cli_actor())  # what main() does before running a command
    path = tmp_path / "one.csv"
    path.write_text("source_id,title,price\nCLI-1,Kubek ceramiczny 300 ml,19.99\n")
    runner = CliRunner()
    assert runner.invoke(cli, ["import", str(path)]).exit_code == 0
    shown = runner.invoke(cli, ["audit", "--action", "import"])
    assert shown.exit_code == 0, shown.output
    assert "cli (" in shown.stdout
    assert "1 events" in shown.stdout
