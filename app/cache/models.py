"""Cached LLM responses, their hits, and user ratings of them."""

import datetime as dt
import enum
import uuid
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db import CACHE_KEY, MONEY, created_at_column, pg_enum, updated_at_column, user_fk, uuid_pk


class CacheEntryStatus(enum.StrEnum):
    active = "active"
    flagged = "flagged"


class CacheEntry(SQLModel, table=True):
    """One cached response, keyed by the gateway's cache key."""

    __tablename__ = "response_cache"
    __table_args__ = (
        sa.CheckConstraint("cost_usd >= 0", name="cost_usd_non_negative"),
        sa.CheckConstraint("hit_count >= 0", name="hit_count_non_negative"),
        sa.CheckConstraint(
            "rating_count >= 0 AND good_count >= 0 AND good_count <= rating_count "
            "AND rating_sum >= rating_count AND rating_sum <= 5 * rating_count",
            name="rating_tally_consistent",
        ),
        sa.Index("ix_response_cache_status", "status"),
        sa.Index("ix_response_cache_created_at", "created_at"),
        # Analytics' flagged list: only flagged entries, newest flag first.
        sa.Index(
            "ix_response_cache_flagged_at",
            sa.text("flagged_at DESC"),
            "cache_key",
            postgresql_where=sa.text("status = 'flagged'"),
        ),
    )

    id: uuid.UUID | None = uuid_pk()
    cache_key: str = Field(sa_type=CACHE_KEY, nullable=False, unique=True)
    provider: str = Field(sa_type=sa.String(100), nullable=False)
    model: str = Field(sa_type=sa.String(200), nullable=False)
    prompt_hash: str | None = Field(default=None, sa_type=sa.String(128))
    cost_usd: Decimal = Field(sa_type=MONEY, nullable=False)
    expires_at: dt.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    hit_count: int = Field(
        default=0, sa_type=sa.BigInteger, nullable=False, sa_column_kwargs={"server_default": "0"}
    )
    last_hit_at: dt.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    status: CacheEntryStatus = Field(
        default=CacheEntryStatus.active,
        sa_type=pg_enum(CacheEntryStatus, "cache_entry_status"),
        nullable=False,
        sa_column_kwargs={"server_default": CacheEntryStatus.active.value},
    )
    flagged_at: dt.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    # Tallies of cache_feedback, kept by the `cache_feedback_tally` trigger on every insert
    # and delete (erasure, retention, cascade), so reads and the flagging rule are O(1).
    rating_count: int = Field(
        default=0, sa_type=sa.Integer, nullable=False, sa_column_kwargs={"server_default": "0"}
    )
    rating_sum: int = Field(
        default=0, sa_type=sa.BigInteger, nullable=False, sa_column_kwargs={"server_default": "0"}
    )
    good_count: int = Field(
        default=0, sa_type=sa.Integer, nullable=False, sa_column_kwargs={"server_default": "0"}
    )
    created_at: dt.datetime | None = created_at_column()
    updated_at: dt.datetime | None = updated_at_column()


class CacheHitDay(SQLModel, table=True):
    """Hits of one entry on one UTC day, so cost saved can be reported per time window."""

    __tablename__ = "cache_hit_days"
    __table_args__ = (sa.CheckConstraint("hits >= 0", name="hits_non_negative"),)

    cache_key: str = Field(
        sa_type=CACHE_KEY,
        foreign_key="response_cache.cache_key",
        ondelete="CASCADE",
        primary_key=True,
    )
    day: dt.date = Field(sa_type=sa.Date, primary_key=True)
    hits: int = Field(
        default=0, sa_type=sa.BigInteger, nullable=False, sa_column_kwargs={"server_default": "0"}
    )
    created_at: dt.datetime | None = created_at_column()


class CacheFeedback(SQLModel, table=True):
    """One user's rating of a cached response."""

    __tablename__ = "cache_feedback"
    __table_args__ = (
        sa.CheckConstraint("rating >= 1 AND rating <= 5", name="rating_range"),
        sa.CheckConstraint("char_length(comment) <= 4000", name="comment_max_4000"),
        sa.Index("ix_cache_feedback_cache_key_created_at", "cache_key", "created_at"),
        sa.Index("ix_cache_feedback_user_id", "user_id"),
        sa.Index("ix_cache_feedback_created_at", "created_at"),
        # One current rating per rater and entry (the supersede trigger keeps it so).
        sa.Index(
            "uq_cache_feedback_current_rater",
            "cache_key",
            "rater",
            unique=True,
            postgresql_where=sa.text("rater IS NOT NULL AND superseded_at IS NULL"),
        ),
    )

    id: uuid.UUID | None = uuid_pk()
    cache_key: str = Field(
        sa_type=CACHE_KEY,
        foreign_key="response_cache.cache_key",
        ondelete="CASCADE",
        nullable=False,
    )
    rating: int = Field(sa_type=sa.SmallInteger, nullable=False)
    comment: str | None = Field(default=None, sa_type=sa.Text)
    user_agent: str | None = Field(default=None, sa_type=sa.String(512))
    user_id: int | None = user_fk()
    # Who rated with a feedback token: `token:<token id>` or `user:<bound user id>`; NULL for
    # ratings sent with a key (the trusted backend: each counts as sent).
    rater: str | None = Field(default=None, sa_type=sa.String(64))
    # Set when the same rater rated the entry again: kept as history, out of the tallies.
    superseded_at: dt.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    created_at: dt.datetime | None = created_at_column()
