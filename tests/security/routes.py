"""Every route of an app, flattened (FastAPI keeps included routers nested in app.routes)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts


@dataclass(frozen=True)
class RouteInfo:
    path: str
    methods: frozenset[str]
    original: object  # the route as declared (an APIRoute, a WebRoute, a Mount...)


def all_routes(app: FastAPI) -> list[RouteInfo]:
    return [
        RouteInfo(str(ctx.path), frozenset(ctx.methods or ()), ctx.original_route)
        for ctx in iter_route_contexts(app.routes)
        if ctx.path is not None
    ]
