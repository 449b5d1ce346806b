"""Settings, read once from the environment (and a `.env` file if present)."""

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, Request
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve /metrics on this port (on HOST) instead of the API port; "
        "unset: /metrics is on the API port.",
    )
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
        description="HMAC-SHA256 secret(s) for feedback tokens, each >= 32 bytes; "
        "comma-separated to rotate (`new,old`: sign with the first, verify with any). "
        "Embedded default: generated in the data dir.",
    )
    feedback_token_default_ttl_seconds: int = Field(default=3600, ge=1, le=86400)
    rate_limit_per_minute: int = Field(
        default=600, ge=0, description="Requests per minute per key or token target (0 = off)."
    )
    token_rate_limit_per_minute: int = Field(
        default=20,
        ge=0,
        description="Requests per minute (and burst) one feedback token, or its bound user, "
        "may make for its conversation or cache key, on top of RATE_LIMIT_PER_MINUTE: "
        "bounds how often one browser can change a conversation's current vote (0 = off).",
    )
    failed_auth_per_minute: int = Field(
        default=60,
        ge=0,
        description="Failed authentications per minute per client address before 429 (0 = off).",
    )
    cors_allow_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to call the browser-facing routes."
    )
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    widget_demo_enabled: bool | None = Field(
        default=None,
        description="Serve /widget/demo; unset: on with the embedded database, off otherwise.",
    )
    api_key_cache_seconds: float = Field(
        default=5.0, ge=0, description="How long a key lookup is cached per process."
    )

    dashboard_session_seconds: int = Field(
        default=8 * 3600,
        ge=60,
        le=7 * 86400,
        description="How long a dashboard sign-in lasts (the signed cookie's lifetime).",
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

    @field_validator("feedback_token_secret")
    @classmethod
    def _token_secrets_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # A short HMAC key can be brute-forced from one token; 32 bytes match SHA-256.
        if value is not None:
            parts = [p.strip() for p in value.get_secret_value().split(",") if p.strip()]
            if not parts or any(len(p.encode()) < 32 for p in parts):
                raise ValueError("each FEEDBACK_TOKEN_SECRET must be at least 32 bytes")
        return value

    @property
    def embedded(self) -> bool:
        """True when no external database is configured and we run our own."""
        return self.database_url is None


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests build their own `Settings` instead."""
    return Settings()


def app_settings(request: Request) -> Settings:
    """The settings the running app was built with (tests pass their own)."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(app_settings)]
