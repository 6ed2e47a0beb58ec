"""The boundary's unit of work: one session, one commit, then the workspace's cache invalidation
and whatever must only happen once the data is durable (sending job messages)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from listingflow.kit.cache import Cache, bump_workspace_generation


@dataclass
class UnitOfWork:
    session: AsyncSession
    cache: Cache
    workspace_id: int
    _after_commit: list[Callable[[], None]] = field(default_factory=list)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run callback once the next commit succeeds; a rollback drops it."""
        self._after_commit.append(callback)

    async def commit(self) -> None:
        """Commit, bump the workspace's cache generation, then run the after-commit callbacks."""
        await self.session.commit()
        await bump_workspace_generation(self.cache, self.workspace_id)
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    async def rollback(self) -> None:
        await self.session.rollback()
        self._after_commit.clear()
