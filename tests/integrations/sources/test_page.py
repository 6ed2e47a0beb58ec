"""Product page import: real HTTP against a local server, the address policy, and extraction."""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import ssl
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import certifi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from listingflow.integrations.sources import page
from listingflow.integrations.sources.base import SourceRow
from listingflow.integrations.sources.page import (
    PageFetchError,
    extract_product,
    fetch_page,
    is_public_address,
    read_page,
)

PAGES = Path(__file__).parents[2] / "fixtures" / "pages"
ALLEGRO_PATH = "/oferta/sluchawki-bezprzewodowe-xyz-anc-bluetooth-5-3-czarne-13245678901"
AMAZON_PATH = "/Voltaro-Ladekabel-geflochten-2er-Pack/dp/B0C1234567/ref=sr_1_3"
SHOP_PATH = "/products/kubek-ceramiczny-fjord-350ml"
BLOG_PATH = "/poradniki/jak-wybrac-sluchawki-anc"
ROUTES = {
    ALLEGRO_PATH: "allegro_offer.html",
    AMAZON_PATH: "amazon_product.html",
    SHOP_PATH: "shop_opengraph.html",
    BLOG_PATH: "no_product.html",
}
PLATFORM = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,49}$")


class _Handler(BaseHTTPRequestHandler):
    server: _PageServer

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        port = self.server.server_address[1]
        if path in ROUTES:
            self._send(200, (PAGES / ROUTES[path]).read_bytes(), "text/html; charset=utf-8")
        elif path == "/go/start":
            self._redirect(302, "/go/middle")
        elif path == "/go/middle":
            self._redirect(301, f"http://127.0.0.1:{port}{ALLEGRO_PATH}")
        elif path == "/loop":
            self._redirect(302, "/loop")
        elif path == "/to-file":
            self._redirect(302, "file:///etc/passwd")
        elif path == "/to-other-host":
            self._redirect(302, f"http://127.0.0.2:{port}{ALLEGRO_PATH}")
        elif path == "/host":
            self._send(200, _product_page(self.headers["Host"]), "text/html")
        elif path == "/untyped":
            self._send(200, (PAGES / "shop_opengraph.html").read_bytes(), None)
        elif path == "/data.json":
            self._send(200, b'{"name": "not a page"}', "application/json")
        elif path == "/big":
            self._send(200, b"<html>" + b" " * 200_000 + b"</html>", "text/html")
        elif path == "/big-streamed":
            # No Content-Length: HTTP/1.0 ends the body at close, so only the stream cap helps.
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            for _ in range(32):
                self.wfile.write(b"<p>" + b"x" * 32_000 + b"</p>")
        elif path == "/slow":
            self.server.stopping.wait(2)
            self._send(200, b"<html>late</html>", "text/html")
        else:
            self._send(404, b"<html>not found</html>", "text/html")

    def _send(self, status: int, body: bytes, content_type: str | None) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, status: int, location: str) -> None:
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _PageServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stopping = threading.Event()  # lets the slow route end at teardown

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that give up early (timeouts, size caps) break the pipe on purpose


def _product_page(name: str) -> bytes:
    product = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": name,
        "offers": {"@type": "Offer", "price": "1.00", "priceCurrency": "PLN"},
    }
    script = f'<script type="application/ld+json">{json.dumps(product)}</script>'
    return f"<!doctype html><html><head>{script}</head><body></body></html>".encode()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = _PageServer()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.stopping.set()
    httpd.shutdown()
    httpd.server_close()


