"""A local Allegro REST API and OAuth server for tests (shared/reference/marketplace-apis.md §3).

OAuth (`/auth/oauth/device`, `/auth/oauth/token`): Basic client credentials on every call;
device codes that the test approves (`server.approve(user_code)`) or denies, that expire, and
answer authorization_pending / slow_down / access_denied / expired_token; refresh tokens that
rotate (an old one used again is invalid_grant) and can be revoked; Bearer access tokens that
expire after `access_ttl` seconds or on demand (`expire_access_tokens()`) with 401.

API: the vnd media type is required (406 without Accept, 415 without Content-Type on a body).
`POST /sale/product-offers` validates the body (422 with errors[] code/message/userMessage/path),
answers 201, or 202 with Location and Retry-After when `async_polls` > 0; the operation answers
202 until polled that many times, then 303 to the offer. PATCH updates, `GET /sale/offers`
filters by `external.id`, publication commands END or ACTIVATE offers. Offers are kept by id;
`offers_for(sku)` tells whether a SKU was ever given two. Faults (rate limit, planned 429/500,
latency) come from tests/fakes/marketplace_faults.py.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.fakes.marketplace_faults import AccessTokens, Faults
from tests.fakes.server import LocalServer

MEDIA_TYPE = "application/vnd.allegro.public.v1+json"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
TITLE_MAX = 75


@dataclass
class DeviceGrant:
    device_code: str
    user_code: str
    client_id: str
    expires_at: float
    interval: float
    state: str = "pending"  # pending, approved, denied, used
    last_poll: float = 0.0


@dataclass
class Operation:
    offer_id: str
    polls_left: int
    reject: list[dict[str, Any]] = field(default_factory=list)


def _vnd(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def _errors(status: int, *errors: dict[str, Any]) -> Response:
    return _vnd({"errors": list(errors)}, status)


def _error(code: str, message: str, *, path: str | None = None, user: str | None = None) -> dict:
    return {
        "code": code,
        "message": message,
        "details": None,
        "path": path,
        "userMessage": user or message,
    }


class FakeAllegroServer(LocalServer):
    def __init__(
        self,
        *,
        client_id: str = "allegro-client-id",
        client_secret: str = "allegro-client-secret",
        access_ttl: float = 43200,
        device_interval: float = 5,
        device_expires_in: float = 600,
        async_polls: int = 0,
        operation_retry_after: float = 0.05,
        rate_limit: float | None = None,
        retry_after: float = 1.0,
        latency: float = 0.0,
    ) -> None:
        self.clients = {client_id: client_secret}
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_ttl = access_ttl
        self.device_interval = device_interval
        self.device_expires_in = device_expires_in
        self.async_polls = async_polls
        self.operation_retry_after = operation_retry_after
        self.faults = Faults(
            rate_limit=rate_limit,
            retry_after=retry_after,
            latency=latency,
            error_body=lambda status, text: {
                "errors": [_error("TooManyRequests" if status == 429 else "InternalError", text)]
            },
        )
        self._lock = threading.RLock()
        self.devices: dict[str, DeviceGrant] = {}
        self.refresh_tokens: dict[str, str] = {}  # token -> state: active, used, revoked
        self.access_tokens = AccessTokens()
        self.offers: dict[str, dict[str, Any]] = {}
        self.operations: dict[str, Operation] = {}
        self.commands: dict[str, dict[str, Any]] = {}
        self.token_grants: Counter[str] = Counter()  # grant_type -> successful token answers
        self.device_polls = 0
        self.async_rejects: dict[str, list[dict[str, Any]]] = {}  # sku -> errors after 202
        super().__init__()
        self.app = self._build_app()

    # ------------------------------------------------------------------------ test controls

    def plan(self, *steps: str, match: str | None = None) -> None:
        self.faults.plan(*steps, match=match)

    def issue_refresh_token(self) -> str:
        """A refresh token as if the seller had connected before (what credentials hold)."""
        token = "rt-" + secrets.token_urlsafe(16)
        with self._lock:
            self.refresh_tokens[token] = "active"
        return token

    def approve(self, user_code: str) -> None:
        self._device(user_code).state = "approved"

    def deny(self, user_code: str) -> None:
        self._device(user_code).state = "denied"

    def _device(self, user_code: str) -> DeviceGrant:
        with self._lock:
            for grant in self.devices.values():
                if grant.user_code == user_code:
                    return grant
        raise KeyError(user_code)

    def revoke_refresh_tokens(self) -> None:
        """The seller disconnected the application: every refresh token stops working."""
        with self._lock:
            for token in self.refresh_tokens:
                self.refresh_tokens[token] = "revoked"

    def expire_access_tokens(self) -> None:
        self.access_tokens.expire()

    def active_refresh_tokens(self) -> list[str]:
        with self._lock:
            return [t for t, state in self.refresh_tokens.items() if state == "active"]

    def offers_for(self, sku: str) -> list[dict[str, Any]]:
        with self._lock:
            return [o for o in self.offers.values() if (o.get("external") or {}).get("id") == sku]

    def skus(self) -> Counter[str]:
        """How many offers each SKU has: every value should be 1."""
        with self._lock:
            return Counter((o.get("external") or {}).get("id") for o in self.offers.values())

    # ------------------------------------------------------------------------ helpers

    def _client_ok(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            raw = base64.b64decode(header[6:]).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        client_id, _, secret = raw.partition(":")
        return client_id if self.clients.get(client_id) == secret else None

    async def _params(self, request: Request) -> dict[str, str]:
        params = dict(request.query_params)
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = parse_qs((await request.body()).decode())
            params.update({k: v[-1] for k, v in form.items()})
        return params

    def _issue_tokens(self, *, with_refresh: bool = True) -> dict[str, Any]:
        access = self.access_tokens.issue("at-", self.access_ttl, size=16)
        with self._lock:
            body: dict[str, Any] = {
                "access_token": access,
                "token_type": "bearer",
                "expires_in": int(self.access_ttl),
                "scope": "allegro:api:sale:offers:write allegro:api:sale:offers:read",
                "allegro_api": True,
                "jti": str(uuid.uuid4()),
            }
            if with_refresh:
                refresh = "rt-" + secrets.token_urlsafe(16)
                self.refresh_tokens[refresh] = "active"
                body["refresh_token"] = refresh
        return body

    def _api_check(self, request: Request, *, has_body: bool) -> Response | None:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        if not self.access_tokens.live(token):
            return JSONResponse(
                {"error": "invalid_token", "error_description": "Access token expired: " + token},
                status_code=401,
            )
        if MEDIA_TYPE not in request.headers.get("accept", ""):
            return _errors(
                406, _error("NotAcceptable", f"Accept must be {MEDIA_TYPE}", path="Accept")
            )
        if has_body and request.headers.get("content-type", "").split(";")[0] != MEDIA_TYPE:
            return _errors(
                415,
                _error("UnsupportedMediaType", f"Content-Type must be {MEDIA_TYPE}"),
            )
        return None

    def _validate(self, body: dict[str, Any], *, partial: bool) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = []
        name = body.get("name")
        if not partial or "name" in body:
            if not isinstance(name, str) or not name.strip():
                errors.append(
                    _error(
                        "MissingName", "name is required", path="name", user="Podaj tytuł oferty."
                    )
                )
            elif len(name) > TITLE_MAX:
                errors.append(
                    _error(
                        "OfferNameTooLong",
                        f"name is longer than {TITLE_MAX}",
                        path="name",
                        user=f"Tytuł oferty może mieć najwyżej {TITLE_MAX} znaków.",
                    )
                )
        if not partial:
            product = ((body.get("productSet") or [{}])[0] or {}).get("product") or {}
            category = (body.get("category") or {}).get("id") or (
                product.get("category") or {}
            ).get("id")
            if not category and not (product.get("id") and not product.get("idType")):
                errors.append(
                    _error(
                        "MissingCategory",
                        "category is required",
                        path="category.id",
                        user="Wybierz kategorię dla oferty.",
                    )
                )
        if "sellingMode" in body or not partial:
            price = (body.get("sellingMode") or {}).get("price") or {}
            try:
                amount = float(price.get("amount"))
            except (TypeError, ValueError):
                amount = -1
            if isinstance(price.get("amount"), int | float):
                errors.append(
                    _error(
                        "InvalidPrice", "amount must be a string", path="sellingMode.price.amount"
                    )
                )
            elif amount <= 0:
                errors.append(
                    _error(
                        "InvalidPrice",
                        "price must be positive",
                        path="sellingMode.price.amount",
                        user="Cena musi być większa od zera.",
                    )
                )
            if not price.get("currency"):
                errors.append(
                    _error(
                        "MissingCurrency", "currency is required", path="sellingMode.price.currency"
                    )
                )
        return errors

    def _public(self, offer: dict[str, Any]) -> dict[str, Any]:
        return json.loads(json.dumps(offer))

    # ------------------------------------------------------------------------ the app

    def _build_app(self) -> FastAPI:
        app = FastAPI()
        self.faults.install(app, applies=lambda path: not path.startswith("/auth/"))

        @app.post("/auth/oauth/device")
        async def device(request: Request) -> Response:
            client_id = self._client_ok(request)
            if client_id is None:
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            params = await self._params(request)
            if params.get("client_id") != client_id:
                return JSONResponse(
                    {"error": "invalid_request", "error_description": "client_id"}, 400
                )
            grant = DeviceGrant(
                device_code=secrets.token_urlsafe(24),
                user_code=secrets.token_hex(4).upper(),
                client_id=client_id,
                expires_at=time.monotonic() + self.device_expires_in,
                interval=self.device_interval,
            )
            with self._lock:
                self.devices[grant.device_code] = grant
            return JSONResponse(
                {
                    "device_code": grant.device_code,
                    "user_code": grant.user_code,
                    "verification_uri": f"{self.url}/skojarz-aplikacje",
                    "verification_uri_complete": (
                        f"{self.url}/skojarz-aplikacje?code={grant.user_code}"
                    ),
                    "expires_in": int(self.device_expires_in),
                    "interval": self.device_interval,
                }
            )

        @app.post("/auth/oauth/token")
        async def token(request: Request) -> Response:
            client_id = self._client_ok(request)
            if client_id is None:
                return JSONResponse(
                    {"error": "invalid_client", "error_description": "Bad client credentials"},
                    status_code=401,
                )
            params = await self._params(request)
            grant_type = params.get("grant_type")
            if grant_type == DEVICE_GRANT:
                return self._device_token(params.get("device_code", ""), client_id)
            if grant_type == "refresh_token":
                presented = params.get("refresh_token", "")
                with self._lock:
                    state = self.refresh_tokens.get(presented)
                    if state != "active":
                        return JSONResponse(
                            {
                                "error": "invalid_grant",
                                "error_description": f"Invalid refresh token: {presented[:8]}...",
                            },
                            status_code=400,
                        )
                    self.refresh_tokens[presented] = "used"  # rotation: one use each
                    self.token_grants["refresh_token"] += 1
                return JSONResponse(self._issue_tokens())
            if grant_type == "client_credentials":
                self.token_grants["client_credentials"] += 1
                return JSONResponse(self._issue_tokens(with_refresh=False))
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)

        @app.get("/me")
        async def me(request: Request) -> Response:
            if (refused := self._api_check(request, has_body=False)) is not None:
                return refused
            return _vnd({"id": "44556677", "login": "listingflow-seller"})

        @app.get("/sale/offers")
        async def list_offers(request: Request) -> Response:
            if (refused := self._api_check(request, has_body=False)) is not None:
                return refused
            wanted = request.query_params.get("external.id")
            limit = min(int(request.query_params.get("limit", 20)), 1000)
            offset = int(request.query_params.get("offset", 0))
            with self._lock:
                found = [
                    o
                    for o in self.offers.values()
                    if wanted is None or (o.get("external") or {}).get("id") == wanted
                ]
                page = [
                    {
                        "id": o["id"],
                        "name": o["name"],
                        "external": o.get("external"),
                        "publication": {"status": o["publication"]["status"]},
                        "sellingMode": o.get("sellingMode"),
                        "stock": o.get("stock"),
                    }
                    for o in found[offset : offset + limit]
                ]
            return _vnd({"offers": page, "count": len(page), "totalCount": len(found)})

        @app.post("/sale/product-offers")
        async def create(request: Request) -> Response:
            if (refused := self._api_check(request, has_body=True)) is not None:
                return refused
            try:
                body = json.loads(await request.body())
            except ValueError:
                return _errors(400, _error("InvalidJson", "The body is not JSON"))
            errors = self._validate(body, partial=False)
            if errors:
                return _errors(422, *errors)
            with self._lock:
                offer_id = str(7_000_000_000 + len(self.offers))
                now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
                offer = {
                    **body,
                    "id": offer_id,
                    "publication": {"status": "ACTIVE"},
                    "validation": {"errors": [], "warnings": [], "validatedAt": now},
                    "createdAt": now,
                    "updatedAt": now,
                }
                self.offers[offer_id] = offer
            return self._respond(offer, status=201, body=body)

        @app.patch("/sale/product-offers/{offer_id}")
        async def update(offer_id: str, request: Request) -> Response:
            if (refused := self._api_check(request, has_body=True)) is not None:
                return refused
            body = json.loads(await request.body())
            with self._lock:
                offer = self.offers.get(offer_id)
            if offer is None:
                return _errors(404, _error("NotFoundException", f"Offer {offer_id} not found"))
            errors = self._validate(body, partial=True)
            if errors:
                return _errors(422, *errors)
            with self._lock:
                for key, value in body.items():
                    if key == "sellingMode" and isinstance(value, dict):
                        offer["sellingMode"] = {**offer.get("sellingMode", {}), **value}
                    elif key not in ("id", "publication"):
                        offer[key] = value
                if (body.get("publication") or {}).get("status") == "ACTIVE":
                    offer["publication"] = {"status": "ACTIVE"}
                offer["updatedAt"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
            return self._respond(offer, status=200, body=body)

        @app.get("/sale/product-offers/{offer_id}")
        async def get_offer(offer_id: str, request: Request) -> Response:
            if (refused := self._api_check(request, has_body=False)) is not None:
                return refused
            with self._lock:
                offer = self.offers.get(offer_id)
                if offer is None:
                    return _errors(404, _error("NotFoundException", f"Offer {offer_id} not found"))
                return _vnd(self._public(offer))

        @app.get("/sale/product-offers/{offer_id}/operations/{operation_id}")
        async def operation(offer_id: str, operation_id: str, request: Request) -> Response:
            if (refused := self._api_check(request, has_body=False)) is not None:
                return refused
            with self._lock:
                op = self.operations.get(operation_id)
                if op is None or op.offer_id != offer_id:
                    return _errors(404, _error("NotFoundException", "No such operation"))
                if op.polls_left > 0:
                    op.polls_left -= 1
                    return _vnd(
                        {
                            "offer": {"id": offer_id},
                            "operation": {
                                "id": operation_id,
                                "status": "IN_PROGRESS",
                                "startedAt": "2026-01-01T00:00:00.000Z",
                            },
                        },
                        202,
                        {"Retry-After": f"{self.operation_retry_after:g}"},
                    )
                offer = self.offers[offer_id]
                if op.reject:
                    offer["validation"]["errors"] = op.reject
                    offer["publication"] = {"status": "INACTIVE"}
                else:
                    offer["publication"] = {"status": "ACTIVE"}
            return Response(
                status_code=303, headers={"Location": f"/sale/product-offers/{offer_id}"}
            )

        @app.put("/sale/offer-publication-commands/{command_id}")
        async def publication_command(command_id: str, request: Request) -> Response:
            if (refused := self._api_check(request, has_body=True)) is not None:
                return refused
            body = json.loads(await request.body())
            action = (body.get("publication") or {}).get("action")
            if action not in ("ACTIVATE", "END"):
                return _errors(422, _error("InvalidAction", "action", path="publication.action"))
            with self._lock:
                if command_id in self.commands:  # the same command again: nothing new happens
                    return _vnd(self.commands[command_id]["report"], 201)
                tasks = []
                for criteria in body.get("offerCriteria") or []:
                    for ref in criteria.get("offers") or []:
                        offer = self.offers.get(str(ref.get("id")))
                        if offer is None:
                            tasks.append(
                                {
                                    "offer": {"id": ref.get("id")},
                                    "status": "FAIL",
                                    "message": "Offer not found",
                                }
                            )
                            continue
                        offer["publication"] = {"status": "ENDED" if action == "END" else "ACTIVE"}
                        tasks.append(
                            {"offer": {"id": offer["id"]}, "status": "SUCCESS", "message": ""}
                        )
                failed = sum(1 for t in tasks if t["status"] == "FAIL")
                report = {
                    "id": command_id,
                    "createdAt": "2026-01-01T00:00:00.000Z",
                    "completedAt": "2026-01-01T00:00:01.000Z",
                    "taskCount": {
                        "total": len(tasks),
                        "success": len(tasks) - failed,
                        "failed": failed,
                    },
                }
                self.commands[command_id] = {"report": report, "tasks": tasks}
            return _vnd(report, 201)

        @app.get("/sale/offer-publication-commands/{command_id}")
        async def command_report(command_id: str, request: Request) -> Response:
            if (refused := self._api_check(request, has_body=False)) is not None:
                return refused
            command = self.commands.get(command_id)
            if command is None:
                return _errors(404, _error("NotFoundException", "No such command"))
            return _vnd(command["report"])

        @app.get("/sale/offer-publication-commands/{command_id}/tasks")
        async def command_tasks(command_id: str, request: Request) -> Response:
            if (refused := self._api_check(request, has_body=False)) is not None:
                return refused
            command = self.commands.get(command_id)
            if command is None:
                return _errors(404, _error("NotFoundException", "No such command"))
            return _vnd({"tasks": command["tasks"]})

        return app

    def _respond(self, offer: dict[str, Any], *, status: int, body: dict[str, Any]) -> Response:
        """201/200 with the offer, or 202 with an operation to poll when async_polls > 0."""
        if self.async_polls <= 0:
            return _vnd(self._public(offer), status)
        operation_id = str(uuid.uuid4())
        sku = (offer.get("external") or {}).get("id")
        with self._lock:
            self.operations[operation_id] = Operation(
                offer["id"], self.async_polls, list(self.async_rejects.get(sku, []))
            )
            state = self._public(offer)
            offer["publication"] = {"status": "ACTIVATING"}
        location = f"{self.url}/sale/product-offers/{offer['id']}/operations/{operation_id}"
        return _vnd(
            state,
            202,
            {"Location": location, "Retry-After": f"{self.operation_retry_after:g}"},
        )

    def _device_token(self, device_code: str, client_id: str) -> Response:
        now = time.monotonic()
        with self._lock:
            self.device_polls += 1
            grant = self.devices.get(device_code)
            if grant is None or grant.client_id != client_id or grant.state == "used":
                return JSONResponse(
                    {"error": "invalid_grant", "error_description": "Invalid device code"}, 400
                )
            if now >= grant.expires_at:
                return JSONResponse({"error": "expired_token"}, status_code=400)
            if grant.state == "denied":
                return JSONResponse({"error": "access_denied"}, status_code=400)
            too_fast = grant.last_poll and now - grant.last_poll < grant.interval
            grant.last_poll = now
            if grant.state == "pending":
                error = "slow_down" if too_fast else "authorization_pending"
                return JSONResponse({"error": error}, status_code=400)
            grant.state = "used"
            self.token_grants[DEVICE_GRANT] += 1
        return JSONResponse(self._issue_tokens())
