"""All SQL of optimization: the per-workspace, per-day LLM usage counters."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow.models import LlmUsage


class OptimizationRepository:
    async def add_usage(
        self,
        session: AsyncSession,
        workspace_id: int,
        day: date,
        *,
        calls: int,
        prompt_tokens: int,
        completion_tokens: int,
    ) -> None:
        """One statement that adds to today's counters (safe with concurrent workers)."""
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(LlmUsage).values(
            workspace_id=workspace_id,
            day=day,
            calls=calls,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["workspace_id", "day"],
            set_={
                "calls": LlmUsage.calls + stmt.excluded.calls,
                "prompt_tokens": LlmUsage.prompt_tokens + stmt.excluded.prompt_tokens,
                "completion_tokens": LlmUsage.completion_tokens + stmt.excluded.completion_tokens,
            },
        )
        await session.execute(stmt)

    async def usage(self, session: AsyncSession, workspace_id: int, day: date) -> LlmUsage | None:
        result = await session.execute(
            select(LlmUsage).where(LlmUsage.workspace_id == workspace_id, LlmUsage.day == day)
        )
        return result.scalar_one_or_none()


optimization_repository = OptimizationRepository()
