"""The one typed Settings object: every LISTINGFLOW_* variable and .env; defaults are embedded mode.

Embedded mode needs no service at all: SQLite under ./var, in-memory cache, in-process jobs and
the offline optimizer. Production points the same settings at PostgreSQL, Redis and a broker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import limits
from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105 (refused in production)


def to_async_url(url: str) -> str:
    """Turn a plain database URL into one with the async driver we ship."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("database URL must look like sqlite:///path.db or postgresql://host/db")
    base = scheme.split("+", 1)[0].lower()
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if base in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    raise ValueError(f"unsupported database {scheme!r}: use sqlite:/// or postgresql://")


def to_sync_url(url: str) -> str:
    """The same database through a synchronous driver (Alembic from the CLI, benchmarks)."""
    async_url = to_async_url(url)
    return async_url.replace("sqlite+aiosqlite://", "sqlite://", 1)


class Settings(BaseSettings):
    """Everything configurable. Secrets are SecretStr and never printed unmasked."""

    model_config = SettingsConfigDict(
        env_prefix="LISTINGFLOW_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")
    database_url: str | None = Field(
        default=None, description="sqlite:///path.db or postgresql://user@host/db"
    )
    database_read_url: str | None = Field(default=None, description="read replica (optional)")
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    db_pool_timeout: float = Field(default=30.0, gt=0)
    db_pool_recycle: int = Field(default=1800, ge=-1)
    db_read_your_writes_seconds: int = Field(
        default=5,
        ge=1,
        description="with a read replica: for this long after a workspace's write, its reads go "
        "to the primary (keep it above the replica's usual lag)",
    )
    db_echo: bool = False
    migrate_on_start: bool = True

    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    secret_key_previous: list[SecretStr] = Field(
        default_factory=list,
        description="earlier secret keys (JSON list), still read during a key rotation; "
        "`listingflow secrets rotate` re-encrypts with secret_key, then drop them",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        # The original system read WEBHOOK_SECRET; existing deployments keep working.
        validation_alias=AliasChoices("LISTINGFLOW_WEBHOOK_SECRET", "WEBHOOK_SECRET"),
    )
    webhook_signature_tolerance: int = Field(default=300, ge=1, description="seconds")

    redis_url: str | None = None
    broker_url: str | None = Field(
        default=None, description="redis://... or amqp://...; unset: jobs run inside the API"
    )
    worker_threads: int = Field(default=4, ge=1, description="embedded worker threads")
    job_wait_seconds: float = Field(
        default=10.0, ge=0, description="how long v1 routes wait for their job's results"
    )
    worker_uvloop: bool = Field(
        default=True, description="run worker processes' event loop on uvloop when installed"
    )
    job_running_timeout: float = Field(default=600.0, gt=0, description="seconds, then resent")
    job_pending_timeout: float = Field(default=900.0, gt=0, description="seconds, then resent")
    job_sweep_interval: float = Field(default=60.0, gt=0, description="seconds between sweeps")
    # Cache TTLs, the scaling guide's: dashboard stats 10 min, list pages 5 min, sessions 1 h.
    cache_ttl_stats: int = Field(default=600, ge=1, description="seconds: dashboard stats")
    cache_ttl_list: int = Field(default=300, ge=1, description="seconds: product list pages")
    cache_ttl_session: int = Field(default=3600, ge=1, description="seconds: sessions")
    http_cache_max_age: int = Field(
        default=0,
        ge=0,
        description="max-age of `Cache-Control: private` on GET JSON answers; 0 makes clients "
        "revalidate with the ETag every time (a 304 when nothing changed)",
    )
    response_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="seconds an API process may answer a repeated dashboard-stats or product-"
        "list request from its memory, while the workspace's generation is unchanged; 0 is off",
    )

    metrics_token: SecretStr | None = Field(
        default=None,
        description="bearer token for GET /metrics and /api/ops/status; unset: only loopback "
        "clients outside production",
    )
    ops_sample_interval: float = Field(
        default=15.0, gt=0, description="seconds between the scaling advisor's samples"
    )
    ops_window: float = Field(
        default=600.0, gt=0, description="seconds the advisor judges (the guide's 10 minutes)"
    )

    api_docs: Literal["signed_in", "public", "off"] = Field(
        default="signed_in",
        description="/docs, /redoc and /openapi.json: for API keys and signed-in users, for "
        "anyone, or not served",
    )
    max_body_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    max_batch_items: int = Field(default=10_000, ge=1)
    import_chunk_size: int = Field(default=5000, ge=1, le=10_000)
    max_page_size: int = Field(default=100, ge=1)

    # Abuse limits ("N/second|minute|hour|day", the `limits` notation; "" or "0" turns one off).
    # Counted in Redis when redis_url is set, so every API replica shares them.
    rate_limit_per_key: str = Field(
        default="600/minute", description="requests to /api per API key"
    )
    rate_limit_per_ip: str = Field(
        default="1200/minute", description="requests to /api per client address"
    )
    login_rate_limit_per_ip: str = Field(
        default="30/minute", description="sign-in attempts per client address"
    )
    login_max_failures: int = Field(
        default=5, ge=0, description="failed sign-ins for one email before it is locked; 0: off"
    )
    login_lockout_seconds: int = Field(
        default=900, ge=1, description="how long those failures count and the lock lasts"
    )

    url_fetch_timeout: float = Field(default=10.0, gt=0)
    url_fetch_max_bytes: int = Field(default=5_000_000, ge=1024)
    url_fetch_allow_private: bool = Field(
        default=False, description="allow product-page URLs on private addresses (tests only)"
    )

    rulebook_overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description='JSON: {"allegro": {"title_max": 75}}; values the reference marks '
        "unverified (eBay and Kaufland description limits, Allegro's title) are meant for this",
    )
    category_requirements_file: Path | None = Field(
        default=None,
        description="JSON file {marketplace: {category: [required attribute names]}}",
    )

    pricing_rules: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description='JSON per marketplace: {"kaufland": {"currency": "EUR", "markup_percent": '
        '20, "fixed_fee": 1, "commission_percent": 15, "rounding": "0.99", '
        '"min_margin_percent": 10}}; a marketplace without a rule keeps the product price',
    )
    pricing_rules_file: Path | None = Field(
        default=None, description="the same JSON in a file (entries in pricing_rules win)"
    )
    currency_rates: dict[str, Any] = Field(
        default_factory=dict,
        description='JSON: each currency in one common unit, e.g. {"PLN": 1, "EUR": 4.31}',
    )
    currency_rates_file: Path | None = Field(
        default=None, description="the rates table as a JSON file (refreshed by the operator)"
    )
    marketplace_sandbox: bool = Field(
        default=False, description="publish to the marketplaces' sandbox hosts"
    )
    publish_wait_seconds: float = Field(
        default=10.0, ge=0, description="how long a v1 publish call waits for its job"
    )
    publish_follow_up_seconds: float = Field(
        default=30.0,
        gt=0,
        description="first check of a listing the marketplace only ACCEPTED (then x4, x20, x60)",
    )

    llm_api_key: SecretStr | None = Field(
        default=None, description="enables the LLM engine (any OpenAI-compatible endpoint)"
    )
    llm_base_url: str = "https://api.groq.com/openai/v1"
    llm_model: str = "llama-3.3-70b-versatile"
    llm_timeout: float = Field(default=30.0, gt=0, description="seconds for one HTTP call")
    llm_deadline: float = Field(default=60.0, gt=0, description="seconds for one listing")
    llm_rpm: int | None = Field(default=30, ge=1, description="requests per minute budget")
    llm_rpd: int | None = Field(default=1_000, ge=1, description="requests per day budget")
    llm_tpm: int | None = Field(default=12_000, ge=1, description="tokens per minute budget")
    llm_cache_ttl: int = Field(
        default=30 * 24 * 3600,
        ge=0,
        description="seconds an LLM answer is reused for the same input",
    )
    llm_fallback: Literal["offline", "wait", "fail"] = Field(
        default="offline",
        description="when the LLM is unreachable or out of quota: use the offline engine; "
        "wait for the quota (up to llm_deadline) and fail after; or fail at once",
    )

    log_level: str = "INFO"
    log_json: bool = False

    @field_validator("rate_limit_per_key", "rate_limit_per_ip", "login_rate_limit_per_ip")
    @classmethod
    def _known_rate_limit(cls, value: str) -> str:
        value = value.strip()
        if value not in ("", "0"):
            try:
                limits.parse(value)
            except ValueError as exc:
                raise ValueError(
                    f"{value!r} is not a rate limit: write e.g. 600/minute (or 0 to turn it off)"
                ) from exc
        return value

    @field_validator("database_url", "database_read_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value:
            to_async_url(value)
        return value or None

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.environment == "production" and (
            self.secret_key.get_secret_value() == DEV_SECRET_KEY
            or len(self.secret_key.get_secret_value()) < 32
        ):
            raise ValueError(
                "LISTINGFLOW_SECRET_KEY must be set to a random value of 32+ characters "
                "in production"
            )
        return self

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'listingflow.db').as_posix()}"

    @property
    def async_database_url(self) -> str:
        return to_async_url(self.effective_database_url)

    @property
    def async_database_read_url(self) -> str | None:
        return to_async_url(self.database_read_url) if self.database_read_url else None

    @property
    def is_sqlite(self) -> bool:
        return self.async_database_url.startswith("sqlite")

    def masked(self) -> dict[str, Any]:
        """Effective settings for display: secrets and URL passwords masked."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "**********" if value.get_secret_value() else ""
            elif isinstance(value, str) and "://" in value:
                value = _mask_url(value)
            elif isinstance(value, Path):
                value = str(value)
            out[name] = value
        out["effective_database_url"] = _mask_url(self.effective_database_url)
        return out


def _mask_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user, has_password, _ = creds.partition(":")
    return f"{scheme}://{user}{':****' if has_password else ''}@{host}"


settings = Settings()
