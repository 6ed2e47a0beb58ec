"""`listingflow connect` and `listingflow connections`: credentials saved encrypted and tested
against the local Kaufland and Allegro servers (the Allegro device flow approved from another
thread, as a person would on Allegro's page); secrets never in the database's plain text nor in
the command's output; a refused secret marks the connection broken and exits 1."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from tests.fakes.allegro_server import FakeAllegroServer
from tests.fakes.kaufland_server import FakeKauflandServer
from typer.testing import CliRunner

from listingflow import db as dbmod
from listingflow.cli import connect as connect_module
from listingflow.cli.main import app
from listingflow.config import Settings

runner = CliRunner()


@pytest.fixture
def kaufland() -> Iterator[FakeKauflandServer]:
    with FakeKauflandServer() as server:
        yield server


@pytest.fixture
def allegro() -> Iterator[FakeAllegroServer]:
    with FakeAllegroServer(device_interval=0.05) as server:
        yield server


def _connections(settings: Settings) -> list[dict[str, Any]]:
    """The table's rows as stored, each with its whole text (for secret searches)."""

    async def go() -> list[dict[str, Any]]:
        database = dbmod.Database(settings)
        try:
            async with database.session() as session:
                result = await session.execute(
                    text("SELECT * FROM marketplace_connections ORDER BY id")
                )
                rows = [dict(row._mapping) for row in result]
        finally:
            await database.dispose()
        for row in rows:
            row["text"] = repr(row)
        return rows

    return asyncio.run(go())


def _connect_kaufland(server: FakeKauflandServer, secret: str, *extra: str) -> Any:
    return runner.invoke(
        app,
        [
            "connect",
            "kaufland",
            "--set",
            f"client_key={server.client_key}",
            "--set",
            f"secret_key={secret}",
            "--set",
            "storefront=de",
            "--base-url",
            server.base_url,
            *extra,
        ],
    )


def test_connect_kaufland_saves_it_encrypted_and_marks_it_connected(
    settings: Settings, kaufland: FakeKauflandServer
) -> None:
    result = _connect_kaufland(kaufland, kaufland.secret_key)

    assert result.exit_code == 0, result.output
    (row,) = _connections(settings)
    assert (row["marketplace"], row["name"], row["status"]) == ("kaufland", "default", "connected")
    assert row["checked_at"] is not None and row["last_error"] is None
    assert kaufland.secret_key not in row["text"]
    assert kaufland.client_key in row["text"]  # not a secret: shown and stored in the clear
    assert kaufland.secret_key not in result.output
    assert "connected" in result.stdout


def test_a_wrong_secret_marks_the_connection_broken_and_exits_1(
    settings: Settings, kaufland: FakeKauflandServer
) -> None:
    wrong = "not-the-kaufland-secret-key-000000000"
    result = _connect_kaufland(kaufland, wrong)

    assert result.exit_code == 1
    assert "refused" in result.stderr and "reconnect kaufland" in result.stderr
    (row,) = _connections(settings)
    assert row["status"] == "broken"
    assert "reconnect kaufland" in row["last_error"]
    assert wrong not in row["text"] and wrong not in result.output

    fixed = _connect_kaufland(kaufland, kaufland.secret_key)  # connecting again repairs it
    assert fixed.exit_code == 0, fixed.output
    (row,) = _connections(settings)
    assert row["status"] == "connected" and row["last_error"] is None


