"""Settings, read once from the environment (and a `.env` file if present)."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 20 h: ten attempts over about 3 days.
DEFAULT_RETRY_SCHEDULE_SECONDS = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 72000)


class Settings(BaseSettings):
    """Every knob of the service; the README's configuration table mirrors this class."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL. Unset: an embedded PostgreSQL runs in FEEDBACK_DATA_DIR.",
    )
    feedback_data_dir: Path = Field(
        default=Path(".data"),
        description="Where the embedded PostgreSQL and generated secrets live.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_json: bool | None = Field(
        default=None, description="JSON logs; default: JSON unless stdout is a terminal."
    )
    db_pool_size: int = Field(default=15, ge=1, le=200)
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    db_statement_cache_size: int = Field(
        default=100,
        ge=0,
        description="asyncpg prepared statement cache; set 0 behind PgBouncer in transaction mode.",
    )
    retry_after_seconds: int = Field(default=5, ge=1, description="Retry-After on 503.")

    feedback_token_secret: SecretStr | None = Field(
        default=None,
        description="HMAC secret for feedback tokens. Embedded default: generated in the data dir.",
    )
    feedback_token_default_ttl_seconds: int = Field(default=3600, ge=1, le=86400)
    rate_limit_per_minute: int = Field(
        default=600, ge=0, description="Requests per minute per key or token target (0 = off)."
    )
    cors_allow_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to call the browser-facing routes."
    )
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    api_key_cache_seconds: float = Field(
        default=5.0, ge=0, description="How long a key lookup is cached per process."
    )

    expert_auto_approval_threshold: float = Field(default=0.9, ge=0, le=1)
    cache_flag_min_ratings: int = Field(default=5, ge=1)
    cache_flag_good_share_upper_bound: float = Field(default=0.5, gt=0, lt=1)

    analytics_database_url: str | None = Field(
        default=None,
        description="Optional read replica for the export (and analytics) endpoints; "
        "unset: the primary DATABASE_URL.",
    )
    shutdown_grace_seconds: int = Field(
        default=25,
        ge=1,
        description="On SIGTERM, how long in-flight requests may take to finish before exit.",
    )
    max_concurrent_exports: int = Field(
        default=2,
        ge=1,
        le=50,
        description="Streaming exports at once per process (each holds a database "
        "connection for the whole download); more → 429.",
    )
    retention_votes_days: int = Field(
        default=730, ge=1, le=36500, description="`purge` default: votes older than this go."
    )
    retention_routing_metrics_days: int = Field(
        default=365,
        ge=1,
        le=36500,
        description="`purge` default for routing metrics (their routing feedback goes with them).",
    )
    retention_routing_feedback_days: int = Field(
        default=365, ge=1, le=36500, description="`purge` default for routing feedback."
    )
    retention_cache_feedback_days: int = Field(
        default=365, ge=1, le=36500, description="`purge` default for cache ratings."
    )
    retention_expert_feedback_days: int = Field(
        default=1825,
        ge=1,
        le=36500,
        description="`purge` default for expert reviews (approved FAQ entries keep their text).",
    )

    # Webhooks (README "Webhooks"): address policy, secrets at rest, the dispatcher.
    webhook_allow_hosts: str = Field(
        default="",
        description="Comma-separated host names or CIDRs webhook URLs may reach although "
        "they resolve to loopback, private, link-local or reserved addresses.",
    )
    webhook_secret_key: SecretStr | None = Field(
        default=None,
        description="Key that encrypts webhook signing secrets at rest; unset: derived "
        "from FEEDBACK_TOKEN_SECRET. Changing it makes stored webhook secrets unreadable.",
    )
    webhook_dispatcher: bool = Field(
        default=True, description="Run the webhook dispatcher in this process."
    )
    webhook_listen: bool = Field(
        default=True,
        description="Wake the dispatcher with LISTEN/NOTIFY (off behind PgBouncer in "
        "transaction mode; polling alone then delivers).",
    )
    webhook_poll_seconds: float = Field(default=5.0, gt=0, le=3600)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    webhook_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a claimed delivery stays claimed; must exceed the timeout.",
    )
    webhook_batch_size: int = Field(default=20, ge=1, le=500)
    webhook_retry_schedule_seconds: list[float] = Field(
        default_factory=lambda: [float(s) for s in DEFAULT_RETRY_SCHEDULE_SECONDS],
        min_length=1,
        description="Delay before each retry (± 20 % jitter); after the last, a delivery fails.",
    )

    @property
    def embedded(self) -> bool:
        """True when no external database is configured and we run our own."""
        return self.database_url is None


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests build their own `Settings` instead."""
    return Settings()
