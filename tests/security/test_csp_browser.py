"""The Content-Security-Policy in a real browser: Chromium opens every page of the UI (signed in,
served by uvicorn) and not one resource, script or style is refused by the policy; htmx's live
search still works under it (the job page's script is covered by tests/web/test_browser.py)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Page, expect

from tests.web import test_browser as ui

# The browser tests' fixtures: uvicorn with a user, Chromium, a fresh context per test.
server = ui.server
browser = ui.browser
page = ui.page

PAGES = [
    "/",
    "/products",
    "/import",
    "/import/webhook",
    "/optimize",
    "/jobs",
    "/settings",
    "/docs",
]


def watch_violations(tab: Page) -> list[str]:
    """Every CSP refusal the page reports (the console line Chromium writes for each)."""
    refused: list[str] = []

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            refused.append(f"{tab.url}: {message.text}")

    tab.on("console", on_console)
    tab.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => console.error("
        "'Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    return refused


def test_no_page_breaks_the_policy(page: Page) -> None:
    refused = watch_violations(page)
    ui.sign_in(page)
    for path in PAGES:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        page.wait_for_load_state("networkidle")
    assert refused == []


def test_live_search_works_under_the_policy(page: Page, tmp_path: Any) -> None:
    refused = watch_violations(page)
    ui.sign_in(page)
    rows = [
        "CSP-1,Kubek ceramiczny biały,19.99,Kubek,Domix",
        "CSP-2,Lampka biurkowa LED,49.99,Lampka,Domix",
    ]
    ui.import_csv(page, tmp_path, "csp.csv", rows)
    page.get_by_role("button", name="Import the whole file").click()
    page.goto("/products")
    results = page.locator("#results [role=status]")
    expect(results).to_contain_text("2 products match")
    # Typing is enough: htmx sends the search and swaps the table in, nothing is submitted.
    page.get_by_label("Search title or source id").fill("ceramiczny")
    expect(results).to_contain_text("1 product match")
    assert refused == []
