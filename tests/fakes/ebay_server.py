"""A local eBay Sell Inventory API v1 with its OAuth token endpoint, for tests and benchmarks.

Speaks shared/reference/marketplace-apis.md section 2 on 127.0.0.1:
- OAuth: Basic client_id:client_secret, form-encoded refresh_token grant with scopes the refresh
  token was granted; access tokens last `token_ttl` seconds or until `expire_tokens()` (then
  401 errorId 1001); `revoke_refresh_token()` -> invalid_grant.
- Inventory: Bearer token, JSON bodies, `Content-Language` required on item and offer writes,
  bulk calls of at most 25 answered per item with `statusCode` (HTTP 207 when some fail),
  ErrorDetailV3 errors. One offer per SKU, marketplace and format: a second create is refused
  with 25002 "Offer entity already exists" naming the offer id. Publishing checks what eBay
  checks (photo, category, price, policies, location, required aspects per category).

`plan("429", "500")` makes the next inventory calls fail once each; `rate_limit` answers 429
above that many calls a second; `latency` delays every answer. State is kept in `items` and
`offers`, `calls` counts operations and `requests` records every request.
"""

from __future__ import annotations

import base64
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.fakes.marketplace_faults import RecordingServer, oauth_error

PREFIX = "/sell/inventory/v1"
SCOPE = "https://api.ebay.com/oauth/api_scope/sell.inventory"
NOT_AVAILABLE = 25713
CONDITIONS = {
    "NEW",
    "LIKE_NEW",
    "NEW_OTHER",
    "NEW_WITH_DEFECTS",
    "CERTIFIED_REFURBISHED",
    "SELLER_REFURBISHED",
    "USED_EXCELLENT",
    "USED_VERY_GOOD",
    "USED_GOOD",
    "USED_ACCEPTABLE",
    "FOR_PARTS_OR_NOT_WORKING",
}
LOCALES = {"en_US", "en_GB", "de_DE", "de_AT", "de_CH", "fr_FR", "it_IT", "es_ES", "nl_NL"}
LOCALES |= {"nl_BE", "en_IE", "pl_PL", "en_AU", "en_CA"}


def _error(error_id: int, message: str, **extra: Any) -> dict[str, Any]:
    return {
        "errorId": error_id,
        "domain": "API_INVENTORY",
        "subdomain": "Selling",
        "category": "REQUEST",
        "message": message,
        **extra,
    }


def _errors(status: int, error_id: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"errors": [_error(error_id, message, **extra)]}, status_code=status)


