"""Symmetric encryption for secrets we must read back (webhook secrets, marketplace tokens)."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


def _fernet_key(secret: str) -> bytes:
    return base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())


def make_cipher(secret: str, *old_secrets: str) -> MultiFernet:
    """Encrypts with the first secret; decrypts with any, so keys can be rotated."""
    return MultiFernet([Fernet(_fernet_key(s)) for s in (secret, *old_secrets)])


def encrypt(cipher: MultiFernet, plaintext: str) -> str:
    return cipher.encrypt(plaintext.encode()).decode()


def decrypt(cipher: MultiFernet, token: str) -> str | None:
    try:
        return cipher.decrypt(token.encode()).decode()
    except InvalidToken:
        return None


def reencrypt(cipher: MultiFernet, token: str) -> str | None:
    """The same plaintext encrypted with the cipher's first key (None if no key opens it)."""
    try:
        return cipher.rotate(token.encode()).decode()
    except InvalidToken:
        return None


def sha256_hex(value: str | bytes) -> str:
    data = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()
