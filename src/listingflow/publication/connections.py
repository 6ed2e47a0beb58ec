"""Marketplace connections: add (credentials checked and encrypted), list without secrets,
test, remove, mark broken; the client and token store for one connection.

Secrets never leave this module in the clear except into a client. What the API shows of a
connection is `public()`: marketplace, name, status, the non-secret fields, the last error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow import config
from listingflow.audit.service import audit_service
from listingflow.auth.service import secret_cipher
from listingflow.exceptions import BadRequest, NotFound, ValidationFailed
from listingflow.integrations.marketplaces import registry
from listingflow.integrations.marketplaces.base import (
    ConnectionBrokenError,
    MarketplaceClient,
    MarketplaceError,
    MemoryTokenStore,
)
from listingflow.kit import jsonutil
from listingflow.kit.cache import Cache, cache_key
from listingflow.kit.crypto import decrypt, encrypt
from listingflow.kit.models import utcnow
from listingflow.models import ConnectionStatus, MarketplaceConnection
from listingflow.publication.repository import publication_repository

log = structlog.get_logger()

# Connection settings a client takes besides its credential fields (host overrides for sandboxes
# and tests, its rate, and client-specific options such as Amazon's feed threshold).
CLIENT_SETTINGS = ("base_url", "auth_url", "rate", "sandbox")
Persist = Callable[[dict[str, str]], Awaitable[None]]
ROTATED_TOKEN_TTL = 30 * 24 * 3600


class ConnectionTokenStore:
    """Access tokens in the cache, encrypted (shared by every process, with their TTL); tokens a
    marketplace rotates (a new refresh token on each refresh) persisted encrypted on the
    connection at once, through `persist`, because the old one stops working the moment the new
    one is issued."""

    def __init__(
        self, cache: Cache, connection_id: int, persisted: dict[str, str], persist: Persist
    ):
        self._cache = cache
        self._id = connection_id
        self._persisted = persisted
        self._persist = persist
        self._lock = asyncio.Lock()

    def _key(self, key: str) -> str:
        return cache_key("mp-token", self._id, key)

    async def get(self, key: str) -> str | None:
        # A rotated token is also in the shared cache, so another worker process that rotated
        # it last is seen here before this process's older copy.
        value = await self._cache.get(self._key(key))
        if value is not None:
            # Encrypted in the cache too (Redis is a store an operator can read); an entry no
            # key opens (a rotated LISTINGFLOW_SECRET_KEY) is as good as none.
            plain = decrypt(secret_cipher(), str(value))
            if plain is not None:
                return plain
        return self._persisted.get(key)

    async def set(self, key: str, value: str, *, ttl: float | None = None) -> None:
        cached = encrypt(secret_cipher(), value)
        if ttl is None:
            async with self._lock:
                self._persisted[key] = value
                await self._persist(dict(self._persisted))
            await self._cache.set(self._key(key), cached, ROTATED_TOKEN_TTL)
        else:
            await self._cache.set(self._key(key), cached, max(1, int(ttl)))


class ConnectionService:
    # --- reading ----------------------------------------------------------------------------

    async def list(
        self, session: AsyncSession, workspace_id: int, marketplace: str | None = None
    ) -> list[MarketplaceConnection]:
        return await publication_repository.connections(session, workspace_id, marketplace)

    async def get(
        self, session: AsyncSession, workspace_id: int, connection_id: int
    ) -> MarketplaceConnection:
        connection = await publication_repository.connection(session, workspace_id, connection_id)
        if connection is None:
            raise NotFound(f"connection {connection_id} not found")
        return connection

    async def pick(
        self, session: AsyncSession, workspace_id: int, marketplace: str, name: str | None
    ) -> MarketplaceConnection | None:
        """The named connection, or the marketplace's only/default one; None if there is none."""
        if name:
            connection = await publication_repository.connection_by_name(
                session, workspace_id, marketplace, name
            )
            if connection is None:
                raise NotFound(f"no {marketplace} connection named {name!r}", field="connection")
            return connection
        found = await publication_repository.connections(session, workspace_id, marketplace)
        return next((c for c in found if c.name == "default"), found[0] if found else None)

    @staticmethod
    def public(connection: MarketplaceConnection) -> dict[str, Any]:
        return {
            "id": connection.id,
            "marketplace": connection.marketplace,
            "name": connection.name,
            "status": connection.status,
            "fields": dict(connection.settings.get("fields", {})),
            "secret_fields": list(connection.settings.get("secret_fields", [])),
            "settings": {k: v for k, v in connection.settings.items() if k in CLIENT_SETTINGS},
            "last_error": connection.last_error,
            "checked_at": connection.checked_at,
            "created_at": connection.created_at,
        }

    # --- writing ----------------------------------------------------------------------------

    async def save(
        self,
        session: AsyncSession,
        workspace_id: int,
        *,
        marketplace: str,
        name: str,
        credentials: Mapping[str, Any],
        settings: Mapping[str, Any] | None = None,
    ) -> MarketplaceConnection:
        """Add a connection, or replace the credentials of the one with this name (reconnect)."""
        try:
            fields, secret_fields = registry.credential_fields(marketplace)
        except registry.UnsupportedMarketplaceError as exc:
            raise BadRequest(str(exc), field="marketplace") from exc
        values = {k: str(v) for k, v in credentials.items() if v is not None and str(v) != ""}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ValidationFailed(
                f"{marketplace} has no credential field {unknown[0]!r}; "
                f"its fields are {', '.join(fields)}",
                field=f"credentials.{unknown[0]}",
            )
        options = dict(settings or {})
        try:
            client = self._build(marketplace, values, options, MemoryTokenStore())
        except (ValueError, TypeError) as exc:  # a missing field or an unknown option
            raise ValidationFailed(str(exc), field="credentials") from exc
        except MarketplaceError as exc:  # Allegro's create_client refuses missing fields so
            raise ValidationFailed(exc.message, field="credentials") from exc
        await client.aclose()
        public = {k: v for k, v in values.items() if k not in secret_fields}
        secret = {k: v for k, v in values.items() if k in secret_fields}
        stored_settings = {
            **options,
            "fields": public,
            "secret_fields": sorted(secret),
        }
        ciphertext = encrypt(secret_cipher(), jsonutil.dumps(secret).decode())
        connection = await publication_repository.connection_by_name(
            session, workspace_id, marketplace, name
        )
        if connection is None:
            connection = MarketplaceConnection(
                workspace_id=workspace_id,
                marketplace=marketplace,
                name=name,
                settings=stored_settings,
                secrets=ciphertext,
            )
            await publication_repository.add_connection(session, connection)
        else:
            connection.settings = stored_settings
            connection.secrets = ciphertext
            connection.tokens = None  # a new refresh token replaces any rotated one
        connection.status = ConnectionStatus.UNTESTED.value
        connection.last_error = None
        connection.updated_at = utcnow()
        await session.flush()
        await audit_service.record(
            session,
            workspace_id,
            "connection.save",
            "connection",
            connection.id,
            {
                "marketplace": marketplace,
                "name": name,
                "fields": public,
                "secret_fields": sorted(secret),  # names only, never values
            },
        )
        log.info("connection.saved", marketplace=marketplace, name=name, id=connection.id)
        return connection

    async def delete(self, session: AsyncSession, workspace_id: int, connection_id: int) -> None:
        connection = await self.get(session, workspace_id, connection_id)
        await publication_repository.delete_connection(session, connection.id)
        await audit_service.record(
            session,
            workspace_id,
            "connection.delete",
            "connection",
            connection_id,
            {"marketplace": connection.marketplace, "name": connection.name},
        )

    def mark(self, connection: MarketplaceConnection, error: MarketplaceError | None) -> None:
        """Record how the last use went: broken for a dead refresh token, else connected."""
        connection.checked_at = utcnow()
        if isinstance(error, ConnectionBrokenError):
            connection.status = ConnectionStatus.BROKEN.value
            connection.last_error = error.message[:2000]
        elif error is None:
            connection.status = ConnectionStatus.CONNECTED.value
            connection.last_error = None
        else:
            connection.last_error = error.message[:2000]

    async def check(
        self, session: AsyncSession, workspace_id: int, connection_id: int, cache: Cache
    ) -> MarketplaceConnection:
        """Try a connection's credentials (a token exchange or a cheap call); tokens the
        marketplace rotated on the way are kept and the outcome recorded (flushed)."""
        connection = await self.get(session, workspace_id, connection_id)
        rotated: dict[str, str] = {}

        async def persist(tokens: dict[str, str]) -> None:
            rotated.update(tokens)

        client = self.client(connection, cache, persist)
        error: MarketplaceError | None = None
        try:
            await client.check_connection()
        except MarketplaceError as exc:
            error = exc
        finally:
            await client.aclose()
        if rotated:
            self.store_tokens(connection, rotated)
        self.mark(connection, error)
        await session.flush()
        return connection

    def store_tokens(self, connection: MarketplaceConnection, tokens: Mapping[str, str]) -> None:
        connection.tokens = encrypt(secret_cipher(), jsonutil.dumps(dict(tokens)).decode())

    # --- clients ----------------------------------------------------------------------------

    def credentials(self, connection: MarketplaceConnection) -> dict[str, str]:
        secret = decrypt(secret_cipher(), connection.secrets)
        if secret is None:
            raise BadRequest(
                f"the {connection.marketplace} connection {connection.name!r} cannot be "
                "decrypted with the current LISTINGFLOW_SECRET_KEY; connect it again"
            )
        return {**connection.settings.get("fields", {}), **jsonutil.loads(secret)}

    def tokens(self, connection: MarketplaceConnection) -> dict[str, str]:
        if not connection.tokens:
            return {}
        plain = decrypt(secret_cipher(), connection.tokens)
        return dict(jsonutil.loads(plain)) if plain else {}

    def _build(
        self,
        marketplace: str,
        credentials: Mapping[str, str],
        settings: Mapping[str, Any],
        token_store: Any,
    ) -> MarketplaceClient:
        options = {
            k: v
            for k, v in settings.items()
            if k not in (*CLIENT_SETTINGS, "fields", "secret_fields")
        }
        return registry.create_client(
            marketplace,
            credentials,
            token_store=token_store,
            sandbox=bool(settings.get("sandbox", config.settings.marketplace_sandbox)),
            base_url=settings.get("base_url"),
            auth_url=settings.get("auth_url"),
            rate=settings.get("rate"),
            options=options,
        )

    def client(
        self, connection: MarketplaceConnection, cache: Cache, persist: Persist
    ) -> MarketplaceClient:
        store = ConnectionTokenStore(cache, connection.id, self.tokens(connection), persist)
        return self._build(
            connection.marketplace, self.credentials(connection), connection.settings, store
        )


connection_service = ConnectionService()
