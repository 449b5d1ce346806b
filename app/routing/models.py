"""One row per routed LLM request, and feedback on that routing decision."""

import enum
import uuid
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db import (
    CACHE_KEY,
    MONEY,
    REQUEST_ID,
    SESSION_ID,
    created_at_column,
    pg_enum,
    user_fk,
    uuid_pk,
)


class RoutingStrategy(enum.StrEnum):
    learning = "learning"
    complexity = "complexity"
    hybrid = "hybrid"


class RoutingConfidence(enum.StrEnum):
    high = "high"
    medium = "medium"
    low = "low"


# Derived from baseline and actual cost by the database; NULL when there is no baseline
# (savings unknown), and no percentage of a zero baseline.
COST_SAVINGS_SQL = "CASE WHEN baseline_cost IS NULL THEN NULL ELSE baseline_cost - actual_cost END"
SAVINGS_PERCENTAGE_SQL = (
    "CASE WHEN baseline_cost IS NULL OR baseline_cost = 0 THEN NULL "
    "ELSE round((baseline_cost - actual_cost) * 100 / baseline_cost, 4) END"
)


class RoutingMetric(SQLModel, table=True):
    """One routed request as the gateway reported it."""

    __tablename__ = "routing_metrics"
    __table_args__ = (
        sa.CheckConstraint(
            "complexity_score >= 0 AND complexity_score <= 1", name="complexity_score_range"
        ),
        sa.CheckConstraint("baseline_cost >= 0", name="baseline_cost_non_negative"),
        sa.CheckConstraint("actual_cost >= 0", name="actual_cost_non_negative"),
        sa.CheckConstraint("latency_ms >= 0", name="latency_ms_non_negative"),
        sa.CheckConstraint("prompt_tokens >= 0", name="prompt_tokens_non_negative"),
        sa.CheckConstraint("completion_tokens >= 0", name="completion_tokens_non_negative"),
        sa.Index("ix_routing_metrics_created_at", "created_at"),
        sa.Index(
            "ix_routing_metrics_pattern_detected_provider_model",
            "pattern_detected",
            "selected_provider",
            "selected_model",
        ),
        sa.Index("ix_routing_metrics_user_id", "user_id"),
        sa.Index("ix_routing_metrics_session_id", "session_id"),  # erasure by session
        # Recommendations: one pattern's recent requests.
        sa.Index(
            "ix_routing_metrics_pattern_detected_created_at", "pattern_detected", "created_at"
        ),
    )

    id: uuid.UUID | None = uuid_pk()
    request_id: str = Field(sa_type=REQUEST_ID, nullable=False, unique=True)
    strategy_used: RoutingStrategy = Field(
        sa_type=pg_enum(RoutingStrategy, "routing_strategy"), nullable=False
    )
    confidence: RoutingConfidence | None = Field(
        default=None, sa_type=pg_enum(RoutingConfidence, "routing_confidence")
    )
    selected_provider: str = Field(sa_type=sa.String(100), nullable=False)
    selected_model: str = Field(sa_type=sa.String(200), nullable=False)
    baseline_provider: str | None = Field(default=None, sa_type=sa.String(100))
    baseline_model: str | None = Field(default=None, sa_type=sa.String(200))
    baseline_cost: Decimal | None = Field(default=None, sa_type=MONEY)
    actual_cost: Decimal = Field(
        default=Decimal(0), sa_type=MONEY, nullable=False, sa_column_kwargs={"server_default": "0"}
    )
    cost_savings: Decimal | None = Field(
        default=None, sa_column=sa.Column(MONEY, sa.Computed(COST_SAVINGS_SQL, persisted=True))
    )
    savings_percentage: Decimal | None = Field(
        default=None,
        sa_column=sa.Column(sa.Numeric(12, 4), sa.Computed(SAVINGS_PERCENTAGE_SQL, persisted=True)),
    )
    pattern_detected: str | None = Field(default=None, sa_type=sa.String(100))
    complexity_score: float | None = Field(default=None, sa_type=sa.Float)
    experimental: bool = Field(
        default=False, nullable=False, sa_column_kwargs={"server_default": sa.false()}
    )
    fallback_used: bool = Field(
        default=False, nullable=False, sa_column_kwargs={"server_default": sa.false()}
    )
    fallback_reason: str | None = Field(default=None, sa_type=sa.Text)
    latency_ms: int | None = Field(default=None, sa_type=sa.Integer)
    prompt_tokens: int | None = Field(default=None, sa_type=sa.Integer)
    completion_tokens: int | None = Field(default=None, sa_type=sa.Integer)
    cache_hit: bool = Field(
        default=False, nullable=False, sa_column_kwargs={"server_default": sa.false()}
    )
    cache_key: str | None = Field(default=None, sa_type=CACHE_KEY)
    user_id: int | None = user_fk()
    session_id: str | None = Field(default=None, sa_type=SESSION_ID)
    created_at: datetime | None = created_at_column()


class RoutingFeedback(SQLModel, table=True):
    """Feedback on one routing decision; provider/model/pattern come from its metric."""

    __tablename__ = "routing_feedback"
    __table_args__ = (
        sa.CheckConstraint("quality_score >= 0 AND quality_score <= 1", name="quality_score_range"),
        sa.CheckConstraint("char_length(comment) <= 4000", name="comment_max_4000"),
        sa.Index("ix_routing_feedback_request_id", "request_id"),
        sa.Index("ix_routing_feedback_user_id", "user_id"),
        sa.Index("ix_routing_feedback_session_id", "session_id"),  # erasure by session
        sa.Index("ix_routing_feedback_created_at", "created_at"),
    )

    id: uuid.UUID | None = uuid_pk()
    request_id: str = Field(
        sa_type=REQUEST_ID,
        foreign_key="routing_metrics.request_id",
        ondelete="CASCADE",
        nullable=False,
    )
    quality_score: float = Field(sa_type=sa.Float, nullable=False)
    is_correct: bool | None = None
    is_helpful: bool | None = None
    comment: str | None = Field(default=None, sa_type=sa.Text)
    user_id: int | None = user_fk()
    session_id: str | None = Field(default=None, sa_type=SESSION_ID)
    created_at: datetime | None = created_at_column()