class FakeEbayServer(RecordingServer):
    """Run with `with FakeEbayServer() as ebay:`; point the client at `ebay.base_url` and
    `ebay.token_url`."""

    token_path = "/identity/v1/oauth2/token"

    def __init__(
        self,
        *,
        client_id: str = "ListingF-test-PRD-0123456789",
        client_secret: str = "PRD-test-client-secret",
        refresh_token: str = "v^1.1#i^1#r^1#test-refresh-token",
        token_ttl: float = 7200.0,
        rate_limit: float | None = None,
        burst: int = 10,
        retry_after: float | None = None,
        latency: float = 0.0,
        location_keys: tuple[str, ...] = ("WH-1",),
        policy_ids: tuple[str, ...] = ("PAY-1", "RET-1", "FUL-1"),
        required_aspects: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(
            client_id=client_id,
            client_secret=client_secret,
            refresh_token=refresh_token,
            token_ttl=token_ttl,
            rate_limit=rate_limit,
            burst=burst,
            retry_after=retry_after,
            latency=latency,
        )
        self.location_keys = set(location_keys)
        self.policy_ids = set(policy_ids)
        self.required_aspects = required_aspects or {}
        self.items: dict[str, dict[str, Any]] = {}  # sku -> inventory item
        self.offers: dict[str, dict[str, Any]] = {}  # offerId -> offer
        self._next_offer = 9_000_000_000
        self._next_listing = 110_000_000_000
        self.app = self._build_app()

    # ------------------------------------------------------------------------------ control

    @property
    def base_url(self) -> str:
        return f"{self.url}{PREFIX}"

    def credentials(self, marketplace_id: str = "EBAY_DE") -> dict[str, str]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "refresh_token": self.refresh_token,
            "marketplace_id": marketplace_id,
            "merchant_location_key": "WH-1",
            "payment_policy_id": "PAY-1",
            "return_policy_id": "RET-1",
            "fulfillment_policy_id": "FUL-1",
        }

    def offers_for(self, sku: str) -> list[dict[str, Any]]:
        return [o for o in self.offers.values() if o["sku"] == sku]

    # ----------------------------------------------------------------------------- protocol

    def _check_item(self, item: Any) -> list[dict[str, Any]]:
        if not isinstance(item, dict):
            return [_error(25709, "Invalid request body.")]
        errors = []
        sku = str(item.get("sku") or "")
        if not sku or len(sku) > 50:
            errors.append(
                _error(
                    25707,
                    "This is an invalid value for a SKU. Its length must not exceed 50 characters.",
                )
            )
        if item.get("locale") not in LOCALES:
            errors.append(_error(25709, f"Invalid value for locale: {item.get('locale')}."))
        if item.get("condition") not in CONDITIONS:
            errors.append(
                _error(
                    25021,
                    "Invalid item condition information.",
                    parameters=[{"name": "condition", "value": str(item.get("condition"))}],
                )
            )
        title = str((item.get("product") or {}).get("title") or "")
        if len(title) > 80:
            errors.append(
                _error(
                    25016,
                    f"The title value is invalid. It is {len(title)} characters; "
                    "at most 80 are allowed.",
                    parameters=[{"name": "text0", "value": "title"}],
                )
            )
        return errors

    def _check_offer_fields(self, offer: dict[str, Any]) -> list[dict[str, Any]]:
        errors = []
        price = (offer.get("pricingSummary") or {}).get("price") or {}
        try:
            ok = float(price.get("value")) > 0 and bool(price.get("currency"))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            errors.append(_error(25017, "The price is missing or invalid."))
        if offer.get("merchantLocationKey") not in self.location_keys:
            errors.append(_error(25012, "The inventory location (merchantLocationKey) is invalid."))
        policies = offer.get("listingPolicies") or {}
        for name in ("fulfillmentPolicyId", "paymentPolicyId", "returnPolicyId"):
            if policies.get(name) not in self.policy_ids:
                errors.append(_error(25007, f"The {name} business policy is invalid."))
        return errors

    def _publish(self, offer_id: str) -> tuple[int, dict[str, Any]]:
        offer = self.offers.get(offer_id)
        if offer is None:
            return 404, {"errors": [_error(NOT_AVAILABLE, "This Offer is not available.")]}
        item = self.items.get(offer["sku"])
        errors = self._check_offer_fields(offer)
        if item is None:
            errors.append(_error(25702, f"SKU {offer['sku']} is not available."))
        else:
            product = item.get("product") or {}
            if not product.get("title"):
                errors.append(_error(25002, "A user error has occurred. The title is missing."))
            if not product.get("imageUrls"):
                errors.append(_error(25002, "A user error has occurred. Add at least 1 photo."))
            category = offer.get("categoryId")
            if not category:
                errors.append(_error(25005, "The category ID is invalid or missing."))
            for aspect in self.required_aspects.get(str(category), []):
                if aspect not in (product.get("aspects") or {}):
                    errors.append(
                        _error(
                            25002,
                            f"A user error has occurred. The item specific {aspect} is missing.",
                            parameters=[{"name": "text0", "value": aspect}],
                        )
                    )
        answer: dict[str, Any] = {"offerId": offer_id, "warnings": []}
        if errors:
            return 400, {**answer, "errors": errors}
        if offer["status"] != "PUBLISHED":
            offer["status"] = "PUBLISHED"
            self._next_listing += 1
            offer["listing"] = {"listingId": str(self._next_listing), "listingStatus": "ACTIVE"}
        return 200, {**answer, "listingId": offer["listing"]["listingId"], "errors": []}

    # --------------------------------------------------------------------------------- app

    def _build_app(self) -> FastAPI:
        app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

        self._install_recorder(app)

        @app.post(self.token_path)
        async def token(request: Request) -> Response:
            self._count(request, "token")
            expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            if request.headers.get("authorization") != f"Basic {expected}":
                return oauth_error(401, "invalid_client", "client authentication failed")
            form, refused = self._refresh_form(
                request, form_error="Unsupported content type", grant_error="grant type"
            )
            if refused is not None:
                return refused
            if not self._known_refresh_token(form):
                return oauth_error(
                    400,
                    "invalid_grant",
                    "the provided authorization refresh token is invalid or was issued to "
                    "another client",
                )
            scopes = set(form.get("scope", "").split())
            if not scopes or not scopes <= {SCOPE}:
                return oauth_error(
                    400,
                    "invalid_scope",
                    "The requested scope is invalid, unknown, malformed, or exceeds the scope "
                    "granted to the client",
                )
            access = self.access_tokens.issue("v^1.1#i^1#p^3#", self.token_ttl)
            return JSONResponse(
                {
                    "access_token": access,
                    "expires_in": self.token_ttl,
                    "token_type": "User Access Token",
                }
            )

        async def guard(
            request: Request, operation: str, *, language: bool = False, body: bool = False
        ) -> Response | None:
            self._count(request, operation)
            header = request.headers.get("authorization", "")
            failure = self._next_failure()
            if (
                not header.startswith("Bearer ")
                or not self.access_tokens.live(header.removeprefix("Bearer "))
                or failure == "expired_token"
            ):
                return JSONResponse(
                    {
                        "errors": [
                            {
                                "errorId": 1001,
                                "domain": "OAuth",
                                "category": "REQUEST",
                                "message": "Invalid access token",
                                "longMessage": "Invalid access token. Check the value of the "
                                "Authorization HTTP request header.",
                            }
                        ]
                    },
                    status_code=401,
                )
            if failure == "429" or self._throttle():
                return self._with_retry_after(
                    JSONResponse(
                        {
                            "errors": [
                                {
                                    "errorId": 2001,
                                    "domain": "ACCESS",
                                    "category": "REQUEST",
                                    "message": "Too many requests. The request limit has been "
                                    "reached for the resource.",
                                }
                            ]
                        },
                        status_code=429,
                    )
                )
            if failure in ("500", "503"):
                return _errors(
                    int(failure), 25001, "A system error has occurred.", category="APPLICATION"
                )
            if body and not request.headers.get("content-type", "").startswith("application/json"):
                return _errors(415, 25709, "Invalid value for header Content-Type.")
            if language and not request.headers.get("content-language"):
                return _errors(
                    400, 25709, "Invalid value for header Content-Language.", category="REQUEST"
                )
            if body and not isinstance(request.state.entry.body, dict):
                return _errors(400, 2004, "Could not serialize the request body.")
            return None

        async def bulk(
            request: Request, operation: str, *, language: bool = False
        ) -> tuple[list[Any], Response | None]:
            """guard() a bulk call (a JSON body), then its 1 to 25 requests."""
            refused = await guard(request, operation, language=language, body=True)
            if refused is not None:
                return [], refused
            requests = request.state.entry.body.get("requests")
            if not isinstance(requests, list) or not requests:
                return [], _errors(400, 25709, "requests is required.")
            if len(requests) > 25:
                return [], _errors(400, 25709, "A bulk request takes at most 25 requests.")
            return requests, None

        def multi(answers: list[dict[str, Any]]) -> JSONResponse:
            failed = any(a["statusCode"] >= 300 for a in answers)
            return JSONResponse({"responses": answers}, status_code=207 if failed else 200)

        @app.post(f"{PREFIX}/bulk_create_or_replace_inventory_item")
        async def bulk_items(request: Request) -> Response:
            operation = "bulkCreateOrReplaceInventoryItem"
            requests, refused = await bulk(request, operation, language=True)
            if refused is not None:
                return refused
            answers = []
            for item in requests:
                errors = self._check_item(item)
                sku = str(item.get("sku")) if isinstance(item, dict) else None
                answer = {"sku": sku, "locale": (item or {}).get("locale"), "warnings": []}
                if errors:
                    answers.append({**answer, "statusCode": 400, "errors": errors})
                    continue
                with self._lock:
                    created = sku not in self.items
                    self.items[str(sku)] = {k: v for k, v in item.items() if k != "sku"}
                    self.items[str(sku)]["sku"] = sku
                answers.append({**answer, "statusCode": 201 if created else 200, "errors": []})
            return multi(answers)

        @app.post(f"{PREFIX}/bulk_create_offer")
        async def bulk_offers(request: Request) -> Response:
            requests, refused = await bulk(request, "bulkCreateOffer", language=True)
            if refused is not None:
                return refused
            if len({str(r.get("marketplaceId")) for r in requests}) != 1:
                return _errors(400, 25709, "All offers of a bulk call need one marketplaceId.")
            answers = []
            for body in requests:
                sku = str(body.get("sku") or "")
                answer = {
                    "sku": sku,
                    "marketplaceId": body.get("marketplaceId"),
                    "format": body.get("format"),
                    "warnings": [],
                }
                with self._lock:
                    same = [
                        o
                        for o in self.offers.values()
                        if (o["sku"], o["marketplaceId"], o["format"])
                        == (sku, body.get("marketplaceId"), body.get("format"))
                    ]
                    if same:
                        error = _error(
                            25002,
                            "A user error has occurred. Offer entity already exists.",
                            parameters=[{"name": "offerId", "value": same[0]["offerId"]}],
                        )
                        answers.append({**answer, "statusCode": 400, "errors": [error]})
                        continue
                    if sku not in self.items:
                        error = _error(25702, f"SKU {sku} is not available.")
                        answers.append({**answer, "statusCode": 400, "errors": [error]})
                        continue
                    if body.get("format") != "FIXED_PRICE":
                        error = _error(25709, "Invalid value for format.")
                        answers.append({**answer, "statusCode": 400, "errors": [error]})
                        continue
                    self._next_offer += 1
                    offer_id = str(self._next_offer)
                    self.offers[offer_id] = {
                        **body,
                        "offerId": offer_id,
                        "status": "UNPUBLISHED",
                    }
                answers.append({**answer, "statusCode": 200, "offerId": offer_id, "errors": []})
            return multi(answers)

        @app.put(f"{PREFIX}/offer/{{offer_id}}")
        async def update_offer(request: Request, offer_id: str) -> Response:
            refused = await guard(request, "updateOffer", language=True, body=True)
            if refused is not None:
                return refused
            body = request.state.entry.body
            with self._lock:
                offer = self.offers.get(offer_id)
                if offer is None:
                    return _errors(404, NOT_AVAILABLE, "This Offer is not available.")
                keep = {k: offer[k] for k in ("offerId", "sku", "marketplaceId", "format")}
                keep.update(status=offer["status"])
                if "listing" in offer:
                    keep["listing"] = offer["listing"]
                offer.clear()
                offer.update({**body, **keep})
            return Response(status_code=204)

        @app.post(f"{PREFIX}/bulk_publish_offer")
        async def bulk_publish(request: Request) -> Response:
            requests, refused = await bulk(request, "bulkPublishOffer")
            if refused is not None:
                return refused
            answers = []
            for body in requests:
                with self._lock:
                    status, answer = self._publish(str(body.get("offerId")))
                answers.append({"statusCode": status, **answer})
            return multi(answers)

        @app.post(f"{PREFIX}/offer/{{offer_id}}/withdraw")
        async def withdraw(request: Request, offer_id: str) -> Response:
            refused = await guard(request, "withdrawOffer")
            if refused is not None:
                return refused
            with self._lock:
                offer = self.offers.get(offer_id)
                if offer is None or offer["status"] != "PUBLISHED":
                    return _errors(404, NOT_AVAILABLE, "This Offer is not available.")
                offer["status"] = "UNPUBLISHED"
                offer["listing"]["listingStatus"] = "ENDED"
                listing_id = offer["listing"]["listingId"]
            return JSONResponse({"listingId": listing_id, "warnings": []})

        @app.get(f"{PREFIX}/offer")
        async def get_offers(request: Request) -> Response:
            refused = await guard(request, "getOffers")
            if refused is not None:
                return refused
            sku = request.query_params.get("sku")
            if not sku:
                return _errors(400, 25707, "This is an invalid value for a SKU.")
            market = request.query_params.get("marketplace_id")
            found = [
                o for o in self.offers_for(sku) if market is None or o["marketplaceId"] == market
            ]
            if not found:
                return _errors(404, NOT_AVAILABLE, "This Offer is not available.")
            return JSONResponse(
                {"offers": found, "total": len(found), "size": len(found), "limit": 25, "offset": 0}
            )

        @app.get(f"{PREFIX}/offer/{{offer_id}}")
        async def get_offer(request: Request, offer_id: str) -> Response:
            refused = await guard(request, "getOffer")
            if refused is not None:
                return refused
            offer = self.offers.get(offer_id)
            if offer is None:
                return _errors(404, NOT_AVAILABLE, "This Offer is not available.")
            return JSONResponse(offer)

        @app.get(f"{PREFIX}/inventory_item/{{sku:path}}")
        async def get_item(request: Request, sku: str) -> Response:
            refused = await guard(request, "getInventoryItem")
            if refused is not None:
                return refused
            item = self.items.get(sku)
            if item is None:
                return _errors(404, 25710, "We didn't find the entity you are requesting.")
            return JSONResponse(item)

        @app.post(f"{PREFIX}/bulk_update_price_quantity")
        async def bulk_price_quantity(request: Request) -> Response:
            requests, refused = await bulk(request, "bulkUpdatePriceQuantity")
            if refused is not None:
                return refused
            answers = []
            with self._lock:
                for body in requests:
                    sku = body.get("sku")
                    ship = body.get("shipToLocationAvailability")
                    if sku in self.items and ship is not None:
                        self.items[sku]["availability"] = {"shipToLocationAvailability": ship}
                    for change in body.get("offers") or []:
                        offer = self.offers.get(str(change.get("offerId")))
                        answer = {"offerId": change.get("offerId"), "sku": sku, "warnings": []}
                        if offer is None:
                            error = _error(NOT_AVAILABLE, "This Offer is not available.")
                            answers.append({**answer, "statusCode": 404, "errors": [error]})
                            continue
                        if "availableQuantity" in change:
                            offer["availableQuantity"] = change["availableQuantity"]
                        if "price" in change:
                            offer["pricingSummary"] = {"price": change["price"]}
                        answers.append({**answer, "statusCode": 200, "errors": []})
            return multi(answers)

        @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        async def unknown(request: Request, path: str) -> Response:
            return _errors(404, 2002, f"Resource /{path} not found.", domain="API_INVENTORY")

        return app
