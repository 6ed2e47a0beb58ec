"""The boundary's unit of work: one session, one commit, then the workspace's cache invalidation
and whatever must only happen once the data is durable (sending job messages)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from listingflow import config
from listingflow.kit.cache import Cache, bump_workspace_generation, cache_key


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
        await written(self.cache, self.workspace_id)
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    async def rollback(self) -> None:
        await self.session.rollback()
        self._after_commit.clear()


# --- read your own writes (with a read replica) -------------------------------------------------


def _recent_write_key(workspace_id: int) -> str:
    return cache_key("wrote", workspace_id)


async def written(cache: Cache, workspace_id: int) -> None:
    """After any commit that changed a workspace (a request, a task): mark the write for
    read-your-writes, then move the cache generation on."""
    await note_write(cache, workspace_id)  # before the bump: see wrote_recently
    await bump_workspace_generation(cache, workspace_id)


async def note_write(cache: Cache, workspace_id: int) -> None:
    """Remember, in the shared cache, that the workspace wrote just now; for
    LISTINGFLOW_DB_READ_YOUR_WRITES_SECONDS its reads go to the primary (db.Database.reader).
    Only with a read replica configured: otherwise every read is on the primary anyway."""
    settings = config.settings
    if settings.database_read_url:
        await cache.set(_recent_write_key(workspace_id), 1, settings.db_read_your_writes_seconds)


async def wrote_recently(cache: Cache, workspace_id: int) -> bool:
    """True within the window after the workspace's last committed write (noted before the
    cache generation moves: a read routed after the bump is on the primary)."""
    return await cache.get(_recent_write_key(workspace_id)) is not None
