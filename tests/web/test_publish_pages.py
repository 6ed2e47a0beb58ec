"""Marketplace connections, publish and product pages against the local Kaufland server: a
connection added, tested and removed from the settings page (its secret never in any page), a
publish job started from the page runs like bulk-publish's, the product page shows the remote
id and the history, a broken connection says "reconnect kaufland" on the dashboard."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import make_api_key
from tests.fakes.kaufland_server import FakeKauflandServer
from tests.web.conftest import sign_in
from tests.web.test_job_pages import _finished, _job_id
from tests.web.test_product_pages import _ids, _import, _optimize, _product


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    key = await make_api_key(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers={"X-API-Key": key}
    ) as client:
        yield client


@pytest.fixture
def kaufland() -> Iterator[FakeKauflandServer]:
    with FakeKauflandServer() as server:
        yield server


def ean(i: int) -> str:
    """A valid EAN-13 (the check digit computed) for product i."""
    body = f"590123{i:06d}"
    total = sum(int(d) * (3 if n % 2 else 1) for n, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def _kaufland_product(i: int) -> dict[str, object]:
    return _product(i, attributes={"ean": ean(i), "material": "ceramika"})


def _connection_form(token: str, server: FakeKauflandServer, **changes: str) -> dict[str, str]:
    form = {
        "csrf_token": token,
        "marketplace": "kaufland",
        "name": "default",
        "credentials.client_key": server.client_key,
        "credentials.secret_key": server.secret_key,
        "credentials.storefront": "pl",  # sells in PLN, the products' currency
        "base_url": server.base_url,
    }
    form.update(changes)
    return form


async def _connect(web: httpx.AsyncClient, token: str, server: FakeKauflandServer) -> int:
    saved = await web.post("/settings/connections", data=_connection_form(token, server))
    assert saved.status_code == 303, saved.text
    page = await web.get("/settings/connections")
    found = re.search(r'action="/settings/connections/(\d+)/test"', page.text)
    assert found
    return int(found.group(1))


async def _optimized(
    api: httpx.AsyncClient, count: int, marketplace: str = "kaufland"
) -> list[int]:
    await _import(api, [_kaufland_product(i) for i in range(count)])
    ids = await _ids(api)
    await _optimize(api, ids, marketplace)
    return ids


async def test_a_connection_is_added_tested_and_removed_and_its_secret_never_shown(
    signed_in: tuple[httpx.AsyncClient, str],
    api: httpx.AsyncClient,
    kaufland: FakeKauflandServer,
) -> None:
    web, token = signed_in
    connection_id = await _connect(web, token, kaufland)
    page = await web.get("/settings/connections")
    row = re.search(rf'<tr id="connection-{connection_id}">(.*?)</tr>', page.text, re.S)
    assert row
    assert "untested" in row.group(1)
    assert kaufland.client_key in row.group(1)  # not a secret: shown
    assert 'secret_key: <span class="muted">stored, hidden</span>' in row.group(1)
    assert kaufland.secret_key not in page.text

    tested = await web.post(
        f"/settings/connections/{connection_id}/test", data={"csrf_token": token}
    )
    assert tested.status_code == 303
    after = await web.get(tested.headers["location"])
    assert "The kaufland connection &#39;default&#39; works." in after.text
    assert '<span class="badge connected">connected</span>' in after.text
    listed = (await api.get("/api/connections")).json()
    assert [(c["marketplace"], c["status"]) for c in listed] == [("kaufland", "connected")]

    removed = await web.post(
        f"/settings/connections/{connection_id}/remove", data={"csrf_token": token}
    )
    assert removed.status_code == 303
    assert (await api.get("/api/connections")).json() == []
    assert "No marketplace connected yet" in (await web.get("/settings/connections")).text


async def test_missing_credentials_are_named_beside_their_field_and_secrets_not_echoed(
    signed_in: tuple[httpx.AsyncClient, str], kaufland: FakeKauflandServer
) -> None:
    web, token = signed_in
    missing = await web.post(
        "/settings/connections",
        data=_connection_form(token, kaufland, **{"credentials.secret_key": ""}),
    )
    assert missing.status_code == 422
    error = re.search(r'id="kaufland-secret_key-error">([^<]+)<', missing.text)
    assert error and "secret_key" in error.group(1)
    assert 'id="kaufland-secret_key" name="credentials.secret_key" type="password"' in missing.text
    assert f'value="{kaufland.client_key}"' in missing.text  # what was typed stays
    assert '<details id="connect-kaufland" open>' in missing.text

    # Allegro: the typed client secret comes back to no page, though the save failed
    typed_secret = "allegro-client-secret-typed-by-the-seller"
    refused = await web.post(
        "/settings/connections",
        data={
            "csrf_token": token,
            "marketplace": "allegro",
            "credentials.client_id": "my-client",
            "credentials.client_secret": typed_secret,
        },
    )
    assert refused.status_code == 422
    assert re.search(r'id="allegro-refresh_token-error">[^<]*refresh_token', refused.text)
    assert typed_secret not in refused.text

    unknown = await web.post(
        "/settings/connections",
        data={"csrf_token": token, "marketplace": "etsy", "credentials.key": "x"},
    )
    assert unknown.status_code == 400
    assert re.search(r'id="form-error">ListingFlow cannot publish to &#39;etsy&#39;', unknown.text)

    bad_host = await web.post(
        "/settings/connections", data=_connection_form(token, kaufland, base_url="ftp://x")
    )
    assert bad_host.status_code == 422
    assert 'id="kaufland-base_url-error">base_url must start with https://' in bad_host.text
    assert kaufland.secret_key not in bad_host.text


async def test_a_wrong_secret_breaks_the_connection_and_reconnecting_mends_it(
    signed_in: tuple[httpx.AsyncClient, str], kaufland: FakeKauflandServer
) -> None:
    web, token = signed_in
    wrong = "not-the-secret-0000000000000000"
    saved = await web.post(
        "/settings/connections",
        data=_connection_form(token, kaufland, **{"credentials.secret_key": wrong}),
    )
    assert saved.status_code == 303
    page = await web.get("/settings/connections")
    connection_id = re.search(r'action="/settings/connections/(\d+)/test"', page.text)
    assert connection_id
    tested = await web.post(
        f"/settings/connections/{connection_id.group(1)}/test", data={"csrf_token": token}
    )
    after = await web.get(tested.headers["location"])
    assert "failed its test" in after.text
    assert '<span class="badge broken">broken</span>' in after.text
    dashboard = await web.get("/")
    assert "reconnect kaufland</a>" in dashboard.text
    assert wrong not in dashboard.text and wrong not in after.text

    reconnect = await web.get(f"/settings/connections?reconnect={connection_id.group(1)}")
    assert '<details id="connect-kaufland" open>' in reconnect.text
    assert f'value="{kaufland.client_key}"' in reconnect.text
    assert wrong not in reconnect.text  # every secret is typed again
    again = await web.post("/settings/connections", data=_connection_form(token, kaufland))
    assert again.status_code == 303
    await web.post(
        f"/settings/connections/{connection_id.group(1)}/test", data={"csrf_token": token}
    )
    assert "reconnect kaufland" not in (await web.get("/")).text


async def test_pages_need_a_session_and_posts_need_the_csrf_token(
    web: httpx.AsyncClient, kaufland: FakeKauflandServer
) -> None:
    for path in ("/publish", "/settings/connections"):
        response = await web.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")
    token = await sign_in(web)
    form = _connection_form(token, kaufland)
    del form["csrf_token"]
    assert (await web.post("/settings/connections", data=form)).status_code == 403
    assert (await web.post("/publish", data={"marketplace": "kaufland"})).status_code == 403
    assert (await web.post("/publish/selection", data={"product_ids": "1"})).status_code == 403
    forged = await web.post("/settings/connections/1/test", data={"csrf_token": "forged"})
    assert forged.status_code == 403


async def test_publish_a_selection_and_see_the_remote_id_and_history(
    signed_in: tuple[httpx.AsyncClient, str],
    api: httpx.AsyncClient,
    kaufland: FakeKauflandServer,
) -> None:
    web, token = signed_in
    await _connect(web, token, kaufland)
    ids = await _optimized(api, 3)
    products = await web.get("/products")
    assert 'formaction="/publish/selection">Publish selected</button>' in products.text
    chosen = await web.post(
        "/publish/selection", data={"csrf_token": token, "product_ids": ids[:2]}
    )
    assert "The 2 selected products" in chosen.text
    assert 'id="m-kaufland" name="marketplace" value="kaufland" checked' in chosen.text
    assert "connect amazon</a>" in chosen.text  # the others say how to connect

    started = await web.post(
        "/publish",
        data={
            "csrf_token": token,
            "scope": "selection",
            "product_ids": ids[:2],
            "marketplace": "kaufland",
        },
    )
    job = await _finished(api, _job_id(started))
    assert (job["kind"], job["status"], job["total"], job["succeeded"]) == (
        "publish",
        "completed",
        2,
        2,
    )
    assert job["source"] == "web-publish:kaufland"
    job_page = await web.get(f"/jobs/{job['id']}")
    assert 'data-progress="100"' in job_page.text
    published = re.findall(r"<code>(\d+)</code>", job_page.text.split('id="published-items"')[1])
    assert len(published) == 2

    product = (await api.get(f"/api/products/{ids[0]}")).json()
    remote_id = product["marketplace_data"]["kaufland"]["remote_id"]
    assert remote_id in published
    assert sorted(kaufland.skus().values()) == [1, 1]  # one unit per product on kaufland
    page = await web.get(f"/products/{ids[0]}")
    assert f"<code data-remote-id>{remote_id}</code>" in page.text
    assert '<span class="badge published" data-publication-status>published</span>' in page.text
    assert "Publication history on kaufland" in page.text
    history = page.text.split("Publication history on kaufland")[1]
    assert "rounded (to the cent): 19.99 PLN" in history  # the price's rule steps
    assert f'<a href="/jobs/{job["id"]}">job #{job["id"]}</a>' in history
    assert '<button type="submit">Publish to kaufland</button>' in page.text
    untouched = await web.get(f"/products/{ids[2]}")
    assert "Not published to kaufland." in untouched.text
    assert "Publication history" not in untouched.text


async def test_publish_by_filter_takes_products_with_a_listing_for_the_marketplace(
    signed_in: tuple[httpx.AsyncClient, str],
    api: httpx.AsyncClient,
    kaufland: FakeKauflandServer,
) -> None:
    web, token = signed_in
    await _connect(web, token, kaufland)
    await _import(api, [_kaufland_product(i) for i in range(4)])
    ids = await _ids(api)
    await _optimize(api, ids[:3], "kaufland")
    await _optimize(api, ids[3:], "allegro")
    started = await web.post(
        "/publish",
        data={"csrf_token": token, "scope": "filter", "q": "SKU-", "marketplace": "kaufland"},
    )
    job = await _finished(api, _job_id(started))
    assert (job["total"], job["succeeded"]) == (3, 3)
    assert len(kaufland.skus()) == 3


async def test_a_dry_run_publishes_nothing_and_a_failed_item_shows_why(
    signed_in: tuple[httpx.AsyncClient, str],
    api: httpx.AsyncClient,
    kaufland: FakeKauflandServer,
) -> None:
    web, token = signed_in
    await _connect(web, token, kaufland)
    await _import(api, [_kaufland_product(i) for i in range(2)])
    ids = await _ids(api)
    await _optimize(api, ids[:1], "kaufland")  # the other has no kaufland listing
    started = await web.post(
        "/publish",
        data={
            "csrf_token": token,
            "scope": "selection",
            "product_ids": ids,
            "marketplace": "kaufland",
            "dry_run": "1",
        },
    )
    job = await _finished(api, _job_id(started))
    assert (job["succeeded"], job["failed"]) == (1, 1)
    assert kaufland.skus() == {}  # nothing went live
    page = await web.get(f"/jobs/{job['id']}")
    assert "Checked by the marketplace (dry run)" in page.text
    failed = page.text.split('id="failed-items"')[1]
    assert f"product {ids[1]} has no kaufland listing: optimize it for kaufland first" in failed
    product = await web.get(f"/products/{ids[0]}")
    assert "dry run" in product.text.split("Publication history on kaufland")[1]
    assert "Not published to kaufland." in product.text


async def test_without_a_connection_the_publish_page_says_how_to_connect(
    signed_in: tuple[httpx.AsyncClient, str], api: httpx.AsyncClient
) -> None:
    web, token = signed_in
    ids = await _optimized(api, 1)
    page = await web.get("/publish")
    assert "No marketplace is connected yet" in page.text
    assert 'href="/settings/connections"' in page.text
    product = await web.get(f"/products/{ids[0]}")
    assert "Connect kaufland</a> to publish this listing" in product.text
    refused = await web.post(
        "/publish",
        data={"csrf_token": token, "product_ids": ids, "marketplace": "kaufland"},
    )
    assert refused.status_code == 409
    assert re.search(r'id="marketplace-error" role="alert">no kaufland connection', refused.text)
    none_chosen = await web.post("/publish", data={"csrf_token": token, "product_ids": ids})
    assert none_chosen.status_code == 422
    assert 'id="marketplace-error" role="alert">choose a marketplace' in none_chosen.text
    assert (await api.get("/api/jobs", params={"kind": "publish"})).json() == []


async def test_no_page_shows_a_secret(
    signed_in: tuple[httpx.AsyncClient, str],
    api: httpx.AsyncClient,
    kaufland: FakeKauflandServer,
) -> None:
    web, token = signed_in
    connection_id = await _connect(web, token, kaufland)
    ids = await _optimized(api, 1)
    started = await web.post(
        "/publish", data={"csrf_token": token, "product_ids": ids, "marketplace": "kaufland"}
    )
    job = await _finished(api, _job_id(started))
    pages = [
        "/",
        "/products",
        f"/products/{ids[0]}",
        "/publish",
        "/jobs",
        f"/jobs/{job['id']}",
        "/settings",
        "/settings/connections",
        f"/settings/connections?reconnect={connection_id}",
        f"/settings/connections?tested={connection_id}",
    ]
    for path in pages:
        page = await web.get(path)
        assert page.status_code == 200, path
        assert kaufland.secret_key not in page.text, path
