"""Settings: embedded defaults, URL normalization, secrets masked, production refuses defaults."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from listingflow.config import Settings, to_async_url


def test_embedded_defaults_need_no_service(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LISTINGFLOW_DATABASE_URL", "LISTINGFLOW_REDIS_URL", "LISTINGFLOW_BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.effective_database_url == "sqlite:///var/listingflow.db"
    assert settings.redis_url is None and settings.broker_url is None


def test_data_dir_moves_the_sqlite_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LISTINGFLOW_DATABASE_URL", raising=False)
    monkeypatch.setenv("LISTINGFLOW_DATA_DIR", "/srv/lf")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.effective_database_url == "sqlite:////srv/lf/listingflow.db"


@pytest.mark.parametrize(
    ("plain", "driver"),
    [
        ("sqlite:///var/x.db", "sqlite+aiosqlite:///var/x.db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u:p@h:5433/db", "postgresql+psycopg://u:p@h:5433/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_plain_database_urls_get_the_async_driver(plain: str, driver: str) -> None:
    assert to_async_url(plain) == driver


def test_unknown_database_is_refused() -> None:
    with pytest.raises(ValidationError, match="unsupported database"):
        Settings(_env_file=None, database_url="mysql://u@h/db")  # type: ignore[call-arg]


def test_original_webhook_secret_variable_still_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LISTINGFLOW_WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("WEBHOOK_SECRET", "from-the-original")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.webhook_secret is not None
    assert settings.webhook_secret.get_secret_value() == "from-the-original"


def test_masked_hides_secrets_and_url_passwords() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url="postgresql://shop:hunter2@db/lf",
        webhook_secret="s3cret-value",
    )
    masked = settings.masked()
    text = repr(masked)
    assert "hunter2" not in text and "s3cret-value" not in text
    assert masked["database_url"] == "postgresql://shop:****@db/lf"


def test_production_refuses_the_default_secret_key() -> None:
    with pytest.raises(ValidationError, match="LISTINGFLOW_SECRET_KEY"):
        Settings(_env_file=None, environment="production")  # type: ignore[call-arg]
    ok = Settings(_env_file=None, environment="production", secret_key="x" * 40)  # type: ignore[call-arg]
    assert ok.environment == "production"
