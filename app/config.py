"""Settings, read once from the environment (and a `.env` file if present)."""

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, Request
from pydantic import AliasChoices, Field, SecretStr, field_validator
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
    # Database timeouts: without them a frozen PostgreSQL (stuck disk, network partition)
    # hangs every request; asyncpg's own connect timeout is 60 s and nothing bounds a command.
    db_connect_timeout_seconds: float = Field(
        default=5.0, gt=0, le=300, description="asyncpg connect timeout (a new connection)."
    )
    db_command_timeout_seconds: float = Field(
        default=15.0,
        gt=0,
        le=3600,
        description="asyncpg client-side bound on one command; the backstop when the server "
        "cannot even enforce statement_timeout (frozen). Keep it above statement_timeout.",
    )
    db_statement_timeout_ms: int = Field(
        default=10_000,
        ge=0,
        description="PostgreSQL statement_timeout for the service's sessions (0 = none).",
    )
    db_idle_in_transaction_timeout_ms: int = Field(
        default=60_000,
        ge=0,
        description="PostgreSQL idle_in_transaction_session_timeout: a session that holds a "
        "transaction (and its snapshot and locks) idle this long is ended (0 = never).",
    )
    readyz_timeout_seconds: float = Field(
        default=2.0, gt=0, le=60, description="/readyz answers 503 when its check takes longer."
    )
    require_durable_commits: bool = Field(
        default=True,
        description="/readyz is 503 while synchronous_commit or fsync is off (acknowledged "
        "writes could be lost); false: 200, with the setting reported in the body.",
    )
    require_schema_at_head: bool = Field(
        default=True,
        description="Startup fails (uvicorn exits 3) when the database answers with a schema "
        "other than the migrations' head; false: start anyway, /readyz reports 503. An "
        "unreachable database never stops startup (/readyz reports it).",
    )
    max_in_flight_requests: int = Field(
        default=64,
        ge=0,
        description="Requests handled at once per process; beyond, 503 + Retry-After at once "
        "instead of queueing on the pool (0 = unlimited). Operational routes are exempt.",
    )

    feedback_token_secret: SecretStr | None = Field(
        default=None,
        description="HMAC-SHA256 secret(s) for feedback tokens, each >= 32 bytes; "
        "comma-separated to rotate (`new,old`: sign with the first, verify with any). "
        "Embedded default: generated in the data dir.",
    )
    feedback_token_default_ttl_seconds: int = Field(default=3600, ge=1, le=86400)
    token_rate_limit_per_minute: int = Field(
        default=600,
        ge=0,
        # The old name still works: it limited keys and tokens alike before keys had their own.
        validation_alias=AliasChoices("token_rate_limit_per_minute", "rate_limit_per_minute"),
        description="Requests per minute per browser token (per bound user) within its "
        "target, and per expert key without a limit of its own (0 = off). Ingest and "
        "admin keys are unlimited unless their key sets `rate_limit_per_minute`.",
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
    export_send_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="An export whose client does not take a chunk within this is aborted "
        "(it holds a connection and a snapshot while it waits).",
    )
    export_max_seconds: float = Field(
        default=1800.0,
        gt=0,
        le=86400,
        description="Longest an export may stream before it is aborted.",
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
    retention_webhook_events_days: int = Field(
        default=30,
        ge=1,
        le=36500,
        description="`purge` default for webhook events no longer pending (their deliveries "
        "and attempts go with them; manual redelivery works until then).",
    )

    vote_fast_path: bool = Field(
        default=True,
        description="Serve well-formed `POST /api/v1/feedback` requests without FastAPI's "
        "routing (`app/votes/fast.py`; same answers); false: the FastAPI route serves all.",
    )
    writer_queue_size: int = Field(
        default=4096,
        ge=1,
        description="Rows the group-commit writer may hold queued; beyond → 503 + Retry-After.",
    )
    writer_max_batch: int = Field(
        default=256, ge=1, le=10_000, description="Most rows one group commit writes."
    )
    writer_max_delay_ms: float = Field(
        default=2.0,
        ge=0,
        le=100,
        description="How long a batch waits for more rows before committing (0: no wait).",
    )
    writer_concurrency: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Group commits in flight at once per process (each holds a connection): "
        "with two, a batch is written while the next one fills.",
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


def app_settings(request: Request) -> Settings:
    """The settings the running app was built with (tests pass their own)."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(app_settings)]
