"""Rotating LISTINGFLOW_SECRET_KEY: every ciphertext at rest (webhook secrets, marketplace
connection secrets and tokens) re-encrypted with the current key, so the previous keys can go.

The steps: set the new LISTINGFLOW_SECRET_KEY with the old one in LISTINGFLOW_SECRET_KEY_PREVIOUS
(everything still decrypts), run `listingflow secrets rotate`, then drop the previous key.
Both tables are small (a few rows per workspace), so rows are loaded and rewritten one by one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow.audit.service import audit_service
from listingflow.auth.service import secret_cipher
from listingflow.kit.crypto import reencrypt
from listingflow.models import MarketplaceConnection, WebhookSecret

log = structlog.get_logger()


@dataclass
class RotationReport:
    rewritten: Counter[str] = field(default_factory=Counter)  # kind -> ciphertexts re-encrypted
    unreadable: list[str] = field(default_factory=list)  # "kind id": no configured key opens it


class CiphertextRepository:
    """Every row that holds ciphertext (the one SQL of this module)."""

    async def webhook_secrets(self, session: AsyncSession) -> list[WebhookSecret]:
        return list((await session.execute(select(WebhookSecret))).scalars())

    async def connections(self, session: AsyncSession) -> list[MarketplaceConnection]:
        return list((await session.execute(select(MarketplaceConnection))).scalars())


ciphertext_repository = CiphertextRepository()


class SecretRotationService:
    async def rotate(self, session: AsyncSession) -> RotationReport:
        """Re-encrypt every ciphertext with the first key; ones no key opens are left as they
        are and reported (the caller decides whether to commit)."""
        cipher = secret_cipher()
        report = RotationReport()
        touched: Counter[int] = Counter()

        def again(kind: str, row_id: int, token: str) -> str:
            new = reencrypt(cipher, token)
            if new is None:
                report.unreadable.append(f"{kind} {row_id}")
                return token
            report.rewritten[kind] += 1
            return new

        for secret in await ciphertext_repository.webhook_secrets(session):
            secret.secret_encrypted = again("webhook_secret", secret.id, secret.secret_encrypted)
            touched[secret.workspace_id] += 1
        for connection in await ciphertext_repository.connections(session):
            connection.secrets = again("connection_secrets", connection.id, connection.secrets)
            if connection.tokens:
                connection.tokens = again("connection_tokens", connection.id, connection.tokens)
            touched[connection.workspace_id] += 1
        await session.flush()
        for workspace_id in touched:
            await audit_service.record(
                session,
                workspace_id,
                "secrets.rotate",
                "secret_key",
                None,
                {"rewritten": dict(report.rewritten), "unreadable": len(report.unreadable)},
            )
        log.info(
            "secrets.rotated",
            rewritten=dict(report.rewritten),
            unreadable=len(report.unreadable),
        )
        return report


secret_rotation_service = SecretRotationService()
