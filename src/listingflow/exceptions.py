"""One error hierarchy; the HTTP status lives on the class. Handlers render one JSON shape."""

from __future__ import annotations

from typing import Any


class ListingflowError(Exception):
    """An expected failure with a message a seller understands."""

    status_code = 400
    code = "bad_request"
    retryable = False  # would the same call succeed later (a job retries only these)?

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.errors = errors or ([{"field": field, "message": message}] if field else [])
        self.headers = headers


class BadRequest(ListingflowError):
    status_code = 400
    code = "bad_request"


class Unauthorized(ListingflowError):
    status_code = 401
    code = "unauthorized"


class Forbidden(ListingflowError):
    status_code = 403
    code = "forbidden"


class NotFound(ListingflowError):
    status_code = 404
    code = "not_found"


class Conflict(ListingflowError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(ListingflowError):
    status_code = 413
    code = "payload_too_large"


class ValidationFailed(ListingflowError):
    status_code = 422
    code = "validation_error"


class StillRunning(ListingflowError):
    """The work was accepted as a job but did not finish within the wait; follow the job."""

    status_code = 504
    code = "still_running"


class UpstreamUnavailable(ListingflowError):
    """An outside service failed; `retryable` says whether trying again later can help."""

    status_code = 502
    code = "upstream_error"

    def __init__(self, message: str, *, retryable: bool = True, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retryable = retryable


class DatabaseUnavailable(ListingflowError):
    """The database could not be reached or dropped the connection (restart, failover)."""

    status_code = 503
    code = "database_unavailable"
    retryable = True


class StorageFull(ListingflowError):
    """The database's disk is full: nothing more can be written until space is freed."""

    status_code = 507
    code = "storage_full"


class DatabaseFailed(ListingflowError):
    """Any other database error in the middle of a long write (the message says how far)."""

    status_code = 500
    code = "database_error"


_DISK_FULL = ("database or disk is full", "no space left on device", "could not extend file")
# SQLSTATE classes of a lost or refused connection, and PostgreSQL shutting down or starting.
_UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03")


def database_failure(exc: BaseException, message: str) -> ListingflowError:
    """The error a caller sees for a database failure (a SQLAlchemy DBAPIError, read by duck
    typing so this module stays free of SQLAlchemy): a full disk is a 507, a lost or refused
    connection (or a locked SQLite file) a 503, anything else a 500 that still says `message`."""
    orig = getattr(exc, "orig", None)
    text = f"{exc} {orig}".lower()
    sqlstate = getattr(orig, "sqlstate", None) or ""
    if sqlstate == "53100" or any(marker in text for marker in _DISK_FULL):
        return StorageFull(f"the database's disk is full: {message}")
    if (
        getattr(exc, "connection_invalidated", False)
        or sqlstate.startswith(_UNAVAILABLE_STATES)
        or (not sqlstate and type(orig).__name__ == "OperationalError")
    ):
        return DatabaseUnavailable(f"the database is unavailable: {message}")
    return DatabaseFailed(f"database error: {message}")
