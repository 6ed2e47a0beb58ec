"""All SQL for marketplace connections and publish attempts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow.models import MarketplaceConnection, PublishAttempt


class PublicationRepository:
    # --- connections ------------------------------------------------------------------------

    async def connections(
        self, session: AsyncSession, workspace_id: int, marketplace: str | None = None
    ) -> list[MarketplaceConnection]:
        query = select(MarketplaceConnection).where(
            MarketplaceConnection.workspace_id == workspace_id
        )
        if marketplace is not None:
            query = query.where(MarketplaceConnection.marketplace == marketplace)
        query = query.order_by(MarketplaceConnection.marketplace, MarketplaceConnection.id)
        return list((await session.execute(query)).scalars())

    async def connection(
        self, session: AsyncSession, workspace_id: int, connection_id: int
    ) -> MarketplaceConnection | None:
        result = await session.execute(
            select(MarketplaceConnection).where(
                MarketplaceConnection.id == connection_id,
                MarketplaceConnection.workspace_id == workspace_id,
            )
        )
        return result.scalar_one_or_none()

    async def connection_by_name(
        self, session: AsyncSession, workspace_id: int, marketplace: str, name: str
    ) -> MarketplaceConnection | None:
        result = await session.execute(
            select(MarketplaceConnection).where(
                MarketplaceConnection.workspace_id == workspace_id,
                MarketplaceConnection.marketplace == marketplace,
                MarketplaceConnection.name == name,
            )
        )
        return result.scalar_one_or_none()

    async def add_connection(
        self, session: AsyncSession, connection: MarketplaceConnection
    ) -> MarketplaceConnection:
        session.add(connection)
        await session.flush()
        return connection

    async def delete_connection(self, session: AsyncSession, connection_id: int) -> None:
        await session.execute(
            delete(MarketplaceConnection).where(MarketplaceConnection.id == connection_id)
        )

    # --- attempts ---------------------------------------------------------------------------

    async def add_attempts(self, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await session.execute(insert(PublishAttempt), list(rows))

    async def attempts(
        self, session: AsyncSession, workspace_id: int, product_id: int, *, limit: int
    ) -> list[PublishAttempt]:
        result = await session.execute(
            select(PublishAttempt)
            .where(
                PublishAttempt.workspace_id == workspace_id,
                PublishAttempt.product_id == product_id,
            )
            .order_by(PublishAttempt.created_at.desc(), PublishAttempt.id.desc())
            .limit(limit)
        )
        return list(result.scalars())


publication_repository = PublicationRepository()