def test_credentials_come_from_the_environment_without_a_terminal(
    settings: Settings, kaufland: FakeKauflandServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LISTINGFLOW_KAUFLAND_CLIENT_KEY", kaufland.client_key)
    monkeypatch.setenv("LISTINGFLOW_KAUFLAND_SECRET_KEY", kaufland.secret_key)

    result = runner.invoke(
        app, ["connect", "kaufland", "--name", "shop-2", "--base-url", kaufland.base_url]
    )

    assert result.exit_code == 0, result.output
    (row,) = _connections(settings)
    assert (row["name"], row["status"]) == ("shop-2", "connected")


def test_a_missing_field_without_a_terminal_is_a_clear_error(
    settings: Settings, kaufland: FakeKauflandServer
) -> None:
    result = runner.invoke(
        app,
        [
            "connect",
            "kaufland",
            "--set",
            f"client_key={kaufland.client_key}",
            "--base-url",
            kaufland.base_url,
        ],
    )

    assert result.exit_code == 1
    assert "secret_key" in result.stderr
    assert _connections(settings) == []


def test_missing_fields_are_asked_for_with_the_secret_hidden(
    settings: Settings, kaufland: FakeKauflandServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connect_module, "_interactive", lambda: True)

    result = runner.invoke(
        app,
        ["connect", "kaufland", "--base-url", kaufland.base_url],
        input=f"{kaufland.client_key}\n{kaufland.secret_key}\nde\n",
    )

    assert result.exit_code == 0, result.output
    assert "secret_key (hidden)" in result.output
    assert kaufland.client_key in result.output  # typed visibly
    assert kaufland.secret_key not in result.output  # typed without echo
    (row,) = _connections(settings)
    assert row["status"] == "connected"


def test_an_unknown_field_or_marketplace_is_a_usage_error(settings: Settings) -> None:
    unknown_field = runner.invoke(app, ["connect", "kaufland", "--set", "password=x"])
    assert unknown_field.exit_code == 2
    assert "password" in unknown_field.stderr and "secret_key" in unknown_field.stderr
    unknown = runner.invoke(app, ["connect", "etsy"])
    assert unknown.exit_code == 2
    assert "etsy" in unknown.stderr


def test_allegro_device_flow_saves_the_refresh_token_it_brings(
    settings: Settings, allegro: FakeAllegroServer
) -> None:
    approved: list[str] = []

    def person_confirms() -> None:  # what the seller does on Allegro's page
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            grants = list(allegro.devices.values())
            if grants and allegro.device_polls >= 1:
                allegro.approve(grants[0].user_code)
                approved.append(grants[0].user_code)
                return
            time.sleep(0.02)

    thread = threading.Thread(target=person_confirms, daemon=True)
    thread.start()
    try:
        result = runner.invoke(
            app,
            [
                "connect",
                "allegro",
                "--set",
                f"client_id={allegro.client_id}",
                "--set",
                f"client_secret={allegro.client_secret}",
                "--base-url",
                allegro.url,
                "--auth-url",
                allegro.url,
            ],
        )
    finally:
        thread.join(timeout=25)

    assert result.exit_code == 0, result.output
    assert approved and approved[0] in result.stderr  # the code the person was shown
    assert f"{allegro.url}/skojarz-aplikacje" in result.stderr
    (row,) = _connections(settings)
    assert (row["marketplace"], row["status"]) == ("allegro", "connected")
    assert row["tokens"]  # the check rotated the refresh token: the new one is kept, encrypted
    (active,) = allegro.active_refresh_tokens()
    for secret in (allegro.client_secret, active):
        assert secret not in row["text"]
        assert secret not in result.output


def test_allegro_device_flow_refused_by_the_person_saves_nothing(
    settings: Settings, allegro: FakeAllegroServer
) -> None:
    def person_refuses() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            grants = list(allegro.devices.values())
            if grants:
                allegro.deny(grants[0].user_code)
                return
            time.sleep(0.02)

    thread = threading.Thread(target=person_refuses, daemon=True)
    thread.start()
    try:
        result = runner.invoke(
            app,
            [
                "connect",
                "allegro",
                "--set",
                f"client_id={allegro.client_id}",
                "--set",
                f"client_secret={allegro.client_secret}",
                "--base-url",
                allegro.url,
                "--auth-url",
                allegro.url,
            ],
        )
    finally:
        thread.join(timeout=25)

    assert result.exit_code == 1
    assert "refused" in result.stderr
    assert _connections(settings) == []


def test_connections_list_shows_no_secret_and_remove_deletes(
    settings: Settings, kaufland: FakeKauflandServer
) -> None:
    assert _connect_kaufland(kaufland, kaufland.secret_key).exit_code == 0
    (row,) = _connections(settings)

    listed = runner.invoke(app, ["connections", "list"])

    assert listed.exit_code == 0, listed.output
    assert "kaufland" in listed.stdout and "connected" in listed.stdout
    assert kaufland.secret_key not in listed.output
    as_json = runner.invoke(app, ["connections", "list", "--json"])
    (public,) = json.loads(as_json.stdout)
    assert public["fields"] == {"client_key": kaufland.client_key, "storefront": "de"}
    assert public["secret_fields"] == ["secret_key"]
    assert kaufland.secret_key not in as_json.output
    removed = runner.invoke(app, ["connections", "remove", str(row["id"])])
    assert removed.exit_code == 0, removed.output
    assert _connections(settings) == []
    again = runner.invoke(app, ["connections", "remove", str(row["id"])])
    assert again.exit_code == 1
    assert "not found" in again.stderr
