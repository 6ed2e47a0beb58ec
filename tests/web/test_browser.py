"""The real app under uvicorn (embedded mode: SQLite, in-process jobs) driven by Chromium through
Playwright: sign in, import a file with a bad row, optimize 20 products while the progress bar
follows the job, compare versions side by side, and a script-like title stays text.

Each test saves a screenshot (under the test's tmp dir, and under $LISTINGFLOW_SCREENSHOTS when
set: that is how docs/screenshots/ is made)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EMAIL = "browser@example.com"
PASSWORD = "browser test password"
VIEWPORT = {"width": 1280, "height": 800}

if not Path(CHROMIUM).exists():
    if os.environ.get("LISTINGFLOW_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{CHROMIUM} is required (apt-get install chromium)", pytrace=False)
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`uvicorn listingflow.app:create_app` in its own process group, killed at the end."""
    home = tmp_path_factory.mktemp("browser-app")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LISTINGFLOW_") or k == "LISTINGFLOW_REQUIRE_SERVICES"
    }
    env.update(
        LISTINGFLOW_DATA_DIR=str(home / "var"),
        LISTINGFLOW_DATABASE_URL=f"sqlite:///{home / 'app.db'}",
        LISTINGFLOW_LOG_LEVEL="WARNING",
    )
    cli = Path(sys.executable).with_name("listingflow")
    created = subprocess.run(
        [str(cli), "user", "create", "--email", EMAIL, "--password", PASSWORD],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "listingflow.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=home,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    context = browser.new_context(base_url=server, viewport=VIEWPORT)  # type: ignore[arg-type]
    try:
        yield context.new_page()
    finally:
        context.close()


def shot(page: Page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path))
    target = os.environ.get("LISTINGFLOW_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)
    assert path.stat().st_size > 0
    return path


def sign_in(page: Page, tmp_path: Path | None = None) -> None:
    page.goto("/products")
    expect(page).to_have_url("/login?next=/products")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    if tmp_path is not None:
        shot(page, tmp_path, "login")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url("/products")  # back where the seller was going


def import_csv(page: Page, tmp_path: Path, name: str, lines: list[str]) -> None:
    path = tmp_path / name
    path.write_text("\n".join(["sku,name,price,description,brand", *lines]) + "\n")
    page.goto("/import")
    page.get_by_label("Product file").set_input_files(str(path))
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name=f"Preview of {name}")).to_be_visible()


def _row(sku: str, title: str, price: str = "29.99") -> str:
    return f"{sku},{title},{price},{title}. Solidny produkt do domu i biura,Domix"


def test_sign_in_and_out(page: Page, tmp_path: Path) -> None:
    sign_in(page, tmp_path)
    page.goto("/")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    shot(page, tmp_path, "dashboard")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url("/login")
    page.goto("/")
    expect(page).to_have_url("/login")


def test_import_a_csv_file_with_one_bad_row(page: Page, tmp_path: Path) -> None:
    sign_in(page)
    lines = [_row(f"CSV-{i:02d}", f"Lampka biurkowa LED model {i}") for i in range(1, 5)]
    lines.insert(2, _row("CSV-BAD", "Lampka bez ceny", price="free"))
    import_csv(page, tmp_path, "lampki.csv", lines)
    expect(page.get_by_role("cell", name="source_id")).to_be_visible()  # the column mapping
    shot(page, tmp_path, "import-preview")
    page.get_by_role("button", name="Import the whole file").click()
    expect(page.get_by_role("heading", name="Rows that were not imported")).to_be_visible()
    errors = page.locator("#import-errors tbody tr")
    expect(errors).to_have_count(1)
    expect(errors.first.locator("td").nth(0)).to_have_text("4")  # CSV line 4 (header is 1)
    expect(errors.first.locator("td").nth(1)).to_have_text("price")
    shot(page, tmp_path, "import-result")


