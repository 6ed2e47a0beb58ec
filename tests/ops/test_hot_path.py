"""The cached read path: a known API key and a cached answer cost no SQL at all; a revoked key
is refused on the next request all the same."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY
from tests.factories import product_payload

from listingflow.auth.service import auth_service
from listingflow.kit.uow import UnitOfWork
from listingflow.models import ApiKey


def _statements() -> float:
    return REGISTRY.get_sample_value("listingflow_db_queries_total", {"engine": "primary"}) or 0.0


async def test_a_cached_answer_for_a_known_key_sends_no_sql(client: httpx.AsyncClient) -> None:
    await client.post("/api/import/batch", json=[product_payload() for _ in range(3)])
    for path in ("/api/products/stats/summary", "/api/products?page_size=20"):
        assert (await client.get(path)).status_code == 200  # fills the cache
        before = _statements()
        assert (await client.get(path)).status_code == 200
        assert _statements() == before, path


async def test_a_revoked_key_is_refused_on_the_next_request(
    app: FastAPI, client: httpx.AsyncClient, api_key: str
) -> None:
    assert (await client.get("/api/products/stats/summary")).status_code == 200
    assert (await client.get("/api/products/stats/summary")).status_code == 200  # remembered
    async with app.state.db.session() as session:
        from sqlalchemy import select

        key = (await session.execute(select(ApiKey))).scalars().one()
        uow = UnitOfWork(session=session, cache=app.state.cache, workspace_id=key.workspace_id)
        await auth_service.revoke_api_key(session, key.workspace_id, key.id)
        await uow.commit()
    response = await client.get("/api/products/stats/summary")
    assert response.status_code == 401
