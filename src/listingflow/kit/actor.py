"""Who is acting: set by each front door (API key, signed-in user, webhook, CLI), read by the
audit log. A context variable, so it follows the request or command into the services."""

from __future__ import annotations

import getpass
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    kind: str  # api_key, user, webhook, cli, worker, system
    id: str | None = None  # the API key's prefix, the user's id
    label: str = ""  # what a person reads: "api key lf_3kF9aQ", "ann@example.com"
    ip: str | None = None


SYSTEM = Actor(kind="system", label="system")
_current: ContextVar[Actor] = ContextVar("listingflow_actor", default=SYSTEM)


def set_actor(actor: Actor) -> None:
    _current.set(actor)


def current_actor() -> Actor:
    return _current.get()


def cli_actor() -> Actor:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(kind="cli", id=user, label=f"cli ({user})")
