"""Rollups kept by database triggers so analytics read buckets, not rows.

Every rollup table holds one row per (grain, bucket_start, group): `grain` is `h` (an
UTC hour) or `d` (an UTC day) and both grains are written by the same statement-level
trigger, so a window reads whole days from the `d` rows, the partial days at its edges
from `h` rows and the partial hours from the raw rows (see `app/analytics/window.py`).
Group columns that can be NULL in the source are stored as '' (a primary key cannot hold
NULL); the readers turn '' back into NULL. `created_at` is when a row was first needed
(project rule: every table has one). Counters are exact; the only approximation is the
latency histogram (`app/analytics/histogram.py`, relative error documented there).

Vote rollups carry a `slot`: each group-commit loop adds its deltas to rows of its own slot
(`ROLLUP_SLOT` in `app/analytics/triggers.py`), so two loops' batches never wait on each
other's row locks; readers sum the slots of a bucket.
"""

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field, SQLModel

from app.db import CONVERSATION_ID, created_at_column, pg_enum, text_array
from app.votes.models import VoteDirection

GRAIN_CHECK = "grain = 'h' OR grain = 'd'"


def _grain() -> Any:
    return Field(sa_type=sa.String(1), primary_key=True)


def _bucket() -> Any:
    return Field(sa_type=sa.DateTime(timezone=True), primary_key=True)


def _key(length: int = 200) -> Any:
    return Field(sa_type=sa.String(length), primary_key=True)


def _slot() -> Any:
    return Field(
        default=0,
        sa_type=sa.SmallInteger,
        primary_key=True,
        sa_column_kwargs={"server_default": "0"},
    )


def _count() -> Any:
    return Field(
        default=0, sa_type=sa.BigInteger, nullable=False, sa_column_kwargs={"server_default": "0"}
    )


def _sum() -> Any:
    return Field(
        default=0.0,
        sa_type=sa.Float,
        nullable=False,
        sa_column_kwargs={"server_default": "0"},
    )


def _money() -> Any:
    return Field(
        default=Decimal(0),
        sa_type=sa.Numeric,
        nullable=False,
        sa_column_kwargs={"server_default": "0"},
    )


class VoteCurrent(SQLModel, table=True):
    """Each conversation's current vote: its newest vote overall (ties by id)."""

    __tablename__ = "vote_current"
    __table_args__ = (
        # Partial edges of a window read the current votes cast in a partial hour.
        sa.Index("ix_vote_current_cast_at", "cast_at"),
    )

    conversation_id: str = Field(sa_type=CONVERSATION_ID, primary_key=True)
    vote_id: uuid.UUID = Field(sa_type=pg.UUID(as_uuid=True), nullable=False)
    vote: VoteDirection = Field(sa_type=pg_enum(VoteDirection, "vote_direction"), nullable=False)
    reasons: list[str] = Field(default_factory=list, sa_column=text_array())
    cast_at: dt.datetime = Field(sa_type=sa.DateTime(timezone=True), nullable=False)
    created_at: dt.datetime | None = created_at_column()


class VoteRollup(SQLModel, table=True):
    """Current votes by the bucket of the time they were cast."""

    __tablename__ = "vote_rollups"
    __table_args__ = (sa.CheckConstraint(GRAIN_CHECK, name="grain"),)

    grain: str = _grain()
    bucket_start: dt.datetime = _bucket()
    slot: int = _slot()
    up: int = _count()
    down: int = _count()
    created_at: dt.datetime | None = created_at_column()


class VoteReasonRollup(SQLModel, table=True):
    """Current votes citing each reason, by the bucket of the time they were cast."""

    __tablename__ = "vote_reason_rollups"
    __table_args__ = (sa.CheckConstraint(GRAIN_CHECK, name="grain"),)

    grain: str = _grain()
    bucket_start: dt.datetime = _bucket()
    reason: str = Field(sa_type=sa.Text, primary_key=True)
    slot: int = _slot()
    n: int = _count()
    created_at: dt.datetime | None = created_at_column()


class RoutingRollup(SQLModel, table=True):
    """Routing metrics by creation bucket, provider, model, pattern and complexity band;
    feedback counts in the bucket and group of the metric it points at."""

    __tablename__ = "routing_rollups"
    __table_args__ = (sa.CheckConstraint(GRAIN_CHECK, name="grain"),)

    grain: str = _grain()
    bucket_start: dt.datetime = _bucket()
    provider: str = _key(100)
    model: str = _key(200)
    pattern: str = _key(100)
    band: str = _key(10)
    requests: int = _count()
    cost_sum: Decimal = _money()
    savings_sum: Decimal = _money()
    savings_n: int = _count()
    feedback_n: int = _count()
    quality_sum: float = _sum()
    quality_sq_sum: float = _sum()
    correct_true: int = _count()
    correct_n: int = _count()
    helpful_true: int = _count()
    helpful_n: int = _count()
    created_at: dt.datetime | None = created_at_column()


class RoutingLatencyRollup(SQLModel, table=True):
    """Latency histogram (log-spaced bins) by creation bucket, provider, model, pattern."""

    __tablename__ = "routing_latency_rollups"
    __table_args__ = (sa.CheckConstraint(GRAIN_CHECK, name="grain"),)

    grain: str = _grain()
    bucket_start: dt.datetime = _bucket()
    provider: str = _key(100)
    model: str = _key(200)
    pattern: str = _key(100)
    bin: int = Field(sa_type=sa.Integer, primary_key=True)
    n: int = _count()
    created_at: dt.datetime | None = created_at_column()


class CacheEntryRollup(SQLModel, table=True):
    """Cache entries by creation bucket."""

    __tablename__ = "cache_entry_rollups"
    __table_args__ = (sa.CheckConstraint(GRAIN_CHECK, name="grain"),)

    grain: str = _grain()
    bucket_start: dt.datetime = _bucket()
    n: int = _count()
    created_at: dt.datetime | None = created_at_column()


class CacheRatingRollup(SQLModel, table=True):
    """Cache ratings by bucket of the rating's time and rating value."""

    __tablename__ = "cache_rating_rollups"
    __table_args__ = (sa.CheckConstraint(GRAIN_CHECK, name="grain"),)

    grain: str = _grain()
    bucket_start: dt.datetime = _bucket()
    rating: int = Field(sa_type=sa.SmallInteger, primary_key=True)
    n: int = _count()
    created_at: dt.datetime | None = created_at_column()


class CacheHitRollup(SQLModel, table=True):
    """Hits and cost saved (hits times the entry's cost) per UTC day, over every entry."""

    __tablename__ = "cache_hit_rollups"

    day: dt.date = Field(sa_type=sa.Date, primary_key=True)
    hits: int = _count()
    cost_saved: Decimal = _money()
    created_at: dt.datetime | None = created_at_column()


class ExpertFeedbackRollup(SQLModel, table=True):
    """Expert reviews by creation bucket, type and category ('' when none)."""

    __tablename__ = "expert_feedback_rollups"
    __table_args__ = (sa.CheckConstraint(GRAIN_CHECK, name="grain"),)

    grain: str = _grain()
    bucket_start: dt.datetime = _bucket()
    feedback_type: str = _key(40)
    category: str = _key(40)
    n: int = _count()
    created_at: dt.datetime | None = created_at_column()


class ExpertCandidateStatusCount(SQLModel, table=True):
    """FAQ candidates per approval status (all time)."""

    __tablename__ = "expert_candidate_status_counts"

    status: str = _key(40)
    n: int = _count()
    created_at: dt.datetime | None = created_at_column()
