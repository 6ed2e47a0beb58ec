"""The boundary's unit of work: one session, one commit, then the workspace's cache invalidation."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from listingflow.kit.cache import Cache, bump_workspace_generation


@dataclass
class UnitOfWork:
    session: AsyncSession
    cache: Cache
    workspace_id: int

    async def commit(self) -> None:
        """Commit, then bump the workspace's cache generation (only after the data is durable)."""
        await self.session.commit()
        await bump_workspace_generation(self.cache, self.workspace_id)
