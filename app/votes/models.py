"""Thumbs up/down on a chat answer. A changed vote is a new row; history is kept."""

import enum
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db import (
    CONVERSATION_ID,
    QUERY_ID,
    created_at_column,
    pg_enum,
    text_array,
    user_fk,
    uuid_pk,
)


class VoteDirection(enum.StrEnum):
    up = "up"
    down = "down"


class Vote(SQLModel, table=True):
    """One vote as cast; the newest row of a conversation is its current vote."""

    __tablename__ = "votes"
    __table_args__ = (
        sa.CheckConstraint("cardinality(reasons) <= 20", name="reasons_max_20"),
        sa.CheckConstraint("char_length(comment) <= 4000", name="comment_max_4000"),
        sa.CheckConstraint("char_length(conversation_id) >= 1", name="conversation_id_not_empty"),
        # Current vote per conversation: newest first, ties broken by id.
        sa.Index(
            "ix_votes_conversation_id_created_at",
            "conversation_id",
            sa.text("created_at DESC"),
            sa.text("id DESC"),
        ),
        sa.Index("ix_votes_created_at", "created_at"),
        sa.Index("ix_votes_query_id", "query_id"),
        sa.Index("ix_votes_user_id", "user_id"),
        # Erasure finds a user's votes by any email they used.
        sa.Index("ix_votes_email_lower", sa.text("lower(email)")),
    )

    id: uuid.UUID | None = uuid_pk()
    conversation_id: str = Field(sa_type=CONVERSATION_ID, nullable=False)
    vote: VoteDirection = Field(sa_type=pg_enum(VoteDirection, "vote_direction"), nullable=False)
    query_id: uuid.UUID | None = Field(default=None, sa_type=QUERY_ID)
    user_id: int | None = user_fk()
    email: str | None = Field(default=None, sa_type=sa.String(320))
    expert_ids: list[str] = Field(default_factory=list, sa_column=text_array())
    reasons: list[str] = Field(default_factory=list, sa_column=text_array())
    comment: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime | None = created_at_column()