def test_optimize_20_products_and_watch_the_progress(page: Page, tmp_path: Path) -> None:
    sign_in(page)
    lines = [_row(f"OPT-{i:02d}", f"Kubek termiczny stalowy {i} 450 ml") for i in range(20)]
    import_csv(page, tmp_path, "kubki.csv", lines)
    page.get_by_role("button", name="Import the whole file").click()
    expect(page.locator(".cards")).to_contain_text("20created")

    page.goto("/optimize")
    page.get_by_label("Every product matching this filter").check()
    page.get_by_label("Title or source id contains").fill("OPT-")
    page.get_by_label("allegro").check()
    page.get_by_label("amazon").uncheck()
    shot(page, tmp_path, "optimize")
    page.get_by_role("button", name="Start optimizing").click()
    expect(page).to_have_url(re.compile(r"/jobs/\d+$"))
    progress = page.locator("#job-progress")
    expect(progress).to_have_attribute("data-progress", "100", timeout=60_000)
    expect(page.locator("[data-job-events]")).to_have_count(0, timeout=30_000)  # finished
    value, maximum = page.locator("#job-progress progress").evaluate("p => [p.value, p.max]")
    assert value == maximum == 20
    expect(page.locator("[data-job-text]")).to_contain_text("20 / 20 · 20 done · 0 failed")
    shot(page, tmp_path, "job")


def test_product_page_shows_both_versions_side_by_side(page: Page, tmp_path: Path) -> None:
    sign_in(page)
    page.goto("/import")
    page.get_by_label("Source id (SKU)").fill("SIDE-1")
    page.get_by_label("Title", exact=True).fill("plecak turystyczny 30l wodoodporny czarny")
    page.get_by_label("Description").fill(
        "Plecak turystyczny o pojemności 30 l. Wodoodporny materiał, kolor czarny."
    )
    page.get_by_label("Price").fill("149,00")
    page.get_by_label("Brand").fill("Trekko")
    page.get_by_role("button", name="Import product").click()
    page.get_by_role("button", name="Optimize this product").click()
    expect(page.get_by_text("The 1 selected product")).to_be_visible()
    page.get_by_role("button", name="Start optimizing").click()
    expect(page.locator("#job-progress")).to_have_attribute("data-progress", "100", timeout=60_000)
    page.goto("/products?q=SIDE-1")
    page.get_by_role("link", name="plecak turystyczny 30l wodoodporny czarny").click()
    original = page.locator("article", has=page.get_by_text("Original", exact=True)).first
    optimized = page.locator("article", has=page.get_by_text("Optimized for allegro")).first
    expect(original).to_be_visible()
    expect(optimized).to_be_visible()
    expect(original).to_contain_text("plecak turystyczny 30l wodoodporny czarny")
    left = original.bounding_box()
    right = optimized.bounding_box()
    assert left and right and left["x"] < right["x"] and abs(left["y"] - right["y"]) < 5
    expect(page.get_by_role("heading", name="Score breakdown").first).to_be_visible()
    shot(page, tmp_path, "product")


def test_a_script_title_is_shown_as_text(page: Page, tmp_path: Path) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page)
    title = "<script>alert(1)</script>"
    page.goto("/import")
    page.get_by_label("Source id (SKU)").fill("XSS-1")
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Price").fill("10")
    page.get_by_role("button", name="Import product").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    page.goto("/products?q=XSS-1")
    expect(page.get_by_role("link", name=title)).to_be_visible()
    shot(page, tmp_path, "products-escaped")
    assert dialogs == []


def test_every_page_renders(page: Page, tmp_path: Path) -> None:
    """The remaining pages, for the screenshots in README (and to see that each one loads)."""
    sign_in(page)
    for path, heading, name in [
        ("/products", "Products", "products"),
        ("/import", "Import products", "import"),
        ("/import/webhook", "Import webhook", "webhook"),
        ("/jobs", "Jobs", "jobs"),
        ("/settings", "Settings", "settings"),
        ("/ops", "Operations", "operations"),
        ("/", "Dashboard", "dashboard"),
    ]:
        page.goto(path)
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        shot(page, tmp_path, name)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    for path in ("/publish", "/settings/connections", "/ops", "/products"):
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1, f"{path} scrolls sideways on a phone ({width}px)"
    shot(page, tmp_path, "products-phone")


@pytest.fixture
def kaufland() -> Iterator[Any]:
    from tests.fakes.kaufland_server import FakeKauflandServer

    with FakeKauflandServer() as server:
        yield server


