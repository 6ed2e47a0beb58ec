"""All SQL for workspaces, users, API keys and webhook secrets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow.models import ApiKey, User, WebhookDelivery, WebhookSecret, Workspace


class AuthRepository:
    async def workspace_by_slug(self, session: AsyncSession, slug: str) -> Workspace | None:
        result = await session.execute(select(Workspace).where(Workspace.slug == slug))
        return result.scalar_one_or_none()

    async def workspace_by_id(self, session: AsyncSession, workspace_id: int) -> Workspace | None:
        return await session.get(Workspace, workspace_id)

    async def list_workspaces(self, session: AsyncSession) -> list[Workspace]:
        return list((await session.execute(select(Workspace).order_by(Workspace.id))).scalars())

    async def add(
        self, session: AsyncSession, row: Workspace | ApiKey | WebhookSecret | User
    ) -> None:
        session.add(row)
        await session.flush()

    async def api_key_by_hash(self, session: AsyncSession, key_hash: str) -> ApiKey | None:
        result = await session.execute(
            select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
        )
        return result.scalar_one_or_none()

    async def touch_api_key(
        self, session: AsyncSession, key_hash: str, now: datetime, unless_since: datetime
    ) -> None:
        """Sets last_used_at to `now` unless it is already at or after `unless_since`."""
        await session.execute(
            update(ApiKey)
            .where(
                ApiKey.key_hash == key_hash,
                ApiKey.revoked_at.is_(None),
                (ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < unless_since),
            )
            .values(last_used_at=now)
        )

    async def api_keys(self, session: AsyncSession, workspace_id: int) -> list[ApiKey]:
        result = await session.execute(
            select(ApiKey).where(ApiKey.workspace_id == workspace_id).order_by(ApiKey.id)
        )
        return list(result.scalars())

    async def revoke_api_key(
        self, session: AsyncSession, workspace_id: int, key_id: int, now: datetime
    ) -> bool:
        result = await session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == key_id,
                ApiKey.workspace_id == workspace_id,
                ApiKey.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def revoke_webhook_secrets(
        self, session: AsyncSession, workspace_id: int, now: datetime
    ) -> None:
        await session.execute(
            update(WebhookSecret)
            .where(WebhookSecret.workspace_id == workspace_id, WebhookSecret.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    # --- users ----------------------------------------------------------------------------

    async def user_by_email(self, session: AsyncSession, email: str) -> User | None:
        result = await session.execute(select(User).where(User.email == email))
        return result.scalar_one_or_none()

    async def user_by_id(self, session: AsyncSession, user_id: int) -> User | None:
        return await session.get(User, user_id)

    async def webhook_secret_by_hash(
        self, session: AsyncSession, secret_hash: str, *, include_revoked: bool = False
    ) -> WebhookSecret | None:
        query = select(WebhookSecret).where(WebhookSecret.secret_hash == secret_hash)
        if not include_revoked:
            query = query.where(WebhookSecret.revoked_at.is_(None))
        return (await session.execute(query)).scalar_one_or_none()

    async def active_webhook_secrets(
        self, session: AsyncSession, workspace_id: int | None = None
    ) -> list[WebhookSecret]:
        query = select(WebhookSecret).where(WebhookSecret.revoked_at.is_(None))
        if workspace_id is not None:
            query = query.where(WebhookSecret.workspace_id == workspace_id)
        return list((await session.execute(query.order_by(WebhookSecret.id))).scalars())

    async def record_delivery(
        self, session: AsyncSession, signature_hash: str, workspace_id: int, now: datetime
    ) -> bool:
        """Remember a signature; False when it was seen before (a replay)."""
        try:
            async with session.begin_nested():
                session.add(
                    WebhookDelivery(
                        signature_hash=signature_hash, workspace_id=workspace_id, received_at=now
                    )
                )
                await session.flush()
        except IntegrityError:
            return False
        return True

    async def prune_deliveries(self, session: AsyncSession, before: datetime) -> None:
        await session.execute(delete(WebhookDelivery).where(WebhookDelivery.received_at < before))


auth_repository = AuthRepository()