class _TlsHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = _product_page(self.headers["Host"])
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str, list[str]]]:
    """An https server on 127.0.0.1 whose self-signed certificate is only valid for shop.test."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shop.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("shop.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_names: list[str] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    context.sni_callback = lambda _sock, server_name, _ctx: server_names.append(server_name)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _TlsHandler)
    httpd.daemon_threads = True
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], str(cert_file), server_names
    httpd.shutdown()
    httpd.server_close()


# --- reading real pages over HTTP -----------------------------------------------------------


async def test_reads_an_allegro_offer_from_json_ld_graph(server: str) -> None:
    row = await read_page(server + ALLEGRO_PATH, allow_private=True)

    assert row.error is None
    assert row.index == 1
    data = row.data
    assert data["title"] == "Słuchawki bezprzewodowe XYZ ANC Bluetooth 5.3 czarne"
    assert Decimal(data["price"]) == Decimal("349.99")
    assert data["currency"] == "PLN"
    assert data["brand"] == "XYZ"
    assert data["source_id"] == "13245678901"
    assert data["source_url"] == server + ALLEGRO_PATH
    assert data["source_platform"] == "127.0.0.1"
    assert data["category"] == "Elektronika > RTV i AGD > Słuchawki"
    assert data["description"] == (
        "Słuchawki XYZ z aktywną redukcją szumów (ANC) & etui ładującym. "
        "Do 40 h pracy na jednym ładowaniu, szybkie ładowanie USB-C."
    )
    assert data["images"] == [
        "https://img.allegrostatic.test/original/03/aa/11/xyz-anc-front.jpg",
        "https://img.allegrostatic.test/original/03/aa/12/xyz-anc-side.jpg",
        server + "/galeria/xyz-anc-etui.jpg",
    ]
    assert data["attributes"] == {
        "gtin13": "5901234123457",
        "mpn": "XYZ-ANC-53-BK",
        "color": "czarny",
        "Łączność": "Bluetooth 5.3",
        "Czas pracy": "40 h",
        "Stan": "Nowy",
    }


async def test_reads_an_amazon_product_from_microdata_aggregate_offer(server: str) -> None:
    row = await read_page(server + AMAZON_PATH, allow_private=True)

    assert row.error is None
    data = row.data
    assert data["title"] == "Voltaro USB-C Ladekabel 2 m, 100 W, geflochten, 2er-Pack"
    assert Decimal(data["price"]) == Decimal("12.99")
    assert data["currency"] == "EUR"
    assert data["brand"] == "Voltaro"
    assert data["source_id"] == "B0C1234567"
    assert data["images"] == [
        server + "/images/I/71Vq8xYpQbL._AC_SL1500_.jpg",
        "https://m.media-amazon.test/images/I/61bC2kZ0aKL._AC_SL1500_.jpg",
    ]
    assert data["attributes"] == {"mpn": "VT-C2C-100-2M", "color": "Schwarz"}
    assert data["description"].startswith("Robustes USB-C auf USB-C Kabel & Ladekabel")


async def test_reads_a_shop_page_from_opengraph_product_tags(server: str) -> None:
    row = await read_page(server + SHOP_PATH, allow_private=True)

    assert row.error is None
    data = row.data
    assert data["title"] == "Kubek ceramiczny Fjord 350 ml \u2013 granatowy"
    assert Decimal(data["price"]) == Decimal("49.90")
    assert data["currency"] == "PLN"
    assert data["brand"] == "Pracownia Fjord"
    assert data["description"] == (
        "Ręcznie toczony kubek z kamionki & szkliwem reaktywnym. "
        "Można myć w zmywarce. Pojemność 350 ml."
    )
    assert data["images"] == [
        server + "/cdn/shop/products/kubek-fjord-granat-1.jpg?v=1701",
        "https://cdn.sklep.example.com/products/kubek-fjord-granat-2.jpg",
    ]
    assert re.fullmatch(r"url-[0-9a-f]{16}", data["source_id"])


async def test_a_blog_article_becomes_a_row_error_about_the_price(server: str) -> None:
    row = await read_page(server + BLOG_PATH, allow_private=True)

    assert row.error is not None
    assert row.error.field == "price"
    assert row.error.message == (
        f"The page at {server}{BLOG_PATH} has no product price "
        "(no schema.org Product offer or og price)"
    )


async def test_follows_redirects_and_reports_the_final_url(server: str) -> None:
    fetched = await fetch_page(server + "/go/start", allow_private=True)

    assert fetched.final_url == server + ALLEGRO_PATH
    assert fetched.status == 200
    assert fetched.encoding == "utf-8"
    row = await read_page(server + "/go/start", allow_private=True)
    assert row.data["source_url"] == server + ALLEGRO_PATH
    assert row.data["source_id"] == "13245678901"


async def test_stops_after_max_redirects(server: str) -> None:
    with pytest.raises(PageFetchError) as caught:
        await fetch_page(server + "/loop", allow_private=True, max_redirects=3)
    assert caught.value.reason == "too_many_redirects"


async def test_redirect_to_a_file_url_is_refused(server: str) -> None:
    with pytest.raises(PageFetchError) as caught:
        await fetch_page(server + "/to-file", allow_private=True)
    assert caught.value.reason == "bad_scheme"


async def test_every_redirect_hop_is_checked_against_the_address_policy(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the first hop's address counts as public here, so the test server is reachable
    # while the redirect to 127.0.0.2 must be refused before any connection is made.
    monkeypatch.setattr(page, "is_public_address", lambda ip: str(ip) == "127.0.0.1")

    with pytest.raises(PageFetchError) as caught:
        await fetch_page(server + "/to-other-host")
    assert caught.value.reason == "private_address"


async def test_connects_to_the_validated_address_and_keeps_the_host_name(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = server.rsplit(":", 1)[1]
    resolved: list[str] = []

    async def resolve(host: str, port: int) -> list[ipaddress.IPv4Address]:
        resolved.append(host)
        return [ipaddress.IPv4Address("127.0.0.1")]

    monkeypatch.setattr(page, "_resolve", resolve)

    row = await read_page(f"http://shop.test:{port}/host", allow_private=True)

    assert resolved == ["shop.test"]
    assert row.data["title"] == f"shop.test:{port}"
    assert row.data["source_url"] == f"http://shop.test:{port}/host"
    assert row.data["source_platform"] == "shop.test"


async def test_https_goes_to_the_validated_address_with_sni_and_certificate_for_the_name(
    tls_server: tuple[int, str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, ca_file, server_names = tls_server

    async def resolve(host: str, port: int) -> list[ipaddress.IPv4Address]:
        return [ipaddress.IPv4Address("127.0.0.1")]

    monkeypatch.setattr(page, "_resolve", resolve)
    # httpx builds its default context from certifi's bundle; trust only our test CA.
    monkeypatch.setattr(certifi, "where", lambda: ca_file)

    row = await read_page(f"https://shop.test:{port}/p", allow_private=True)
    assert row.data["title"] == f"shop.test:{port}"
    assert server_names[-1] == "shop.test"

    with pytest.raises(PageFetchError) as caught:
        await fetch_page(f"https://other.test:{port}/p", allow_private=True)
    assert caught.value.reason == "connect"
    assert "not valid for 'other.test'" in str(caught.value.__cause__)


async def test_html_without_a_content_type_is_accepted(server: str) -> None:
    fetched = await fetch_page(server + "/untyped", allow_private=True)

    assert fetched.content_type == ""
    assert fetched.body.startswith(b"<!DOCTYPE html>")


# --- refusals ---------------------------------------------------------------------------------


async def test_a_loopback_url_is_refused_by_default(server: str) -> None:
    with pytest.raises(PageFetchError) as caught:
        await fetch_page(server + ALLEGRO_PATH)
    assert caught.value.reason == "private_address"
    assert "private or local network" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/",
        "http://[::1]/",
        "http://2130706433/",  # 127.0.0.1 as one decimal number
        "http://169.254.169.254/latest/meta-data/",
    ],
)
async def test_local_hosts_are_refused_before_connecting(url: str) -> None:
    with pytest.raises(PageFetchError) as caught:
        await fetch_page(url)
    assert caught.value.reason == "private_address"


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/offer.html",
        "gopher://example.com/",
        "data:text/html,<h1>hi</h1>",
        "example.com/product",
    ],
)
async def test_non_http_urls_are_refused(url: str) -> None:
    with pytest.raises(PageFetchError) as caught:
        await fetch_page(url)
    assert caught.value.reason == "bad_scheme"


async def test_urls_with_credentials_are_refused() -> None:
    with pytest.raises(PageFetchError) as caught:
        await fetch_page("http://user:secret@example.com/product")
    assert caught.value.reason == "bad_url"


async def test_a_page_over_the_declared_size_limit_is_refused(server: str) -> None:
    with pytest.raises(PageFetchError) as caught:
        await fetch_page(server + "/big", allow_private=True, max_bytes=100_000)
    assert caught.value.reason == "too_large"


async def test_a_streamed_page_over_the_size_limit_is_cut_off(server: str) -> None:
    with pytest.raises(PageFetchError) as caught:
        await fetch_page(server + "/big-streamed", allow_private=True, max_bytes=100_000)
    assert caught.value.reason == "too_large"


async def test_a_slow_server_times_out(server: str) -> None:
    with pytest.raises(PageFetchError) as caught:
        await fetch_page(server + "/slow", allow_private=True, timeout=0.5)
    assert caught.value.reason == "timeout"
    assert caught.value.retryable


async def test_a_non_html_response_is_refused(server: str) -> None:
    with pytest.raises(PageFetchError) as caught:
        await fetch_page(server + "/data.json", allow_private=True)
    assert caught.value.reason == "not_html"


async def test_a_missing_page_reports_its_http_status(server: str) -> None:
    with pytest.raises(PageFetchError) as caught:
        await fetch_page(server + "/nothing-here", allow_private=True)
    assert caught.value.reason == "http_status"
    assert "404" in str(caught.value)
    assert not caught.value.retryable


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "100.64.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::7f00:1",
        "2002:7f00:1::",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "ff02::1",
    ],
)
def test_non_global_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_global_addresses_are_public(address: str) -> None:
    assert is_public_address(address)


# --- extraction details -----------------------------------------------------------------------


def test_extraction_maps_marketplace_hosts_to_platforms() -> None:
    html = (PAGES / "allegro_offer.html").read_bytes()

    allegro = extract_product(html, url="https://allegro.pl" + ALLEGRO_PATH)
    amazon = extract_product(html, url="https://www.amazon.co.uk/x/dp/B0C1234567")
    ebay = extract_product(html, url="https://www.ebay.de/itm/123456789012")

    assert allegro.data["source_platform"] == "allegro"
    assert amazon.data["source_platform"] == "amazon"
    assert ebay.data["source_platform"] == "ebay"
    assert allegro.data["images"][-1] == "https://allegro.pl/galeria/xyz-anc-etui.jpg"


def test_a_same_site_canonical_url_gives_a_stable_id_despite_tracking() -> None:
    html = (PAGES / "shop_opengraph.html").read_bytes()
    base = "https://sklep.example.com" + SHOP_PATH

    ids = {
        extract_product(html, url=url).data["source_id"]
        for url in (base, base + "?utm_source=newsletter", base + "?fbclid=abc#opinie")
    }

    assert len(ids) == 1


def test_another_sites_canonical_url_is_ignored_for_the_id() -> None:
    html = (PAGES / "allegro_offer.html").read_bytes()

    row = extract_product(html, url="https://mirror.example.com/copied-offer")

    assert row.data["source_id"].startswith("url-")


def test_sku_wins_over_the_url_id_and_json_ld_lists_are_searched() -> None:
    product = {
        "@context": "https://schema.org",
        "@type": ["Product", "Thing"],
        "name": "Lampa  biurkowa &quot;Nord&quot;",
        "sku": "LMP-001",
        "brand": "Nordlys",
        "category": ["Dom", "Oświetlenie"],
        "image": {"@type": "ImageObject", "url": "//cdn.example.com/lampa.jpg"},
        "offers": [
            {"@type": "AggregateOffer", "offers": [{"@type": "Offer", "price": 199}]},
        ],
    }
    html = f'<script type="application/ld+json">[{{"@type": "WebSite"}}, {json.dumps(product)}]'

    row = extract_product(html, url="https://allegro.pl/oferta/lampa-nord-9876543210")

    assert row.error is None
    assert row.data["title"] == 'Lampa biurkowa "Nord"'
    assert row.data["source_id"] == "LMP-001"
    assert row.data["price"] == "199"
    assert row.data["brand"] == "Nordlys"
    assert row.data["category"] == "Dom > Oświetlenie"
    assert row.data["images"] == ["https://cdn.example.com/lampa.jpg"]
    assert "currency" not in row.data


@pytest.mark.parametrize(
    ("shown", "expected"),
    [
        ("1 299,00 zł", "1299.00"),
        ("1.299,00", "1299.00"),
        ("$1,299.50", "1299.50"),
        ("1,299", "1299"),
        ("129,9", "129.9"),
        ("49.90", "49.90"),
    ],
)
def test_og_prices_in_local_formats_become_decimal_strings(shown: str, expected: str) -> None:
    html = (
        '<html><head><meta property="og:title" content="Kubek">'
        f'<meta property="product:price:amount" content="{shown}"></head></html>'
    )

    row = extract_product(html, url="https://sklep.example.com/kubek")

    assert row.data["price"] == expected


def test_a_page_without_a_name_reports_the_title() -> None:
    html = (
        '<html><head><meta property="product:price:amount" content="10">'
        '<meta property="product:price:currency" content="eur"></head></html>'
    )

    row = extract_product(html, url="https://sklep.example.com/x")

    assert row.error is not None
    assert row.error.field == "title"
    assert row.data["currency"] == "EUR"


def test_a_windows_1250_page_is_decoded_from_its_meta_charset() -> None:
    html = (
        '<html><head><meta charset="windows-1250">'
        '<meta property="og:title" content="Żółta łódka">'
        '<meta property="product:price:amount" content="5"></head></html>'
    ).encode("cp1250")

    row = extract_product(html, url="https://sklep.example.com/lodka")

    assert row.data["title"] == "Żółta łódka"


# --- properties ---------------------------------------------------------------------------------

_KEYS = st.sampled_from(
    [
        "@type",
        "@graph",
        "name",
        "offers",
        "price",
        "lowPrice",
        "priceCurrency",
        "priceSpecification",
        "image",
        "url",
        "contentUrl",
        "brand",
        "sku",
        "category",
        "description",
        "additionalProperty",
        "value",
        "itemListElement",
        "position",
        "item",
    ]
)
_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["Product", "Offer", "AggregateOffer", "BreadcrumbList", "<p>a</p>"])
)
_JSON = st.recursive(
    _LEAVES,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(_KEYS | st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=25,
)
_META = st.tuples(
    st.sampled_from(["og:title", "og:image", "og:type", "product:price:amount", "og:url"]),
    st.text(max_size=20),
)


@st.composite
def _pages(draw: st.DrawFn) -> str:
    data = json.dumps(draw(_JSON))
    metas = "".join(
        f'<meta property="{key}" content="{value.replace(chr(34), "")}">'
        for key, value in draw(st.lists(_META, max_size=4))
    )
    noise = draw(st.text(max_size=40))
    return (
        f"<html><head>{metas}<script type='application/ld+json'>{data}</script></head>"
        f"<body>{noise}</body></html>"
    )


def _assert_sane(row: SourceRow) -> None:
    assert isinstance(row, SourceRow)
    assert row.index == 1
    # field None would mean the catch-all fired: extraction itself must cope with the page.
    assert row.error is None or row.error.field in ("price", "title")
    if "price" in row.data:
        Decimal(row.data["price"])
    if "source_platform" in row.data:
        assert PLATFORM.match(row.data["source_platform"])


@settings(max_examples=150, deadline=None)
@given(_pages())
def test_extraction_never_raises_on_odd_structured_data(html: str) -> None:
    _assert_sane(extract_product(html, url="https://sklep.example.com/p/1"))


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.text(), st.binary()), st.text(max_size=40))
def test_extraction_never_raises_on_arbitrary_input(html: str | bytes, url: str) -> None:
    _assert_sane(extract_product(html, url=url))
