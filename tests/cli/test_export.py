"""`listingflow export`: the file written into --out with the optimized listings' SKUs, the
summary of what was left out, and a non-zero exit when nothing can be exported."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from listingflow.cli.main import app
from listingflow.config import Settings

runner = CliRunner()

CSV = (
    "source_platform,source_id,title,description,category,brand,price,currency,ean\n"
    "shop,A-1,Kubek ceramiczny biały 300 ml,Kubek z porcelany do kawy i herbaty.,"
    "Dom > Kuchnia > Kubki,Lubiana,29.99,PLN,5901234123457\n"
    "shop,A-2,Talerz płaski 27 cm,Talerz obiadowy z porcelany.,Dom > Kuchnia > Talerze,"
    "Lubiana,19.50,PLN,5901234123464\n"
)


def _import(tmp_path: Path) -> None:
    path = tmp_path / "catalog.csv"
    path.write_text(CSV, encoding="utf-8")
    result = runner.invoke(app, ["import", str(path)])
    assert result.exit_code == 0, result.output


def test_export_writes_the_file_with_every_optimized_listing(
    settings: Settings, tmp_path: Path
) -> None:
    _import(tmp_path)
    optimized = runner.invoke(app, ["optimize", "--to", "allegro", "--engine", "offline"])
    assert optimized.exit_code == 0, optimized.output

    result = runner.invoke(app, ["export", "--to", "allegro", "--out", str(tmp_path / "out")])

    assert result.exit_code == 0, result.output
    path = tmp_path / "out" / "allegro-offers.json"
    bodies = json.loads(path.read_text(encoding="utf-8"))
    assert sorted(b["external"]["id"] for b in bodies) == ["SHO-A-1", "SHO-A-2"]
    assert sorted(b["sellingMode"]["price"]["amount"] for b in bodies) == ["19.50", "29.99"]
    assert str(path) in result.stderr
    assert not list((tmp_path / "out").glob(".*partial"))


def test_export_of_only_some_products_reports_the_rest(settings: Settings, tmp_path: Path) -> None:
    _import(tmp_path)
    runner.invoke(app, ["optimize", "--to", "amazon", "--engine", "offline"])

    result = runner.invoke(
        app,
        ["export", "--to", "amazon", "--out", str(tmp_path), "--product", "1", "--product", "7"],
    )

    assert result.exit_code == 0, result.output
    feed = json.loads((tmp_path / "amazon-json-listings-feed.json").read_text())
    assert [m["sku"] for m in feed["messages"]] == ["SHO-A-1"]
    assert "product not found" in result.stdout


def test_export_with_nothing_to_export_fails_with_the_reasons(
    settings: Settings, tmp_path: Path
) -> None:
    _import(tmp_path)

    result = runner.invoke(app, ["export", "--to", "kaufland", "--out", str(tmp_path / "out")])

    assert result.exit_code == 1
    assert "nothing to export to kaufland" in result.stderr
    assert "not optimized for kaufland" in result.stdout
    assert not (tmp_path / "out").exists()


def test_export_to_an_unknown_marketplace_is_a_usage_error(
    settings: Settings, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["export", "--to", "etsy", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "etsy" in result.stderr and "amazon" in result.stderr
