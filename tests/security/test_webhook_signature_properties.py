"""Property tests of the signed webhook mode (auth_service.workspace_for_signature):
X-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>"> with the workspace's secret.

For any body, timestamp offset and secret drawn by Hypothesis: a correct signature within the
window is accepted exactly once (a replay is a 409), and any change to one byte of the body, to
the timestamp, to one hex digit of the signature or to the secret is refused (401), as is a
timestamp outside the window."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from listingflow import config
from listingflow import db as dbmod
from listingflow.auth.service import auth_service
from listingflow.config import Settings
from listingflow.exceptions import Conflict, ListingflowError, Unauthorized

SECRET = "property-webhook-secret-0123456789"
TOLERANCE = 300
NOW = 1_900_000_000.0
EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
_bodies = itertools.count()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class Verifier:
    """The service against a migrated SQLite database with one webhook secret, on one loop."""

    def __init__(self, tmp: Path) -> None:
        self.settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            environment="test",
            data_dir=tmp / "var",
            database_url=f"sqlite:///{tmp / 'webhook.db'}",
            webhook_secret=SECRET,
            webhook_signature_tolerance=TOLERANCE,
        )
        config.settings = self.settings  # the service reads the secret and tolerance here
        dbmod.upgrade(self.settings.effective_database_url)
        self.loop = asyncio.new_event_loop()
        self.database = dbmod.Database(self.settings)
        self.loop.run_until_complete(self._register())

    async def _register(self) -> None:
        async with self.database.session() as session:
            await auth_service.ensure_settings_webhook_secret(session)
            await session.commit()

    async def _check(self, body: bytes, header: str, now: float) -> int | ListingflowError:
        async with self.database.session() as session:
            try:
                workspace_id = await auth_service.workspace_for_signature(
                    session, body, header, now=now
                )
            except ListingflowError as exc:
                await session.rollback()
                return exc
            await session.commit()
            return workspace_id

    def check(self, body: bytes, header: str, now: float = NOW) -> int | ListingflowError:
        return self.loop.run_until_complete(self._check(body, header, now))

    def close(self) -> None:
        self.loop.run_until_complete(self.database.dispose())
        self.loop.close()


@pytest.fixture(scope="module")
def verifier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Verifier]:
    previous = config.settings
    value = Verifier(tmp_path_factory.mktemp("webhook-properties"))
    try:
        yield value
    finally:
        value.close()
        config.settings = previous


def unique(body: bytes) -> bytes:
    """Each example signs a body never signed before, so replays come only from the test."""
    return body + b" #" + str(next(_bodies)).encode()


bodies = st.binary(max_size=512)
offsets = st.integers(min_value=-TOLERANCE, max_value=TOLERANCE)


@EXAMPLES
@given(body=bodies, offset=offsets)
def test_a_correct_signature_in_the_window_passes_once_then_is_a_replay(
    verifier: Verifier, body: bytes, offset: int
) -> None:
    body = unique(body)
    header = sign(SECRET, body, int(NOW) + offset)
    first = verifier.check(body, header)
    replay = verifier.check(body, header)
    assert isinstance(first, int)
    assert isinstance(replay, Conflict)
    assert replay.field == "X-Signature"


@EXAMPLES
@given(body=bodies, offset=offsets, data=st.data())
def test_any_tampered_body_byte_is_refused(
    verifier: Verifier, body: bytes, offset: int, data: st.DataObject
) -> None:
    body = unique(body)
    header = sign(SECRET, body, int(NOW) + offset)
    # Drawn apart from the length (the unique suffix makes it vary between runs).
    position = data.draw(st.integers(min_value=0, max_value=10_000)) % len(body)
    flip = data.draw(st.integers(min_value=1, max_value=255))
    tampered = bytearray(body)
    tampered[position] ^= flip
    assert isinstance(verifier.check(bytes(tampered), header), Unauthorized)
    assert isinstance(verifier.check(body, header), int)  # the untouched one still passes


@EXAMPLES
@given(body=bodies, offset=offsets, shift=st.integers(min_value=1, max_value=TOLERANCE))
def test_a_changed_timestamp_is_refused(
    verifier: Verifier, body: bytes, offset: int, shift: int
) -> None:
    """The timestamp is signed: moving it (still inside the window) breaks the signature."""
    body = unique(body)
    timestamp = int(NOW) + offset
    mac = sign(SECRET, body, timestamp).split("v1=")[1]
    moved = timestamp + shift if offset <= 0 else timestamp - shift
    assert isinstance(verifier.check(body, f"t={moved},v1={mac}"), Unauthorized)


@EXAMPLES
@given(body=bodies, offset=offsets, data=st.data())
def test_a_changed_signature_digit_is_refused(
    verifier: Verifier, body: bytes, offset: int, data: st.DataObject
) -> None:
    body = unique(body)
    header = sign(SECRET, body, int(NOW) + offset)
    prefix, mac = header.split("v1=")
    position = data.draw(st.integers(min_value=0, max_value=len(mac) - 1))
    digit = data.draw(st.sampled_from("0123456789abcdef").filter(lambda d: d != mac[position]))
    forged = mac[:position] + digit + mac[position + 1 :]
    assert isinstance(verifier.check(body, f"{prefix}v1={forged}"), Unauthorized)


@EXAMPLES
@given(body=bodies, offset=offsets, secret=st.text(min_size=1, max_size=64))
def test_a_signature_with_another_secret_is_refused(
    verifier: Verifier, body: bytes, offset: int, secret: str
) -> None:
    if secret == SECRET:
        return
    body = unique(body)
    assert isinstance(verifier.check(body, sign(secret, body, int(NOW) + offset)), Unauthorized)


@EXAMPLES
@given(body=bodies, late=st.integers(min_value=TOLERANCE + 1, max_value=10**9))
def test_a_timestamp_outside_the_window_is_refused(
    verifier: Verifier, body: bytes, late: int
) -> None:
    body = unique(body)
    for timestamp in (int(NOW) - late, int(NOW) + late):
        if timestamp < 0:
            continue
        refused = verifier.check(body, sign(SECRET, body, timestamp))
        assert isinstance(refused, Unauthorized)
        assert "window" in refused.message


@EXAMPLES
@given(header=st.text(max_size=200))
def test_any_malformed_header_is_a_401_never_a_crash(verifier: Verifier, header: str) -> None:
    assert isinstance(verifier.check(b"{}", header), Unauthorized)


def test_the_window_is_measured_against_the_real_clock(verifier: Verifier) -> None:
    body = unique(b"{}")
    header = sign(SECRET, body, int(time.time()))
    assert isinstance(verifier.check(body, header, now=time.time()), int)
