"""The CLI front door: apikey, config, db, import, products; messages and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from listingflow.cli.main import app
from listingflow.config import Settings

runner = CliRunner()


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    # The CLI reads listingflow.config.settings, which the settings fixture points at the test DB.
    return settings


def test_apikey_create_prints_only_the_key(cli_env: Settings) -> None:
    result = runner.invoke(app, ["apikey", "create", "--name", "ci"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().startswith("lf_")
    assert len(result.stdout.strip().splitlines()) == 1


def test_apikey_for_a_new_workspace_creates_it(cli_env: Settings) -> None:
    result = runner.invoke(app, ["apikey", "create", "--name", "ci", "--workspace", "shop-x"])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["products", "list", "--workspace", "shop-x"])
    assert listed.exit_code == 0
    assert "0 of 0 products" in listed.stdout


def test_bad_workspace_name_is_a_clear_error(cli_env: Settings) -> None:
    result = runner.invoke(app, ["apikey", "create", "--name", "ci", "--workspace", "Bad Name!"])
    assert result.exit_code == 1
    assert "workspace must be" in result.stderr


def test_webhook_secret_create_prints_a_secret(cli_env: Settings) -> None:
    result = runner.invoke(app, ["webhook", "secret", "create"])
    assert result.exit_code == 0
    assert result.stdout.strip().startswith("whsec_")


def test_config_masks_secrets(cli_env: Settings) -> None:
    result = runner.invoke(app, ["config", "--json"])
    assert result.exit_code == 0
    values = json.loads(result.stdout)
    assert values["webhook_secret"] == "**********"
    assert "test-webhook-secret" not in result.stdout
    assert values["environment"] == "test"


def test_db_check_passes_on_a_migrated_database(cli_env: Settings) -> None:
    result = runner.invoke(app, ["db", "check"])
    assert result.exit_code == 0, result.output
    assert "agree" in result.stderr


def test_import_file_reports_and_exits_1_on_bad_rows(cli_env: Settings, tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    path.write_text(
        "source_id,title,price,currency\n"
        'A-1,Kubek ceramiczny,"29,99",PLN\n'
        "A-2,,12.50,EUR\n"
        "A-3,Tasse,-1,EUR\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["import", str(path)])
    assert result.exit_code == 1
    assert "title" in result.stdout and "price" in result.stdout
    listed = runner.invoke(app, ["products", "list"])
    assert "Kubek ceramiczny" in listed.stdout
    assert "1 of 1 products" in listed.stdout


def test_import_file_twice_updates_nothing_the_second_time(
    cli_env: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "products.csv"
    path.write_text("source_id,title,price\nB-1,Czajnik,99.99\nB-2,Toster,149\n", encoding="utf-8")
    assert runner.invoke(app, ["import", str(path)]).exit_code == 0
    second = runner.invoke(app, ["import", str(path)])
    assert second.exit_code == 0
    assert "unchanged" in second.stdout
    listed = runner.invoke(app, ["products", "list"])
    assert "2 of 2 products" in listed.stdout


def test_import_missing_file_exits_2(cli_env: Settings, tmp_path: Path) -> None:
    result = runner.invoke(app, ["import", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2
    assert "no such file" in result.stderr


def test_import_unknown_format_exits_2(cli_env: Settings, tmp_path: Path) -> None:
    path = tmp_path / "products.pdf"
    path.write_bytes(b"%PDF-1.4")
    result = runner.invoke(app, ["import", str(path)])
    assert result.exit_code == 2


def test_import_needs_a_file_or_url(cli_env: Settings) -> None:
    assert runner.invoke(app, ["import"]).exit_code == 2
