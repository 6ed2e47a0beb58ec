"""A local Kaufland Marketplace Seller API v2 for tests (shared/reference/marketplace-apis.md §4).

Every request under /v2 must carry Shop-Client-Key, Shop-Timestamp and Shop-Signature (and a
User-Agent): the server recomputes hex(HMAC-SHA256(secret, METHOD\\nURL\\nBODY\\nTIMESTAMP)) from
the URL and the raw body it received and answers 401 to a wrong signature, an unknown key or a
timestamp more than `max_skew` seconds away. Answers wrap data in `{"data": ...}` (lists add
`pagination`); errors are `{"message", "errors": [{"field", "message"}]}` [U].

`PUT /product-data?locale=` takes `{"ean": [ean], "attributes": {name: [strings]}}`; with
`strict_product_data` missing mandatory attributes (title, description, manufacturer, picture)
are refused with 400 (the real API accepts them and reports them in the product status).
Units: `POST /units?storefront=` (storefront in the query only; prices integer cents within the
storefront's range; an id_offer already used with another EAN or condition is refused, as
documented; the same id_offer and EAN again makes a second unit, so a client that does not
look before creating shows up as a duplicate), GET (filters id_offer, ean), PATCH (writable
fields only), DELETE. Faults come from tests/fakes/marketplace_faults.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.fakes.marketplace_faults import Faults
from tests.fakes.server import LocalServer

STOREFRONTS = {
    "de": "EUR",
    "at": "EUR",
    "sk": "EUR",
    "cz": "CZK",
    "pl": "PLN",
    "fr": "EUR",
    "it": "EUR",
}
MAX_CENTS = {"EUR": 100_000_000, "CZK": 2_500_000_000}
LOCALES = ("de-DE", "de-AT", "cs-CZ", "sk-SK", "pl-PL", "fr-FR", "it-IT", "en-GB")
MANDATORY = ("title", "description", "manufacturer", "picture")
CONDITIONS = ("NEW", "USED___AS_NEW", "USED___VERY_GOOD", "USED___GOOD", "USED___ACCEPTABLE")
WRITABLE = (
    "amount",
    "listing_price",
    "minimum_price",
    "handling_time",
    "note",
    "id_shipping_group",
    "id_warehouse",
    "status",
)


def _error(status: int, message: str, *errors: tuple[str, str]) -> JSONResponse:
    body: dict[str, Any] = {"message": message}
    if errors:
        body["errors"] = [{"field": name, "message": text} for name, text in errors]
    return JSONResponse(body, status_code=status)


def signature(secret: str, method: str, url: str, body: str, timestamp: str) -> str:
    message = "\n".join([method, url, body, timestamp]).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class FakeKauflandServer(LocalServer):
    def __init__(
        self,
        *,
        client_key: str = "k" * 32,
        secret_key: str = "kaufland-secret-key-0123456789abcdef",
        max_skew: float = 300,
        strict_product_data: bool = True,
        rate_limit: float | None = None,
        retry_after: float = 1.0,
        latency: float = 0.0,
    ) -> None:
        self.keys = {client_key: secret_key}
        self.client_key = client_key
        self.secret_key = secret_key
        self.max_skew = max_skew
        self.strict_product_data = strict_product_data
        self.faults = Faults(rate_limit=rate_limit, retry_after=retry_after, latency=latency)
        self._lock = threading.RLock()
        self.product_data: dict[tuple[str, str], dict[str, list[str]]] = {}  # (ean, locale)
        self.units: dict[int, dict[str, Any]] = {}
        self.bodies: list[bytes] = []  # raw unit bodies received (prices as sent)
        self.refused_signatures = 0
        self._next_unit = 400_000_000
        super().__init__()
        self.app = self._build_app()

    @property
    def base_url(self) -> str:
        return f"{self.url}/v2"

    def plan(self, *steps: str, match: str | None = None) -> None:
        self.faults.plan(*steps, match=match)

    def units_for(self, sku: str, storefront: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                u
                for u in self.units.values()
                if u["id_offer"] == sku and (storefront is None or u["storefront"] == storefront)
            ]

    def skus(self) -> Counter[tuple[str, str]]:
        """Units per (id_offer, storefront): every value should be 1."""
        with self._lock:
            return Counter((u["id_offer"], u["storefront"]) for u in self.units.values())

    # ------------------------------------------------------------------------ checks

    async def _verify(self, request: Request) -> tuple[bytes, Response | None]:
        body = await request.body()
        if not request.headers.get("user-agent"):
            return body, _error(400, "The User-Agent header is required")
        key = request.headers.get("shop-client-key", "")
        timestamp = request.headers.get("shop-timestamp", "")
        given = request.headers.get("shop-signature", "")
        secret = self.keys.get(key)
        if secret is None:
            self.refused_signatures += 1
            return body, _error(401, "Unknown client key")
        try:
            skew = abs(time.time() - int(timestamp))
        except ValueError:
            skew = float("inf")
        if skew > self.max_skew:
            self.refused_signatures += 1
            return body, _error(401, "The timestamp is invalid or too far from the server time")
        scope = request.scope
        query = scope.get("query_string", b"").decode()
        url = f"{scope['scheme']}://{request.headers['host']}{scope['raw_path'].decode()}"
        if query:
            url += f"?{query}"
        expected = signature(secret, request.method, url, body.decode(), timestamp)
        if not hmac.compare_digest(expected, given):
            self.refused_signatures += 1
            return body, _error(401, "Signature is invalid")
        return body, None

    def _storefront(self, request: Request) -> tuple[str | None, Response | None]:
        storefront = request.query_params.get("storefront")
        if storefront not in STOREFRONTS:
            return None, _error(
                400,
                "A valid storefront query parameter is required",
                ("storefront", f"unknown storefront {storefront!r}"),
            )
        return storefront, None

    def _prices(self, unit: dict[str, Any], currency: str) -> list[tuple[str, str]]:
        problems = []
        largest = MAX_CENTS.get(currency)
        for name in ("listing_price", "minimum_price"):
            if name not in unit:
                continue
            value = unit[name]
            if not isinstance(value, int) or isinstance(value, bool):
                problems.append((name, f"{name} must be an integer amount of cents"))
            elif value < 1 or (largest is not None and value > largest):
                problems.append((name, f"{name} is outside the allowed range"))
        return problems

    # ------------------------------------------------------------------------ the app

    def _build_app(self) -> FastAPI:
        app = FastAPI()
        self.faults.install(app, applies=lambda path: path.startswith("/v2/"))

        @app.get("/v2/info/storefront")
        async def storefronts(request: Request) -> Response:
            _, refused = await self._verify(request)
            if refused is not None:
                return refused
            return JSONResponse({"data": list(STOREFRONTS)})

        @app.put("/v2/product-data")
        async def put_product_data(request: Request) -> Response:
            raw, refused = await self._verify(request)
            if refused is not None:
                return refused
            locale = request.query_params.get("locale")
            if locale not in LOCALES:
                return _error(400, "A valid locale is required", ("locale", str(locale)))
            try:
                body = json.loads(raw)
            except ValueError:
                return _error(400, "The body is not JSON")
            eans = body.get("ean")
            attributes = body.get("attributes")
            problems: list[tuple[str, str]] = []
            if not (isinstance(eans, list) and len(eans) == 1 and str(eans[0]).isdigit()):
                problems.append(("ean", "ean must be a list with one EAN"))
            if not isinstance(attributes, dict):
                return _error(400, "Invalid product data", *problems, ("attributes", "missing"))
            for name, values in attributes.items():
                if not (isinstance(values, list) and all(isinstance(v, str) for v in values)):
                    problems.append((f"attributes.{name}", "every value must be a list of strings"))
            for url in attributes.get("picture") or []:
                if isinstance(url, str) and not url.startswith(("http://", "https://")):
                    problems.append(("attributes.picture", f"{url} is not a full http URL"))
            if self.strict_product_data:
                for name in MANDATORY:
                    if not attributes.get(name):
                        problems.append((f"attributes.{name}", f"{name} is mandatory"))
            if problems:
                return _error(400, "Invalid product data", *problems)
            with self._lock:
                self.product_data[(str(eans[0]), locale)] = attributes
            return Response(status_code=204)

        @app.get("/v2/product-data/{ean}")
        async def get_product_data(ean: str, request: Request) -> Response:
            _, refused = await self._verify(request)
            if refused is not None:
                return refused
            locale = request.query_params.get("locale", "de-DE")
            data = self.product_data.get((ean, locale))
            if data is None:
                return _error(404, "No product data for this EAN")
            return JSONResponse({"data": {"ean": [ean], "attributes": data}})

        @app.post("/v2/units")
        async def create_unit(request: Request) -> Response:
            raw, refused = await self._verify(request)
            if refused is not None:
                return refused
            storefront, refused = self._storefront(request)
            if refused is not None or storefront is None:
                return refused or _error(400, "storefront")
            body = json.loads(raw)
            self.bodies.append(raw)
            problems = self._prices(body, STOREFRONTS[storefront])
            if "listing_price" not in body:
                problems.append(("listing_price", "listing_price is required"))
            if "storefront" in body:
                problems.append(("storefront", "storefront goes in the query, not the body"))
            if body.get("condition") not in CONDITIONS:
                problems.append(("condition", f"unknown condition {body.get('condition')!r}"))
            if not isinstance(body.get("amount"), int) or body["amount"] < 0:
                problems.append(("amount", "amount must be a whole number, 0 or more"))
            ean = str(body.get("ean") or "")
            known = any(e == ean for e, _ in self.product_data)
            if not known:
                problems.append(("ean", f"no product with EAN {ean}"))
            if problems:
                return _error(400, "Invalid unit", *problems)
            with self._lock:
                for unit in self.units.values():
                    same = unit["id_offer"] == body.get("id_offer")
                    if same and (unit["ean"] != ean or unit["condition"] != body["condition"]):
                        return _error(
                            400,
                            "SKU already in use",
                            ("id_offer", f"{unit['id_offer']} is used for EAN {unit['ean']}"),
                        )
                self._next_unit += 1
                unit = {
                    **{k: v for k, v in body.items() if k != "storefront"},
                    "id_unit": self._next_unit,
                    "storefront": storefront,
                    "currency": STOREFRONTS[storefront],
                    "status": "available",
                    "date_inserted_iso": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
                self.units[unit["id_unit"]] = unit
            return JSONResponse({"data": unit}, status_code=201)

        @app.get("/v2/units")
        async def list_units(request: Request) -> Response:
            _, refused = await self._verify(request)
            if refused is not None:
                return refused
            storefront, refused = self._storefront(request)
            if refused is not None:
                return refused
            query = request.query_params
            limit = min(int(query.get("limit", 30)), 100)
            offset = int(query.get("offset", 0))
            with self._lock:
                found = [
                    u
                    for u in self.units.values()
                    if u["storefront"] == storefront
                    and ("id_offer" not in query or u["id_offer"] == query["id_offer"])
                    and ("ean" not in query or u["ean"] == query["ean"])
                ]
            return JSONResponse(
                {
                    "data": found[offset : offset + limit],
                    "pagination": {"offset": offset, "limit": limit, "total": len(found)},
                }
            )

        @app.get("/v2/units/{id_unit}")
        async def get_unit(id_unit: int, request: Request) -> Response:
            _, refused = await self._verify(request)
            if refused is not None:
                return refused
            unit = self.units.get(id_unit)
            if unit is None:
                return _error(404, "Unit not found")
            return JSONResponse({"data": unit})

        @app.patch("/v2/units/{id_unit}")
        async def patch_unit(id_unit: int, request: Request) -> Response:
            raw, refused = await self._verify(request)
            if refused is not None:
                return refused
            storefront, refused = self._storefront(request)
            if refused is not None:
                return refused
            body = json.loads(raw)
            with self._lock:
                unit = self.units.get(id_unit)
                if unit is None or unit["storefront"] != storefront:
                    return _error(404, "Unit not found")
                problems = [
                    (name, f"{name} cannot be changed") for name in body if name not in WRITABLE
                ]
                problems += self._prices(body, unit["currency"])
                if problems:
                    return _error(400, "Invalid unit update", *problems)
                unit.update(body)
            return JSONResponse({"data": unit})

        @app.delete("/v2/units/{id_unit}")
        async def delete_unit(id_unit: int, request: Request) -> Response:
            _, refused = await self._verify(request)
            if refused is not None:
                return refused
            with self._lock:
                if self.units.pop(id_unit, None) is None:
                    return _error(404, "Unit not found")
            return Response(status_code=204)

        return app
