"""API keys: only a hash of the secret is stored; the secret is shown once."""

import datetime as dt
import enum
import uuid

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field, SQLModel

from app.db import created_at_column, pg_enum, user_fk, uuid_pk


class Scope(enum.StrEnum):
    ingest = "ingest"
    expert = "expert"
    admin = "admin"


class ApiKey(SQLModel, table=True):
    """One key. `expert` keys are bound to exactly one expert profile."""

    __tablename__ = "api_keys"
    __table_args__ = (
        sa.CheckConstraint(
            "(scope = 'expert') = (expert_id IS NOT NULL)", name="expert_id_iff_expert_scope"
        ),
        sa.CheckConstraint(
            "rate_limit_per_minute IS NULL OR rate_limit_per_minute > 0",
            name="rate_limit_positive",
        ),
        sa.Index("ix_api_keys_expert_id", "expert_id"),
        sa.Index("ix_api_keys_user_id", "user_id"),
    )

    id: uuid.UUID | None = uuid_pk()
    public_id: str = Field(sa_type=sa.String(24), nullable=False, unique=True)
    secret_hash: str = Field(sa_type=sa.String(64), nullable=False)
    name: str | None = Field(default=None, sa_type=sa.String(200))
    scope: Scope = Field(sa_type=pg_enum(Scope, "api_key_scope"), nullable=False)
    expert_id: uuid.UUID | None = Field(
        default=None,
        sa_type=pg.UUID(as_uuid=True),
        foreign_key="expert_profiles.id",
        ondelete="CASCADE",
    )
    # The operator a key belongs to, when known: recorded as `approved_by` on decisions.
    user_id: int | None = user_fk()
    created_at: dt.datetime | None = created_at_column()
    last_used_at: dt.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    revoked_at: dt.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    # NULL: the scope's default (ingest and admin unlimited, expert keys the token limit).
    rate_limit_per_minute: int | None = Field(default=None, sa_type=sa.Integer)
