"""Workspaces, API keys and webhook secrets: creating them and checking what a caller presents."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from cryptography.fernet import MultiFernet
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow import config
from listingflow.audit.service import audit_service
from listingflow.auth.repository import auth_repository
from listingflow.exceptions import BadRequest, Conflict, NotFound, Unauthorized
from listingflow.kit.crypto import decrypt, encrypt, make_cipher, sha256_hex
from listingflow.kit.models import utcnow
from listingflow.models import DEFAULT_WORKSPACE_SLUG, ApiKey, WebhookSecret, Workspace

API_KEY_PREFIX = "lf_"
WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SETTINGS_SECRET_NAME = "LISTINGFLOW_WEBHOOK_SECRET"  # noqa: S105 (a label)
# last_used_at is written at most this often per key: a key in use costs one UPDATE an hour.
KEY_USE_RESOLUTION = timedelta(hours=1)
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_SIGNATURE_PART = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class NewSecret:
    id: int
    workspace_id: int
    plaintext: str


def secret_cipher() -> MultiFernet:
    """The cipher for secrets at rest (webhook secrets, marketplace credentials): encrypts
    with LISTINGFLOW_SECRET_KEY; also decrypts with LISTINGFLOW_SECRET_KEY_PREVIOUS (rotation)."""
    settings = config.settings
    return make_cipher(
        settings.secret_key.get_secret_value(),
        *(key.get_secret_value() for key in settings.secret_key_previous),
    )


class AuthService:
    # --- workspaces -----------------------------------------------------------------------

    async def default_workspace(self, session: AsyncSession) -> Workspace:
        return await self.workspace(session, DEFAULT_WORKSPACE_SLUG)

    async def workspace(self, session: AsyncSession, slug: str) -> Workspace:
        workspace = await auth_repository.workspace_by_slug(session, slug)
        if workspace is None:
            raise NotFound(f"workspace {slug!r} does not exist", field="workspace")
        return workspace

    async def create_workspace(
        self, session: AsyncSession, slug: str, *, name: str | None = None
    ) -> Workspace:
        if not _SLUG.match(slug):
            raise BadRequest(
                "workspace must be 1-64 characters of a-z, 0-9, '-' or '_'", field="workspace"
            )
        if await auth_repository.workspace_by_slug(session, slug):
            raise Conflict(f"workspace {slug!r} already exists", field="workspace")
        workspace = Workspace(slug=slug, name=name or slug)
        await auth_repository.add(session, workspace)
        return workspace

    async def get_or_create_workspace(self, session: AsyncSession, slug: str) -> Workspace:
        existing = await auth_repository.workspace_by_slug(session, slug)
        return existing or await self.create_workspace(session, slug)

    # --- API keys -------------------------------------------------------------------------

    async def create_api_key(
        self, session: AsyncSession, workspace_id: int, *, name: str
    ) -> tuple[ApiKey, str]:
        """A new key; the plaintext is returned once and only its hash is stored."""
        name = name.strip()
        if not name:
            raise BadRequest("an API key needs a name", field="name")
        plaintext = API_KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            workspace_id=workspace_id,
            name=name[:200],
            prefix=plaintext[:10],
            key_hash=sha256_hex(plaintext),
        )
        await auth_repository.add(session, key)
        await audit_service.record(
            session,
            workspace_id,
            "api_key.create",
            "api_key",
            key.id,
            {"name": key.name, "prefix": key.prefix},
        )
        return key, plaintext

    async def api_keys(self, session: AsyncSession, workspace_id: int) -> list[ApiKey]:
        return await auth_repository.api_keys(session, workspace_id)

    async def revoke_api_key(self, session: AsyncSession, workspace_id: int, key_id: int) -> None:
        if not await auth_repository.revoke_api_key(session, workspace_id, key_id, utcnow()):
            raise NotFound(f"API key {key_id} not found or already revoked", field="key_id")
        await audit_service.record(session, workspace_id, "api_key.revoke", "api_key", key_id)

    async def authenticate_api_key(self, session: AsyncSession, presented: str) -> ApiKey:
        """The live key row (its workspace_id says whose it is), or Unauthorized."""
        # A SHA-256 lookup reveals nothing useful through timing: keys are 256-bit random.
        key = await auth_repository.api_key_by_hash(session, sha256_hex(presented))
        if key is None:
            raise Unauthorized("invalid or revoked API key")
        return key

    def key_use_due(self, key: ApiKey) -> bool:
        """Whether the key's last use is unrecorded or older than KEY_USE_RESOLUTION."""
        return key.last_used_at is None or key.last_used_at < utcnow() - KEY_USE_RESOLUTION

    async def record_api_key_use(self, session: AsyncSession, presented: str) -> None:
        """Notes that the key was used (`last_used_at`, to the hour: KEY_USE_RESOLUTION), for
        the keys page and the growth stage's active workspaces. Not a change of the workspace's
        data: the caller commits it without moving the cache generation."""
        now = utcnow()
        await auth_repository.touch_api_key(
            session, sha256_hex(presented), now, now - KEY_USE_RESOLUTION
        )

    # --- webhook secrets ------------------------------------------------------------------

    async def create_webhook_secret(
        self,
        session: AsyncSession,
        workspace_id: int,
        *,
        name: str = "webhook",
        plaintext: str | None = None,
    ) -> NewSecret:
        plaintext = plaintext or WEBHOOK_SECRET_PREFIX + secrets.token_urlsafe(32)
        row = WebhookSecret(
            workspace_id=workspace_id,
            name=name,
            secret_hash=sha256_hex(plaintext),
            secret_encrypted=encrypt(secret_cipher(), plaintext),
        )
        await auth_repository.add(session, row)
        return NewSecret(id=row.id, workspace_id=workspace_id, plaintext=plaintext)

    async def current_webhook_secret(self, session: AsyncSession, workspace_id: int) -> str | None:
        """The workspace's newest active webhook secret in plain text (for the seller to copy)."""
        rows = await auth_repository.active_webhook_secrets(session, workspace_id)
        return decrypt(secret_cipher(), rows[-1].secret_encrypted) if rows else None

    async def rotate_webhook_secret(self, session: AsyncSession, workspace_id: int) -> NewSecret:
        """Revoke every active secret of the workspace and make a new one."""
        await auth_repository.revoke_webhook_secrets(session, workspace_id, utcnow())
        new = await self.create_webhook_secret(session, workspace_id, name="rotated")
        await audit_service.record(
            session, workspace_id, "webhook_secret.rotate", "webhook_secret", new.id
        )
        return new

    async def ensure_settings_webhook_secret(self, session: AsyncSession) -> None:
        """Register LISTINGFLOW_WEBHOOK_SECRET for the default workspace (idempotent)."""
        secret = config.settings.webhook_secret
        if secret is None or not secret.get_secret_value():
            return
        plaintext = secret.get_secret_value()
        # A revoked one stays revoked: the seller rotated it away (the new one is in the database).
        if await auth_repository.webhook_secret_by_hash(
            session, sha256_hex(plaintext), include_revoked=True
        ):
            return
        workspace = await self.default_workspace(session)
        await self.create_webhook_secret(
            session, workspace.id, name=SETTINGS_SECRET_NAME, plaintext=plaintext
        )

    async def workspace_for_webhook_secret(self, session: AsyncSession, presented: str) -> int:
        """v1 mode: X-Webhook-Secret must equal a configured secret (constant-time compare)."""
        row = await auth_repository.webhook_secret_by_hash(session, sha256_hex(presented))
        stored = decrypt(secret_cipher(), row.secret_encrypted) if row else None
        # compare_digest runs even on a miss so that a miss and a near-miss take the same path.
        if not hmac.compare_digest((stored or "").encode(), presented.encode()) or row is None:
            raise Unauthorized("invalid webhook secret", field="X-Webhook-Secret")
        return row.workspace_id

    async def workspace_for_signature(
        self, session: AsyncSession, body: bytes, header: str, *, now: float | None = None
    ) -> int:
        """Signed mode: X-Signature: t=<unix>,v1=<hex HMAC-SHA256 of '<t>.<raw body>'>.

        The timestamp must be within the tolerance window and a signature is accepted once.
        """
        timestamp, signatures = _parse_signature_header(header)
        now = time.time() if now is None else now
        tolerance = config.settings.webhook_signature_tolerance
        if abs(now - timestamp) > tolerance:
            raise Unauthorized(
                f"signature timestamp is outside the {tolerance}-second window",
                field="X-Signature",
            )
        signed = f"{timestamp}.".encode() + body
        cipher = secret_cipher()
        for row in await auth_repository.active_webhook_secrets(session):
            secret = decrypt(cipher, row.secret_encrypted)
            if secret is None:
                continue
            expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
            if any(hmac.compare_digest(expected, sig) for sig in signatures):
                fresh = await auth_repository.record_delivery(
                    session, sha256_hex(expected), row.workspace_id, utcnow()
                )
                if not fresh:
                    raise Conflict(
                        "this signature was already used; sign each delivery anew",
                        field="X-Signature",
                    )
                await auth_repository.prune_deliveries(
                    session, utcnow() - timedelta(seconds=2 * tolerance)
                )
                return row.workspace_id
        raise Unauthorized("signature does not match any webhook secret", field="X-Signature")


def _parse_signature_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1" and _SIGNATURE_PART.match(value):
            signatures.append(value)
    if timestamp is None or not signatures:
        raise Unauthorized(
            "X-Signature must look like t=<unix time>,v1=<hex HMAC-SHA256>", field="X-Signature"
        )
    return timestamp, signatures


auth_service = AuthService()
