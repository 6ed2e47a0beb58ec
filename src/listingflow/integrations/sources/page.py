"""Product import from a product page URL: SSRF-safe fetching and schema.org/OpenGraph extraction.

Owns turning one seller-supplied URL into one SourceRow; validation happens in the import service.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html as html_lib
import ipaddress
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final, TypedDict, Unpack
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import extruct
import httpx
import lxml.etree
import lxml.html
import structlog
from w3lib.encoding import html_to_unicode

from listingflow.integrations.sources.base import RowError, SourceReaderError, SourceRow

log = structlog.get_logger()

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SCHEMES: Final = frozenset({"http", "https"})
_HTML_TYPES: Final = frozenset({"text/html", "application/xhtml+xml"})
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")


class PageFetchError(SourceReaderError):
    """A product page could not be fetched; the message is for the seller, `reason` for code.

    reason: bad_url, bad_scheme, dns, private_address, connect, timeout, too_many_redirects,
    http_status, not_html, too_large. retryable: worth trying again later (timeouts, 5xx, 429).
    """

    def __init__(self, reason: str, message: str, *, url: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.url = url
        self.retryable = retryable


@dataclass(slots=True, frozen=True)
class FetchedPage:
    """An HTML page as received; encoding is the HTTP charset, None when the server sent none."""

    final_url: str
    status: int
    content_type: str
    body: bytes
    encoding: str | None


class FetchOptions(TypedDict, total=False):
    max_bytes: int
    timeout: float
    max_redirects: int
    allow_private: bool
    user_agent: str


def is_public_address(address: str | IPAddress) -> bool:
    """True when the address is globally routable, so fetching it cannot reach our own network.

    IPv4 inside IPv6 (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16) is judged by the
    IPv4 address it carries, because that is where the packets end up.
    """
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(embedded)
    # is_global alone lets multicast through, and the rest are spelled out for the reader.
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


async def fetch_page(
    url: str,
    *,
    max_bytes: int = 5_000_000,
    timeout: float = 10.0,  # noqa: ASYNC109 - the whole fetch's budget, applied with asyncio.timeout
    max_redirects: int = 5,
    allow_private: bool = False,
    user_agent: str = "ListingFlow/0.1 (+product import)",
) -> FetchedPage:
    """Fetch an HTML page the way a seller's browser would, without letting the URL reach us.

    Every hop (the URL and each redirect, followed by hand) must be http(s) without user:pass@,
    and every address its host resolves to must be public unless allow_private. Against DNS
    rebinding the request then goes to the validated IP itself, not to the name: the URL's host
    is swapped for the IP while the Host header keeps the name and, for https, the
    `sni_hostname` request extension makes httpcore send SNI and verify the certificate for the
    name. Environment proxies are ignored (trust_env=False) since a proxy would resolve again.
    `timeout` bounds the whole fetch, redirects and DNS included; the body is streamed and
    refused past max_bytes (decoded), and only text/html or application/xhtml+xml is accepted.
    """
    try:
        async with asyncio.timeout(timeout):
            return await _fetch(
                url,
                max_bytes=max_bytes,
                io_timeout=timeout,
                max_redirects=max_redirects,
                allow_private=allow_private,
                user_agent=user_agent,
            )
    except PageFetchError as error:
        log.info("page.fetch_failed", url=url, reason=error.reason)
        raise
    except (TimeoutError, httpx.TimeoutException):
        log.info("page.fetch_failed", url=url, reason="timeout")
        raise PageFetchError(
            "timeout",
            f"The page at {url} did not answer within {timeout:g} seconds.",
            url=url,
            retryable=True,
        ) from None
    except httpx.HTTPError as error:
        log.info("page.fetch_failed", url=url, reason="connect", error=type(error).__name__)
        raise PageFetchError(
            "connect", f"The page at {url} could not be downloaded.", url=url, retryable=True
        ) from error


async def read_page(url: str, **fetch_options: Unpack[FetchOptions]) -> SourceRow:
    """Fetch a product page and map it to one SourceRow (index 1)."""
    page = await fetch_page(url, **fetch_options)
    return extract_product(page.body, url=page.final_url, encoding=page.encoding)


async def _fetch(
    url: str,
    *,
    max_bytes: int,
    io_timeout: float,
    max_redirects: int,
    allow_private: bool,
    user_agent: str,
) -> FetchedPage:
    current = _checked_url(url, url)
    headers = {
        "User-Agent": user_agent,
        "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
        "Accept-Language": "pl,en;q=0.8",
    }
    # No keep-alive: a pooled connection is keyed by IP, and must not serve another host name.
    async with httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        timeout=io_timeout,
        headers=headers,
        limits=httpx.Limits(max_keepalive_connections=0),
    ) as client:
        for hop in range(max_redirects + 1):
            addresses = await _checked_addresses(current, url, allow_private=allow_private)
            response = await _send(client, current, addresses, url)
            try:
                location = response.headers.get("location")
                if response.status_code in _REDIRECTS and location:
                    if hop == max_redirects:
                        raise PageFetchError(
                            "too_many_redirects",
                            f"The page at {url} redirects more than {max_redirects} times.",
                            url=url,
                        )
                    try:
                        target = current.join(location)
                    except httpx.InvalidURL:
                        raise PageFetchError(
                            "bad_url",
                            f"The page at {url} redirects to an invalid address.",
                            url=url,
                        ) from None
                    current = _checked_url(target, url)
                    continue
                return await _read_html(response, current, url, max_bytes=max_bytes)
            finally:
                await response.aclose()
    raise AssertionError("unreachable: the loop returns or raises")


def _checked_url(target: str | httpx.URL, url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(target)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise PageFetchError("bad_url", f"{url} is not a valid web address.", url=url) from None
    if parsed.scheme not in _SCHEMES:
        shown = f"{parsed.scheme}:" if parsed.scheme else "an address without http(s)://"
        raise PageFetchError(
            "bad_scheme",
            f"Only http:// and https:// pages can be imported, not {shown} ({target}).",
            url=url,
        )
    if parsed.userinfo:
        raise PageFetchError(
            "bad_url",
            "Page addresses with a user name or password (user:pass@) cannot be imported.",
            url=url,
        )
    if not parsed.raw_host:
        raise PageFetchError("bad_url", f"{url} is not a valid web address.", url=url)
    return parsed


async def _checked_addresses(
    target: httpx.URL, url: str, *, allow_private: bool
) -> list[IPAddress]:
    host = target.raw_host.decode("ascii")
    port = target.port or (443 if target.scheme == "https" else 80)
    transient = False
    try:
        addresses = await _resolve(host, port)
    except socket.gaierror as error:
        addresses, transient = [], error.errno == socket.EAI_AGAIN
    except (OSError, UnicodeError, ValueError):
        addresses = []
    if not addresses:
        raise PageFetchError(
            "dns", f"The host {target.host} could not be found.", url=url, retryable=transient
        )
    if not allow_private and not all(is_public_address(ip) for ip in addresses):
        # Refuse if ANY address is private: a name with one public and one private record
        # is exactly how rebinding attacks pick the address we would connect to.
        raise PageFetchError(
            "private_address",
            f"{target} points to a private or local network address and cannot be imported.",
            url=url,
        )
    return addresses


async def _resolve(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for family, _, _, _, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            ip = ipaddress.ip_address(sockaddr[0])
            if ip not in addresses:
                addresses.append(ip)
    return addresses


async def _send(
    client: httpx.AsyncClient, target: httpx.URL, addresses: list[IPAddress], url: str
) -> httpx.Response:
    host = target.raw_host.decode("ascii")
    extensions = {"sni_hostname": host} if target.scheme == "https" else {}
    failure: httpx.ConnectError | None = None
    for ip in addresses:
        request = client.build_request(
            "GET",
            target.copy_with(host=str(ip)),
            headers={"Host": target.netloc.decode("ascii")},
            extensions=extensions,
        )
        try:
            return await client.send(request, stream=True)
        except httpx.ConnectError as error:  # like a browser, try the host's next address
            failure = error
    raise PageFetchError(
        "connect", f"Could not connect to {target.host}.", url=url, retryable=True
    ) from failure


async def _read_html(
    response: httpx.Response, target: httpx.URL, url: str, *, max_bytes: int
) -> FetchedPage:
    status = response.status_code
    if not 200 <= status < 300:
        raise PageFetchError(
            "http_status",
            f"The page at {target} answered with HTTP status {status}.",
            url=url,
            retryable=status >= 500 or status == 429,
        )
    content_type = response.headers.get("content-type", "")
    media_type = content_type.split(";")[0].strip().lower()
    if media_type and media_type not in _HTML_TYPES:
        raise PageFetchError(
            "not_html", f"The page at {target} is not a web page ({media_type}).", url=url
        )
    too_large = PageFetchError(
        "too_large", f"The page at {target} is larger than {max_bytes:,} bytes.", url=url
    )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise too_large
    if not media_type and not _looks_like_html(bytes(body[:2048])):
        raise PageFetchError(
            "not_html", f"The page at {target} is not a web page (no content type).", url=url
        )
    log.info("page.fetched", url=str(target), status=status, size=len(body))
    return FetchedPage(
        final_url=str(target),
        status=status,
        content_type=content_type,
        body=bytes(body),
        encoding=response.charset_encoding,
    )


def _looks_like_html(head: bytes) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith((b"<!doctype html", b"<html", b"<?xml")) or any(
        tag in start for tag in (b"<html", b"<head", b"<body")
    )


# --- extraction ---------------------------------------------------------------------------

_PRODUCT_TYPES: Final = frozenset({"product", "productgroup", "individualproduct", "productmodel"})
_ATTRIBUTE_KEYS: Final = (
    "gtin",
    "gtin8",
    "gtin12",
    "gtin13",
    "gtin14",
    "mpn",
    "color",
    "material",
    "size",
    "model",
)
_URL_IDS: Final = (
    re.compile(r"/oferta/(?:[^/]*-)?(\d{6,})/?$"),  # Allegro offer number
    re.compile(r"/(?:dp|gp/product|gp/aw/d)/([A-Z0-9]{10})(?:/|$)"),  # Amazon ASIN
    re.compile(r"/itm/(?:[^/]+/)?(\d{9,})/?$"),  # eBay item number
)
_MARKETPLACE_HOSTS: Final = (
    ("allegro", re.compile(r"(?:^|\.)allegro\.(?:pl|cz|sk|hu)$")),
    ("amazon", re.compile(r"(?:^|\.)amazon\.(?:[a-z]{2,3}|co\.[a-z]{2}|com\.[a-z]{2})$")),
    ("ebay", re.compile(r"(?:^|\.)ebay\.(?:[a-z]{2,3}|co\.[a-z]{2}|com\.[a-z]{2})$")),
)
_PLATFORM: Final = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,49}$")
_TRACKING: Final = frozenset({"fbclid", "gclid", "gbraid", "wbraid", "msclkid", "yclid", "mc_cid"})
_PRICE_NUMBER: Final = re.compile(r"\d(?:[\d.,\s'\u00a0\u202f]*\d)?")
_MARKUP: Final = re.compile(r"<[A-Za-z/!]")
_BLOCK_TAGS: Final = frozenset(
    {"p", "br", "li", "div", "tr", "td", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol"}
)
_MAX_IMAGES: Final = 100
_MAX_DEPTH: Final = 16


def extract_product(html: bytes | str, *, url: str, encoding: str | None = None) -> SourceRow:
    """Map a product page to a SourceRow (index 1) with v1 Product fields.

    Prefers a schema.org Product (JSON-LD, then microdata), fills gaps from OpenGraph. When no
    title or price is found the row carries an error explaining why, so the seller sees it.
    Never raises: a page that cannot be parsed becomes a row error too.
    """
    try:
        return _extract(html, url=url, encoding=encoding)
    except Exception:  # arbitrary web content must end as a row error, never as a crash
        log.warning("page.extract_failed", url=url, exc_info=True)
        return SourceRow(
            index=1,
            data={"source_url": url},
            error=RowError(1, None, f"The page at {url} could not be read as a product page."),
        )


def _extract(html: bytes | str, *, url: str, encoding: str | None) -> SourceRow:
    tree = _parse(html, encoding)
    base = _base_url(tree, url)
    jsonld = _syntax(tree, "json-ld", base)
    microdata = _syntax(tree, "microdata", base)
    opengraph = _syntax(tree, "opengraph", base)
    og = opengraph[0] if opengraph else {}

    candidates = [d for d in _walk(jsonld + microdata) if _types(d) & _PRODUCT_TYPES]
    priced = [d for d in candidates if _offer_price(d.get("offers"))[0]]
    product: dict[str, Any] = (priced or candidates or [{}])[0]

    title = _clean(_name(product.get("name"))) or _clean(_og(og, "og:title"))
    price, currency = _offer_price(product.get("offers"))
    if price is None:
        price = _price(_og(og, "product:price:amount", "og:price:amount"))
    currency = currency or _clean(_og(og, "product:price:currency", "og:price:currency"))
    description = _plain_text(_first(product.get("description"))) or _plain_text(
        _og(og, "og:description")
    )
    images = _images(product.get("image"), base) or _images(
        og.get("og:image") or og.get("og:image:url"), base
    )

    data: dict[str, Any] = {
        "source_platform": _platform(url),
        "source_id": _source_id(product, og, tree, url),
        "source_url": url,
        "title": title,
        "description": description,
        "category": _category(product.get("category"))
        or _clean(_og(og, "product:category"))
        or _breadcrumbs(jsonld + microdata, title),
        "brand": _clean(_name(product.get("brand"))) or _clean(_og(og, "product:brand")),
        "price": price,
        "currency": currency.upper() if currency else None,
        "images": images,
        "attributes": _attributes(product),
    }
    data = {key: value for key, value in data.items() if value not in (None, "", [])}

    error = None
    if price is None:
        error = RowError(
            1,
            "price",
            f"The page at {url} has no product price (no schema.org Product offer or og price)",
        )
    elif not title:
        error = RowError(
            1,
            "title",
            f"The page at {url} has no product name (no schema.org Product name or og:title)",
        )
    return SourceRow(index=1, data=data, error=error)


def _parse(html: bytes | str, encoding: str | None) -> lxml.html.HtmlElement | None:
    if isinstance(html, bytes):
        # HTTP charset, then BOM and <meta charset>, then detection: Polish shops still send
        # Windows-1250 or ISO-8859-2 without saying so in the header.
        _, text = html_to_unicode(f"text/html; charset={encoding}" if encoding else None, html)
    else:
        text = html
    # Re-encoded so lxml never sees a str with an XML encoding declaration (which it rejects).
    data = text.encode("utf-8", "replace")
    if not data.strip():
        return None
    try:
        return lxml.html.document_fromstring(
            data, parser=lxml.html.HTMLParser(encoding="utf-8", recover=True)
        )
    except (lxml.etree.ParserError, ValueError):
        return None


def _base_url(tree: lxml.html.HtmlElement | None, url: str) -> str:
    if tree is not None:
        for href in tree.xpath("//base/@href")[:1]:
            candidate = urljoin(url, str(href).strip())
            if urlsplit(candidate).scheme in _SCHEMES:
                return candidate
    return url


def _syntax(tree: lxml.html.HtmlElement | None, syntax: str, base: str) -> list[dict[str, Any]]:
    if tree is None:
        return []
    try:
        found = extruct.extract(
            tree, base_url=base, syntaxes=[syntax], uniform=True, with_og_array=True
        )
    except Exception:  # one broken block (bad JSON-LD, odd microdata) must not hide the others
        log.debug("page.syntax_unreadable", syntax=syntax, exc_info=True)
        return []
    return [item for item in found.get(syntax, []) if isinstance(item, dict)]


def _walk(value: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Every dict in document order: finds Products inside @graph, lists and mainEntity."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from _walk(child, depth + 1)
    elif isinstance(value, list):
        for child in value:
            yield from _walk(child, depth + 1)


def _types(item: dict[str, Any]) -> set[str]:
    raw = item.get("@type")
    names = raw if isinstance(raw, list) else [raw]
    return {
        name.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1].rsplit(":", 1)[-1].lower()
        for name in names
        if isinstance(name, str)
    }


def _first(value: Any) -> Any:
    while isinstance(value, list):
        value = value[0] if value else None
    return value


def _name(value: Any) -> Any:
    value = _first(value)
    return value.get("name") if isinstance(value, dict) else value


def _og(og: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = _first(og.get(key))
        if isinstance(value, str) and value.strip():
            return value
    return None


def _clean(value: Any) -> str | None:
    value = _first(value)
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        return None
    text = " ".join(html_lib.unescape(str(value)).split())
    return text or None


def _plain_text(value: Any) -> str | None:
    if not isinstance(value, str) or not _MARKUP.search(value):
        return _clean(value)
    try:
        root = lxml.html.fragment_fromstring(value, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return _clean(value)
    for element in list(root.iter("script", "style")):
        element.drop_tree()
    for element in root.iter():
        # Block boundaries become spaces, else "<p>a</p><p>b</p>" would read "ab".
        if isinstance(element.tag, str) and element.tag.lower() in _BLOCK_TAGS:
            element.tail = " " + (element.tail or "")
    return " ".join(root.text_content().split()) or None


def _price(value: Any) -> str | None:
    """A plain decimal string ("1299.00") from 1299, 1299.0, "1 299,00 zł" or "$1,299.00"."""
    value = _first(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        # repr keeps 19.99 as 19.99; Decimal refuses nothing here but nan/inf are dropped below.
        amount = Decimal(repr(value))
        return format(amount, "f") if amount.is_finite() else None
    if not isinstance(value, str):
        return None
    match = _PRICE_NUMBER.search(html_lib.unescape(value))
    if not match:
        return None
    text = re.sub(r"[\s'\u00a0\u202f]", "", match.group())
    comma, dot = text.rfind(","), text.rfind(".")
    if comma >= 0 and dot >= 0:
        decimal_mark = "," if comma > dot else "."
        thousands = "." if decimal_mark == "," else ","
        text = text.replace(thousands, "").replace(decimal_mark, ".")
    elif comma >= 0:
        # "129,99" is Polish decimals; "1,299" or "1,299,000" are English thousands.
        single = text.count(",") == 1 and len(text) - comma - 1 in (1, 2)
        text = text.replace(",", ".") if single else text.replace(",", "")
    elif text.count(".") > 1:
        text = text.replace(".", "")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None
    return format(amount, "f") if amount.is_finite() else None


def _offer_price(offers: Any, depth: int = 0) -> tuple[str | None, str | None]:
    """Price and currency of the first priced Offer / AggregateOffer (lowPrice as a fallback)."""
    if depth > 3:
        return None, None
    for offer in offers if isinstance(offers, list) else [offers]:
        if not isinstance(offer, dict):
            continue
        currency = _clean(offer.get("priceCurrency"))
        for key in ("price", "lowPrice"):
            price = _price(offer.get(key))
            if price is not None:
                return price, currency
        specs = offer.get("priceSpecification")
        for spec in specs if isinstance(specs, list) else [specs]:
            if isinstance(spec, dict) and (price := _price(spec.get("price"))) is not None:
                return price, _clean(spec.get("priceCurrency")) or currency
        price, nested_currency = _offer_price(offer.get("offers"), depth + 1)
        if price is not None:
            return price, nested_currency or currency
    return None, None


def _images(value: Any, base: str) -> list[str]:
    found: dict[str, None] = {}
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict):
            item = _first(item.get("url") or item.get("contentUrl"))
        if not isinstance(item, str) or not item.strip():
            continue
        try:
            absolute = urljoin(base, item.strip())
        except ValueError:
            continue
        if urlsplit(absolute).scheme in _SCHEMES:
            found[absolute] = None
    return list(found)[:_MAX_IMAGES]


def _category(value: Any) -> str | None:
    if isinstance(value, list):
        parts = [part for part in (_clean(_name(v)) for v in value) if part]
        return " > ".join(parts) or None
    return _clean(_name(value))


def _breadcrumbs(items: list[dict[str, Any]], title: str | None) -> str | None:
    """The first BreadcrumbList as "A > B > C", without the home page and the product itself."""
    for trail in _walk(items):
        if "breadcrumblist" not in _types(trail):
            continue
        crumbs: list[tuple[float, str]] = []
        elements = trail.get("itemListElement")
        for order, element in enumerate(elements if isinstance(elements, list) else []):
            if not isinstance(element, dict):
                continue
            item = element.get("item")
            link = item.get("@id") or item.get("url") if isinstance(item, dict) else item
            if isinstance(link, str) and urlsplit(link).path in ("", "/"):
                continue  # the home page crumb ("Allegro", "Home") is not a category
            name = _clean(element.get("name")) or _clean(_name(item))
            if name:
                crumbs.append((_position(element.get("position"), order), name))
        names = [name for _, name in sorted(crumbs, key=lambda crumb: crumb[0])]
        if names and title and names[-1].casefold() == title.casefold():
            names.pop()
        if names:
            return " > ".join(names)
    return None


def _position(value: Any, default: int) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float(default)


def _attributes(product: dict[str, Any]) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for key in _ATTRIBUTE_KEYS:
        value = _clean(_name(product.get(key)))
        if value:
            attributes[key] = value
    properties = product.get("additionalProperty")
    for prop in properties if isinstance(properties, list) else [properties]:
        if not isinstance(prop, dict):
            continue
        name, value = _clean(prop.get("name")), _clean(prop.get("value"))
        if name and value:
            unit = _clean(prop.get("unitText"))
            attributes.setdefault(name, f"{value} {unit}" if unit else value)
    return attributes


def _source_id(
    product: dict[str, Any], og: dict[str, Any], tree: lxml.html.HtmlElement | None, url: str
) -> str:
    for value in (product.get("sku"), product.get("productID"), og.get("product:retailer_item_id")):
        text = _clean(value)
        if text:
            return text[:255]
    canonical = _canonical(tree, og, url)
    for candidate in (canonical, url):
        path = urlsplit(candidate).path
        for pattern in _URL_IDS:
            if match := pattern.search(path):
                return match.group(1)
    digest = hashlib.sha1(_normalized(canonical).encode(), usedforsecurity=False).hexdigest()
    return f"url-{digest[:16]}"


def _canonical(tree: lxml.html.HtmlElement | None, og: dict[str, Any], url: str) -> str:
    """The page's canonical URL, trusted only on the page's own host (a page cannot claim
    to be another site's product and so overwrite it)."""
    hrefs: list[str] = []
    if tree is not None:
        for link in tree.xpath("//link[@rel and @href]"):
            if "canonical" in str(link.get("rel", "")).lower().split():
                hrefs.append(str(link.get("href")))
    if isinstance(og_url := _og(og, "og:url"), str):
        hrefs.append(og_url)
    for href in hrefs:
        try:
            candidate = urljoin(url, href.strip())
        except ValueError:
            continue
        if urlsplit(candidate).scheme in _SCHEMES and _host(candidate) == _host(url):
            return candidate
    return url


def _normalized(url: str) -> str:
    """The URL without fragment and tracking parameters, so one product keeps one id."""
    parts = urlsplit(url)
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not key.lower().startswith("utm_") and key.lower() not in _TRACKING
    ]
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", urlencode(query), "")
    )


def _host(url: str) -> str:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.rstrip(".").removeprefix("www.")


def _platform(url: str) -> str:
    host = _host(url)
    with contextlib.suppress(UnicodeError):
        host = host.encode("idna").decode("ascii")
    for platform, pattern in _MARKETPLACE_HOSTS:
        if pattern.search(host):
            return platform
    if _PLATFORM.match(host):
        return host
    cleaned = re.sub(r"[^a-z0-9_.\-]", "-", host)[:50].lstrip("._-")
    return cleaned if _PLATFORM.match(cleaned) else "web"