def test_publish_to_a_local_marketplace_test_server(
    page: Page, tmp_path: Path, kaufland: Any
) -> None:
    """Connect Kaufland (the local protocol server) on the settings page, optimize a product,
    publish it from its page, watch the job reach 100%, see the remote id on the product page."""
    sign_in(page)
    path = tmp_path / "garnki.csv"
    path.write_text(
        "sku,name,price,description,brand,ean,image\n"
        "PUB-1,Garnek stalowy 5 l z pokrywką,89.00,"
        "Garnek ze stali nierdzewnej 5 l. Pokrywka ze szkła hartowanego.,Domix,"
        "5901234123457,https://img.example.com/garnek.jpg\n"
    )
    page.goto("/import")
    page.get_by_label("Product file").set_input_files(str(path))
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("button", name="Import the whole file").click()
    expect(page.locator(".cards")).to_contain_text("1created")

    page.goto("/settings/connections")
    form = page.locator("#connect-kaufland")
    form.get_by_text("Connect kaufland").click()
    form.get_by_label("Client key").fill(kaufland.client_key)
    form.get_by_label("Secret key").fill(kaufland.secret_key)
    form.get_by_label("Storefront").fill("pl")  # sells in PLN, the product's currency
    form.get_by_text("Sandbox or test server").click()
    form.get_by_label("API base URL").fill(kaufland.base_url)
    expect(form.get_by_label("Secret key")).to_have_attribute("type", "password")
    form.get_by_role("button", name="Save kaufland connection").click()
    expect(page.get_by_role("status")).to_contain_text("The connection is saved")
    page.get_by_role("button", name="Test the kaufland connection default").click()
    expect(page.get_by_role("status")).to_contain_text("The kaufland connection 'default' works.")
    expect(page.locator("#connections")).to_contain_text("connected")
    assert kaufland.secret_key not in page.content()
    shot(page, tmp_path, "connections")

    page.goto("/products?q=PUB-1")
    page.get_by_role("link", name="Garnek stalowy 5 l z pokrywką").click()
    product_url = page.url
    page.get_by_role("button", name="Optimize this product").click()
    page.get_by_label("kaufland").check()
    page.get_by_label("allegro").uncheck()
    page.get_by_role("button", name="Start optimizing").click()
    expect(page.locator("#job-progress")).to_have_attribute("data-progress", "100", timeout=60_000)

    page.goto("/publish")
    expect(
        page.get_by_role("radio", name="kaufland")
    ).to_be_checked()  # the one connected marketplace
    shot(page, tmp_path, "publish")

    page.goto(product_url)
    expect(page.locator("#publication-kaufland")).to_contain_text("Not published to kaufland.")
    page.get_by_role("button", name="Publish to kaufland").click()
    expect(page).to_have_url(re.compile(r"/jobs/\d+$"))
    expect(page.locator("#job-progress")).to_have_attribute("data-progress", "100", timeout=60_000)
    expect(page.locator("[data-job-events]")).to_have_count(0, timeout=30_000)  # finished
    expect(page.locator("[data-job-text]")).to_contain_text("1 / 1 · 1 done · 0 failed")
    expect(page.locator("#published-items")).to_contain_text("published")
    shot(page, tmp_path, "publish-job")

    [unit] = kaufland.units.values()  # what the marketplace now holds
    remote_id = str(unit["id_unit"])
    page.goto(product_url)
    expect(page.locator("#publication-kaufland [data-remote-id]")).to_have_text(remote_id)
    expect(page.locator("#publication-kaufland [data-publication-status]")).to_have_text(
        "published"
    )
    history = page.locator("table.publications")
    expect(history).to_contain_text(remote_id)
    history.locator("summary").first.click()  # the price's rule steps
    expect(history).to_contain_text("rounded (to the cent): 89.00 PLN")
    page.locator("#publication-kaufland").scroll_into_view_if_needed()
    shot(page, tmp_path, "product-published")
    page.get_by_role("heading", name="Publication history on kaufland").scroll_into_view_if_needed()
    shot(page, tmp_path, "publication-history")
