"""People who sign in to the web pages: users (argon2 via pwdlib) and their sessions.

Sessions live in the cache (Redis when configured) so every API replica sees them; the cookie
holds a random token and the cache key holds only its SHA-256. Each session carries its own
CSRF token, which every form posts back.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass

from pwdlib import PasswordHash
from sqlalchemy.ext.asyncio import AsyncSession

from listingflow import config
from listingflow.audit.service import audit_service
from listingflow.auth.repository import auth_repository
from listingflow.exceptions import BadRequest, Conflict, Unauthorized
from listingflow.kit.cache import Cache, cache_key
from listingflow.kit.crypto import sha256_hex
from listingflow.kit.models import utcnow
from listingflow.models import User

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}$")
MIN_PASSWORD = 10
_hasher = PasswordHash.recommended()  # argon2id
# Verified when the email is unknown, so a miss costs as much time as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class WebSession:
    """What a signed-in request knows about its user."""

    token_hash: str
    user_id: int
    workspace_id: int
    email: str
    csrf_token: str


def normalize_email(email: str) -> str:
    return email.strip().lower()


class UserService:
    async def create(
        self, session: AsyncSession, workspace_id: int, *, email: str, password: str
    ) -> User:
        email = normalize_email(email)
        if not _EMAIL.match(email):
            raise BadRequest("email must look like name@example.com", field="email")
        if len(password) < MIN_PASSWORD:
            raise BadRequest(
                f"password must be at least {MIN_PASSWORD} characters", field="password"
            )
        if await auth_repository.user_by_email(session, email):
            raise Conflict(f"a user {email!r} already exists", field="email")
        user = User(workspace_id=workspace_id, email=email, password_hash=_hasher.hash(password))
        await auth_repository.add(session, user)
        await audit_service.record(
            session, workspace_id, "user.create", "user", user.id, {"email": email}
        )
        return user

    async def authenticate(self, session: AsyncSession, email: str, password: str) -> User:
        """The user for these credentials, or Unauthorized with one message for every miss."""
        user = await auth_repository.user_by_email(session, normalize_email(email))
        if user is None or user.disabled_at is not None:
            _hasher.verify(password, _DUMMY_HASH)
            raise Unauthorized("wrong email or password", field="email")
        valid, new_hash = _hasher.verify_and_update(password, user.password_hash)
        if not valid:
            raise Unauthorized("wrong email or password", field="email")
        if new_hash:
            user.password_hash = new_hash
        user.last_login_at = utcnow()
        await session.flush()
        return user


user_service = UserService()


def _session_key(token_hash: str) -> str:
    return cache_key("session", token_hash)


class WebSessionService:
    """Sign-in sessions in the cache, with a TTL of LISTINGFLOW_CACHE_TTL_SESSION seconds."""

    async def start(self, cache: Cache, user: User) -> tuple[str, WebSession]:
        """A new session; returns the cookie token (shown once) and the session."""
        token = secrets.token_urlsafe(32)
        web_session = WebSession(
            token_hash=sha256_hex(token),
            user_id=user.id,
            workspace_id=user.workspace_id,
            email=user.email,
            csrf_token=secrets.token_urlsafe(32),
        )
        await self._store(cache, web_session)
        return token, web_session

    async def get(self, cache: Cache, token: str | None) -> WebSession | None:
        if not token or len(token) > 200:
            return None
        token_hash = sha256_hex(token)
        data = await cache.get(_session_key(token_hash))
        if not isinstance(data, dict):
            return None
        web_session = WebSession(
            token_hash=token_hash,
            user_id=int(data["user_id"]),
            workspace_id=int(data["workspace_id"]),
            email=str(data["email"]),
            csrf_token=str(data["csrf"]),
        )
        await self._store(cache, web_session)  # sliding expiry: an hour after the last request
        return web_session

    async def end(self, cache: Cache, web_session: WebSession) -> None:
        await cache.delete(_session_key(web_session.token_hash))

    @staticmethod
    def csrf_matches(web_session: WebSession, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(
            web_session.csrf_token.encode(), (presented or "").encode()
        )

    async def _store(self, cache: Cache, web_session: WebSession) -> None:
        await cache.set(
            _session_key(web_session.token_hash),
            {
                "user_id": web_session.user_id,
                "workspace_id": web_session.workspace_id,
                "email": web_session.email,
                "csrf": web_session.csrf_token,
            },
            config.settings.cache_ttl_session,
        )


web_session_service = WebSessionService()
