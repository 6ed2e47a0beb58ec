"""A local Amazon Selling Partner API (Listings Items 2021-08-01, Feeds 2021-06-30) with its Login
with Amazon token endpoint and a presigned-URL document store, for tests and benchmarks.

Speaks shared/reference/marketplace-apis.md section 1 on 127.0.0.1:
- LWA: form-encoded refresh_token grant with the app's client id and secret; access tokens last
  `token_ttl` seconds or until `expire_tokens()`; `revoke_refresh_token()` -> invalid_grant.
- SP-API: `x-amz-access-token` on every call (403 "Unauthorized" when missing, expired or
  unknown, as SP-API answers), one `marketplaceIds`, JSON bodies (415 otherwise), ErrorList
  errors, `x-amzn-RateLimit-Limit` and `x-amzn-RequestId` on every answer, 429 above `rate_limit`.
- putListingsItem: 200 INVALID with issues for a bad body (never 400), ACCEPTED otherwise; the
  listing is then processed (at once, or on `process()` when `auto_process` is off): BUYABLE,
  or issues found later (a wrong EAN check digit, issues planted with `later_issues`).
- Feeds: createFeedDocument 201 -> PUT to the presigned url -> createFeed 202 -> getFeed
  IN_QUEUE, IN_PROGRESS, DONE (one step a poll) -> getFeedDocument -> a gzipped report.

`plan("429", "500")` makes the next SP-API calls fail once each that way; `latency` delays
every answer. Listings are kept by (seller, marketplace, SKU), so tests can count them; `calls`
counts operations and `requests` records every request.
"""

from __future__ import annotations

import gzip
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.fakes.marketplace_faults import RecordingServer, oauth_error

REQUIRED_ATTRIBUTES = ("item_name", "condition_type", "purchasable_offer")
TITLE_MAX = 200


@dataclass
class Listing:
    sku: str
    marketplace_id: str
    product_type: str
    attributes: dict[str, Any]
    created: float
    updated: float
    processed: bool = False
    issues: list[dict[str, Any]] = field(default_factory=list)
    asin: str = ""
    puts: int = 0


def ean_ok(value: str) -> bool:
    if not value.isdigit() or len(value) not in (8, 12, 13, 14):
        return False
    digits = [int(c) for c in value]
    total = sum(d * (3 if i % 2 else 1) for i, d in enumerate(reversed(digits[:-1]), start=1))
    return (10 - total % 10) % 10 == digits[-1]


def _errors(status: int, code: str, message: str, details: str | None = None) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return JSONResponse({"errors": [error]}, status_code=status)


def _not_found(sku: str) -> JSONResponse:
    return _errors(404, "NOT_FOUND", f"SKU '{sku}' not found in marketplace.")


def _accepted(sku: str) -> dict[str, Any]:
    return {"sku": sku, "status": "ACCEPTED", "submissionId": uuid.uuid4().hex, "issues": []}


def _issue(code: str, message: str, names: list[str], severity: str = "ERROR") -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "severity": severity,
        "attributeNames": names,
        "categories": ["INVALID_ATTRIBUTE" if severity == "ERROR" else "QUALITY"],
    }


