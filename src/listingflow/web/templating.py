"""The Jinja2 environment (autoescape on for every template) and page rendering."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from listingflow import __version__
from listingflow.auth.users import WebSession
from listingflow.kit.models import normalize_money

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

# autoescape=True (not select_autoescape): every template, whatever its name, escapes.
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def _money(value: Decimal | None) -> str:
    return str(normalize_money(value)) if value is not None else ""


def _percent(value: float | None) -> str:
    return f"{round((value or 0) * 100)}%"


_env.filters["when"] = _when
_env.filters["percent"] = _percent
_env.filters["money"] = _money
templates = Jinja2Templates(env=_env)


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    viewer: WebSession | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A page (or an htmx fragment) with what every template may use."""
    values: dict[str, Any] = {
        "viewer": viewer,
        "csrf_token": viewer.csrf_token if viewer else "",
        "version": __version__,
        "path": request.url.path,
        "htmx": request.headers.get("HX-Request") == "true",
    }
    values.update(context or {})
    return templates.TemplateResponse(
        request, template, values, status_code=status_code, headers=headers
    )
