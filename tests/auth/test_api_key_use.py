"""An API key's last use is recorded (`last_used_at`, to the hour) when the key is checked
against the database, never on the cached path, and shown on the keys page."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update

from listingflow.kit.cache import bump_workspace_generation
from listingflow.kit.models import utcnow
from listingflow.models import ApiKey


async def _last_used(app: FastAPI) -> datetime | None:
    async with app.state.db.session() as session:
        key = (await session.execute(select(ApiKey))).scalars().one()
        return key.last_used_at


async def _set_last_used(app: FastAPI, when: datetime) -> None:
    """Backdates the note, then moves the generation so that the next request checks the key
    against the database again (as after any write to the workspace)."""
    async with app.state.db.session() as session:
        await session.execute(update(ApiKey).values(last_used_at=when))
        key = (await session.execute(select(ApiKey))).scalars().one()
        await session.commit()
        await bump_workspace_generation(app.state.cache, key.workspace_id)


async def test_the_first_use_is_recorded_then_at_most_hourly(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    assert await _last_used(app) is None
    before = utcnow()
    assert (await client.get("/api/products/stats/summary")).status_code == 200
    first = await _last_used(app)
    assert first is not None and before - timedelta(seconds=1) <= first <= utcnow()

    half_an_hour_ago = utcnow() - timedelta(minutes=30)
    await _set_last_used(app, half_an_hour_ago)
    assert (await client.get("/api/products/stats/summary")).status_code == 200
    assert await _last_used(app) == half_an_hour_ago  # within the hour: not written again

    two_hours_ago = utcnow() - timedelta(hours=2)
    await _set_last_used(app, two_hours_ago)
    assert (await client.get("/api/products/stats/summary")).status_code == 200
    renewed = await _last_used(app)
    assert renewed is not None and renewed > utcnow() - timedelta(minutes=1)


async def test_a_refused_key_records_nothing(
    app: FastAPI, anon_client: httpx.AsyncClient, api_key: str
) -> None:
    response = await anon_client.get("/api/products", headers={"X-API-Key": "lf_unknown"})
    assert response.status_code == 401
    async with app.state.db.session() as session:
        used = (await session.execute(select(ApiKey.last_used_at))).scalars().all()
    assert used == [None]  # the workspace's one key, unused