class FakeAmazonServer(RecordingServer):
    """Run with `with FakeAmazonServer() as amazon:`; point the client at `amazon.url` (SP-API)
    and `amazon.token_url` (LWA)."""

    token_path = "/auth/o2/token"

    def __init__(
        self,
        *,
        seller_id: str = "A2SELLERTEST01",
        client_id: str = "amzn1.application-oa2-client.test0001",
        client_secret: str = "amzn-test-client-secret",
        refresh_token: str = "Atzr|test-refresh-token-0001",
        token_ttl: float = 3600.0,
        rate_limit: float | None = None,
        burst: int = 10,
        retry_after: float | None = None,
        latency: float = 0.0,
        auto_process: bool = True,
    ) -> None:
        # retry_after: Amazon documents none; set it to test that a client honours it
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
        self.seller_id = seller_id
        self.auto_process = auto_process
        self.feeds_fatal = False  # every feed ends FATAL (what an unreadable document gets)
        self.later_issues: dict[str, list[dict[str, Any]]] = {}  # sku -> issues found later
        self.listings: dict[tuple[str, str, str], Listing] = {}
        self.documents: dict[str, dict[str, Any]] = {}
        self.feeds: dict[str, dict[str, Any]] = {}
        self.app = self._build_app()

    # ------------------------------------------------------------------------------ control

    def credentials(self, marketplace_id: str = "DE") -> dict[str, str]:
        return {
            "seller_id": self.seller_id,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "refresh_token": self.refresh_token,
            "marketplace_id": marketplace_id,
        }

    def process(self) -> None:
        """Finish processing every accepted listing (what Amazon does minutes later)."""
        with self._lock:
            for listing in self.listings.values():
                self._process(listing)

    def listing(self, sku: str, marketplace_id: str) -> Listing | None:
        return self.listings.get((self.seller_id, marketplace_id, sku))

    # ----------------------------------------------------------------------------- protocol

    def _too_many(self) -> Response:
        return self._with_retry_after(
            _errors(429, "QuotaExceeded", "You exceeded your quota for the requested resource.")
        )

    def _token_valid(self, token: str | None) -> str | None:
        """None when the token may call, else the SP-API `details` text."""
        if not token:
            return "missing"
        expiry = self.access_tokens.expiry(token)
        if expiry is None:
            return "The access token you provided is revoked, malformed or invalid."
        if expiry <= time.monotonic():
            return "The access token you provided has expired."
        return None

    def _process(self, listing: Listing) -> None:
        if listing.processed:
            return
        listing.processed = True
        issues = []
        for value in listing.attributes.get("externally_assigned_product_identifier") or []:
            if value.get("type") == "ean" and not ean_ok(str(value.get("value", ""))):
                issues.append(
                    _issue(
                        "8541",
                        f"The EAN '{value.get('value')}' is not valid (check digit).",
                        ["externally_assigned_product_identifier"],
                    )
                )
        issues += self.later_issues.get(listing.sku, [])
        if not listing.attributes.get("main_product_image_locator"):
            issues.append(
                _issue(
                    "18027",
                    "A main image improves the listing's visibility.",
                    ["main_product_image_locator"],
                    "WARNING",
                )
            )
        listing.issues = issues
        if not listing.asin:
            listing.asin = "B0" + secrets.token_hex(4).upper()

    def _validate(self, body: Any, marketplace_id: str) -> tuple[list[dict[str, Any]], str | None]:
        """Synchronous validation: (issues, productType) for a put or feed UPDATE body."""
        if not isinstance(body, dict):
            return [_issue("4000001", "The request body is not a JSON object.", [])], None
        product_type = body.get("productType")
        attributes = body.get("attributes")
        if not isinstance(product_type, str) or not product_type:
            return [_issue("4000001", "'productType' is required.", [])], None
        if not isinstance(attributes, dict):
            return [_issue("4000001", "'attributes' is required.", [])], product_type
        issues = []
        for name in REQUIRED_ATTRIBUTES:
            values = attributes.get(name) or []
            if not values or any(isinstance(v, dict) and v.get("value") == "" for v in values):
                issues.append(_issue("90220", f"'{name}' is required but not supplied.", [name]))
        for name, values in attributes.items():
            if not isinstance(values, list):
                issues.append(_issue("4000003", f"'{name}' must be an array.", [name]))
                continue
            for value in values:
                if not isinstance(value, dict):
                    issues.append(_issue("4000003", f"'{name}' values must be objects.", [name]))
                elif value.get("marketplace_id", marketplace_id) != marketplace_id:
                    issues.append(_issue("4000002", f"'{name}' names another marketplace.", [name]))
        for value in attributes.get("item_name") or []:
            title = str(value.get("value", "")) if isinstance(value, dict) else ""
            if len(title) > TITLE_MAX:
                issues.append(
                    _issue(
                        "8560",
                        f"'item_name' is {len(title)} characters; at most {TITLE_MAX} allowed.",
                        ["item_name"],
                    )
                )
            if isinstance(value, dict) and not value.get("language_tag"):
                issues.append(_issue("4000004", "'item_name' needs a language_tag.", ["item_name"]))
        for value in attributes.get("purchasable_offer") or []:
            try:
                price = value["our_price"][0]["schedule"][0]["value_with_tax"]
                ok = isinstance(price, int | float) and price > 0 and bool(value.get("currency"))
            except (KeyError, IndexError, TypeError):
                ok = False
            if not ok:
                issues.append(
                    _issue(
                        "4000003", "'purchasable_offer' has no valid price.", ["purchasable_offer"]
                    )
                )
        return issues, product_type

    def _put(self, sku: str, marketplace_id: str, body: Any, *, preview: bool) -> dict[str, Any]:
        issues, product_type = self._validate(body, marketplace_id)
        submission = {"sku": sku, "submissionId": uuid.uuid4().hex, "issues": issues}
        if any(i["severity"] == "ERROR" for i in issues):
            return {**submission, "status": "INVALID"}
        if preview:
            return {**submission, "status": "VALID"}
        assert product_type is not None
        now = time.monotonic()
        with self._lock:
            key = (self.seller_id, marketplace_id, sku)
            listing = self.listings.get(key)
            if listing is None:
                listing = Listing(sku, marketplace_id, product_type, body["attributes"], now, now)
                self.listings[key] = listing
            else:  # a put is a full replace
                listing.product_type = product_type
                listing.attributes = body["attributes"]
                listing.updated = now
                listing.processed = False
                listing.issues = []
            listing.puts += 1
            if self.auto_process:
                self._process(listing)
        return {**submission, "status": "ACCEPTED"}

    def _item(self, listing: Listing, included: list[str]) -> dict[str, Any]:
        item: dict[str, Any] = {"sku": listing.sku}
        errors = any(i["severity"] == "ERROR" for i in listing.issues)
        if "summaries" in included:
            if listing.processed:
                title = (listing.attributes.get("item_name") or [{}])[0].get("value", "")
                item["summaries"] = [
                    {
                        "marketplaceId": listing.marketplace_id,
                        "asin": listing.asin,
                        "productType": listing.product_type,
                        "conditionType": (listing.attributes.get("condition_type") or [{}])[0].get(
                            "value"
                        ),
                        "status": [] if errors else ["BUYABLE", "DISCOVERABLE"],
                        "itemName": title,
                        "createdDate": "2026-01-01T00:00:00Z",
                        "lastUpdatedDate": "2026-01-01T00:00:00Z",
                    }
                ]
            else:
                item["summaries"] = []
        if "issues" in included:
            item["issues"] = list(listing.issues)
        if "attributes" in included:
            item["attributes"] = listing.attributes
        return item

    # --------------------------------------------------------------------------------- app

    def _build_app(self) -> FastAPI:
        app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

        self._install_recorder(app)

        @app.post(self.token_path)
        async def token(request: Request) -> Response:
            self._count(request, "token")
            form, refused = self._refresh_form(
                request, form_error="Form-encode the body.", grant_error="Unsupported."
            )
            if refused is not None:
                return refused
            if (
                form.get("client_id") != self.client_id
                or form.get("client_secret") != self.client_secret
            ):
                return oauth_error(401, "invalid_client", "Client authentication failed")
            if not self._known_refresh_token(form):
                return oauth_error(
                    400,
                    "invalid_grant",
                    "The request has an invalid grant parameter : refresh_token",
                )
            access = self.access_tokens.issue("Atza|", self.token_ttl)
            return JSONResponse(
                {"access_token": access, "token_type": "bearer", "expires_in": self.token_ttl}
            )

        async def guard(request: Request, operation: str) -> Response | None:
            """What every SP-API operation checks first; a response refuses the call."""
            self._count(request, operation)
            details = self._token_valid(request.headers.get("x-amz-access-token"))
            failure = self._next_failure()
            if details == "missing":
                return _errors(
                    403, "MissingAuthenticationToken", "Access to requested resource is denied."
                )
            if details is not None or failure == "expired_token":
                return _errors(
                    403,
                    "Unauthorized",
                    "Access to requested resource is denied.",
                    details or "The access token you provided has expired.",
                )
            if failure == "429" or self._throttle():
                return self._too_many()
            if failure in ("500", "503"):
                return _errors(int(failure), "InternalFailure", "We encountered an internal error.")
            return None

        async def listing_call(
            request: Request, operation: str, seller: str
        ) -> tuple[str | None, Response | None]:
            """guard(), then the one marketplace and this seller a listings call must name."""
            refused = await guard(request, operation)
            if refused is not None:
                return None, refused
            ids = [
                v
                for raw in request.query_params.getlist("marketplaceIds")
                for v in raw.split(",")
                if v
            ]
            if len(ids) != 1:
                return None, _errors(
                    400, "InvalidInput", "marketplaceIds must name exactly one marketplace."
                )
            if seller != self.seller_id:
                return None, _errors(400, "InvalidInput", f"Unknown sellerId '{seller}'.")
            return ids[0], None

        def json_body(request: Request) -> tuple[Any, Response | None]:
            if not request.headers.get("content-type", "").startswith("application/json"):
                return None, _errors(415, "UnsupportedMediaType", "Send application/json.")
            try:
                return json.loads(request.state.raw), None
            except ValueError:
                return None, _errors(400, "InvalidInput", "The body is not valid JSON.")

        @app.put("/listings/2021-08-01/items/{seller}/{sku:path}")
        async def put_item(request: Request, seller: str, sku: str) -> Response:
            preview = request.query_params.get("mode") == "VALIDATION_PREVIEW"
            operation = "previewListingsItem" if preview else "putListingsItem"
            marketplace_id, refused = await listing_call(request, operation, seller)
            if refused is not None:
                return refused
            body, refused = json_body(request)
            if refused is not None:
                return refused
            assert marketplace_id is not None
            answer = self._put(sku, marketplace_id, body, preview=preview)
            if preview and "identifiers" in request.query_params.get("includedData", ""):
                answer["identifiers"] = [{"marketplaceId": marketplace_id, "asin": "B0PREVIEW1"}]
            return self._ok(answer)

        @app.patch("/listings/2021-08-01/items/{seller}/{sku:path}")
        async def patch_item(request: Request, seller: str, sku: str) -> Response:
            marketplace_id, refused = await listing_call(request, "patchListingsItem", seller)
            if refused is not None:
                return refused
            body, refused = json_body(request)
            if refused is not None:
                return refused
            listing = self.listings.get((self.seller_id, str(marketplace_id), sku))
            if listing is None:
                return _not_found(sku)
            patches = body.get("patches") if isinstance(body, dict) else None
            if not body.get("productType") or not patches:
                return self._ok(
                    {
                        "sku": sku,
                        "status": "INVALID",
                        "submissionId": uuid.uuid4().hex,
                        "issues": [_issue("4000001", "productType and patches are required.", [])],
                    }
                )
            for patch in patches:
                name = str(patch.get("path", "")).removeprefix("/attributes/")
                if patch.get("op") == "delete":
                    listing.attributes.pop(name, None)
                else:
                    listing.attributes[name] = patch.get("value")
            listing.updated = time.monotonic()
            return self._ok(_accepted(sku))

        @app.delete("/listings/2021-08-01/items/{seller}/{sku:path}")
        async def delete_item(request: Request, seller: str, sku: str) -> Response:
            marketplace_id, refused = await listing_call(request, "deleteListingsItem", seller)
            if refused is not None:
                return refused
            with self._lock:
                gone = self.listings.pop((self.seller_id, str(marketplace_id), sku), None)
            if gone is None:
                return _not_found(sku)
            return self._ok(_accepted(sku))

        @app.get("/listings/2021-08-01/items/{seller}/{sku:path}")
        async def get_item(request: Request, seller: str, sku: str) -> Response:
            marketplace_id, refused = await listing_call(request, "getListingsItem", seller)
            if refused is not None:
                return refused
            listing = self.listings.get((self.seller_id, str(marketplace_id), sku))
            if listing is None:
                return _not_found(sku)
            included = (request.query_params.get("includedData") or "summaries").split(",")
            return self._ok(self._item(listing, included))

        @app.post("/feeds/2021-06-30/documents")
        async def create_document(request: Request) -> Response:
            refused = await guard(request, "createFeedDocument")
            if refused is not None:
                return refused
            body, refused = json_body(request)
            if refused is not None:
                return refused
            if not isinstance(body, dict) or not body.get("contentType"):
                return _errors(400, "InvalidInput", "contentType is required.")
            doc_id = str(uuid.uuid4())
            self.documents[doc_id] = {"contentType": body["contentType"], "content": None}
            url = f"{self.url}/s3/upload/{doc_id}?X-Amz-Signature={secrets.token_hex(16)}"
            return self._ok({"feedDocumentId": doc_id, "url": url}, status=201)

        @app.put("/s3/upload/{doc_id}")
        async def upload(request: Request, doc_id: str) -> Response:
            self._count(request, "upload")
            doc = self.documents.get(doc_id)
            if doc is None or not request.query_params.get("X-Amz-Signature"):
                return Response("<Error><Code>AccessDenied</Code></Error>", 403)
            if request.headers.get("authorization") or request.headers.get("x-amz-access-token"):
                return Response("<Error><Code>InvalidArgument</Code></Error>", 400)
            if request.headers.get("content-type") != doc["contentType"]:
                return Response("<Error><Code>SignatureDoesNotMatch</Code></Error>", 403)
            doc["content"] = request.state.raw
            return Response(status_code=200)

        @app.post("/feeds/2021-06-30/feeds")
        async def create_feed(request: Request) -> Response:
            refused = await guard(request, "createFeed")
            if refused is not None:
                return refused
            body, refused = json_body(request)
            if refused is not None:
                return refused
            ids = body.get("marketplaceIds") if isinstance(body, dict) else None
            doc = self.documents.get(str(body.get("inputFeedDocumentId")))
            if body.get("feedType") != "JSON_LISTINGS_FEED" or not ids or len(ids) > 25:
                return _errors(400, "InvalidInput", "feedType and 1-25 marketplaceIds needed.")
            if doc is None or doc["content"] is None:
                return _errors(400, "InvalidInput", "inputFeedDocumentId has no upload.")
            feed_id = str(50_000 + len(self.feeds))
            self.feeds[feed_id] = {
                "feedId": feed_id,
                "feedType": "JSON_LISTINGS_FEED",
                "marketplaceIds": ids,
                "createdTime": "2026-01-01T00:00:00Z",
                "processingStatus": "IN_QUEUE",
                "document": doc,
            }
            return self._ok({"feedId": feed_id}, status=202)

        @app.get("/feeds/2021-06-30/feeds/{feed_id}")
        async def get_feed(request: Request, feed_id: str) -> Response:
            refused = await guard(request, "getFeed")
            if refused is not None:
                return refused
            feed = self.feeds.get(feed_id)
            if feed is None:
                return _errors(404, "NotFound", f"Feed {feed_id} not found.")
            step = {"IN_QUEUE": "IN_PROGRESS", "IN_PROGRESS": "DONE"}
            state = feed["processingStatus"]
            if state in step:
                feed["processingStatus"] = step[state]
                if step[state] == "DONE":
                    self._run_feed(feed)
            shown = {k: v for k, v in feed.items() if k != "document"}
            return self._ok(shown)

        @app.get("/feeds/2021-06-30/documents/{doc_id}")
        async def get_document(request: Request, doc_id: str) -> Response:
            refused = await guard(request, "getFeedDocument")
            if refused is not None:
                return refused
            doc = self.documents.get(doc_id)
            if doc is None or "report" not in doc:
                return _errors(404, "NotFound", f"Document {doc_id} not found.")
            return self._ok(
                {
                    "feedDocumentId": doc_id,
                    "url": f"{self.url}/s3/download/{doc_id}?X-Amz-Signature=x",
                    "compressionAlgorithm": "GZIP",
                }
            )

        @app.get("/s3/download/{doc_id}")
        async def download(request: Request, doc_id: str) -> Response:
            self._count(request, "download")
            doc = self.documents.get(doc_id)
            if doc is None or "report" not in doc:
                return Response("<Error><Code>NoSuchKey</Code></Error>", 404)
            if request.headers.get("x-amz-access-token"):
                return Response("<Error><Code>InvalidArgument</Code></Error>", 400)
            return Response(doc["report"], media_type="application/octet-stream")

        @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        async def unknown(request: Request, path: str) -> Response:
            return _errors(404, "NotFound", f"Resource /{path} is not found.")

        return app

    def _ok(self, body: dict[str, Any], status: int = 200) -> JSONResponse:
        response = JSONResponse(body, status_code=status)
        response.headers["x-amzn-RateLimit-Limit"] = f"{self.rate_limit or 5.0:.1f}"
        response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
        return response

    def _run_feed(self, feed: dict[str, Any]) -> None:
        """Apply every message of the uploaded document and store the processing report."""
        report_id = str(uuid.uuid4())
        feed["resultFeedDocumentId"] = report_id
        try:
            if self.feeds_fatal:
                raise ValueError("refused")
            document = json.loads(feed["document"]["content"])
            header, messages = document["header"], document["messages"]
        except (ValueError, KeyError, TypeError):
            feed["processingStatus"] = "FATAL"
            report = {
                "header": {"sellerId": self.seller_id, "version": "2.0", "feedId": feed["feedId"]},
                "issues": [
                    {
                        "messageId": 0,
                        "code": "100001",
                        "severity": "ERROR",
                        "message": "Invalid feed JSON.",
                    }
                ],
                "summary": {"errors": 1, "warnings": 0, "messagesProcessed": 0},
            }
            self.documents[report_id] = {"report": gzip.compress(json.dumps(report).encode())}
            return
        marketplace_id = feed["marketplaceIds"][0]
        issues: list[dict[str, Any]] = []
        items = []
        accepted = invalid = 0
        for message in messages:
            sku = message.get("sku")
            if header.get("sellerId") != self.seller_id:
                found = [_issue("100002", "The header's sellerId is not this seller.", [])]
            elif message.get("operationType") != "UPDATE":
                found = [_issue("100003", "Only UPDATE is supported by this fake.", [])]
            else:
                answer = self._put(sku, marketplace_id, message, preview=False)
                found = answer["issues"]
            errors = [i for i in found if i["severity"] == "ERROR"]
            invalid += bool(errors)
            accepted += not errors
            for issue in found:
                issues.append(
                    {
                        "messageId": message.get("messageId"),
                        "sku": sku,
                        "code": issue["code"],
                        "severity": issue["severity"],
                        "message": issue["message"],
                        "attributeNames": issue.get("attributeNames", []),
                    }
                )
            listing = self.listing(sku, marketplace_id)
            if listing is not None and not errors and "report" in header:
                items.append(self._item(listing, ["summaries", "issues"]))
        report = {
            "header": {"sellerId": self.seller_id, "version": "2.0", "feedId": feed["feedId"]},
            "issues": issues,
            "summary": {
                "errors": sum(i["severity"] == "ERROR" for i in issues),
                "warnings": sum(i["severity"] == "WARNING" for i in issues),
                "messagesProcessed": len(messages),
                "messagesAccepted": accepted,
                "messagesInvalid": invalid,
            },
        }
        if "report" in header:
            report["items"] = items
        self.documents[report_id] = {"report": gzip.compress(json.dumps(report).encode())}
