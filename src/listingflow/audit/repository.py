"""All SQL for the audit log: insert and read, nothing else (append-only)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow.models import AuditEvent


class AuditRepository:
    async def add(self, session: AsyncSession, event: AuditEvent) -> None:
        session.add(event)
        await session.flush()

    async def events(
        self,
        session: AsyncSession,
        workspace_id: int,
        *,
        action: str | None,
        object_type: str | None,
        object_id: str | None,
        actor: str | None,
        since: datetime | None,
        before_id: int | None,
        limit: int,
    ) -> list[AuditEvent]:
        query = select(AuditEvent).where(AuditEvent.workspace_id == workspace_id)
        if action:
            query = query.where(AuditEvent.action.startswith(action))
        if object_type:
            query = query.where(AuditEvent.object_type == object_type)
        if object_id:
            query = query.where(AuditEvent.object_id == object_id)
        if actor:
            query = query.where(AuditEvent.actor_label.contains(actor))
        if since is not None:
            query = query.where(AuditEvent.at >= since)
        if before_id is not None:
            query = query.where(AuditEvent.id < before_id)
        query = query.order_by(AuditEvent.id.desc()).limit(limit)
        return list((await session.execute(query)).scalars())


audit_repository = AuditRepository()
