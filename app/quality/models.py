"""The quality loop's read models, kept by database triggers in the write path.

Both tables are derived data: triggers on `votes` and `expert_feedback` (see
`app/quality/triggers.py`) keep them equal to what a full recount would give, so the
review queue and calibration read a few rows instead of scanning every vote.
"""

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field, SQLModel

from app.db import CONVERSATION_ID, QUERY_ID, created_at_column, pg_enum, text_array
from app.experts.models import FeedbackType
from app.votes.models import VoteDirection


def _count() -> Any:
    return Field(
        default=0, sa_type=sa.BigInteger, nullable=False, sa_column_kwargs={"server_default": "0"}
    )


class QueryCurrentVote(SQLModel, table=True):
    """The current vote of one conversation on one answered query.

    For each `(query_id, conversation_id)` it is the newest vote (by `created_at`, then
    id) that carries that `query_id`; votes without a `query_id` are not here.
    """

    __tablename__ = "query_current_votes"

    query_id: uuid.UUID = Field(sa_type=QUERY_ID, primary_key=True)
    conversation_id: str = Field(sa_type=CONVERSATION_ID, primary_key=True)
    # No FK: the row is re-derived by trigger when its vote is deleted.
    vote_id: uuid.UUID = Field(sa_type=pg.UUID(as_uuid=True), nullable=False)
    vote: VoteDirection = Field(sa_type=pg_enum(VoteDirection, "vote_direction"), nullable=False)
    reasons: list[str] = Field(default_factory=list, sa_column=text_array())
    voted_at: dt.datetime = Field(sa_type=sa.DateTime(timezone=True), nullable=False)
    created_at: dt.datetime | None = created_at_column()


class QuerySignal(SQLModel, table=True):
    """Per answered query: tallies of its current votes, its priority, and its reviews.

    A row exists while the query has a current vote or an expert review. The review
    queue is the rows with `down_votes > 0` and no review (`first_reviewed_at` NULL).
    """

    __tablename__ = "query_signals"
    __table_args__ = (
        sa.CheckConstraint(
            "down_votes >= 0 AND up_votes >= 0 AND reasoned_down_votes >= 0 "
            "AND reasoned_down_votes <= down_votes",
            name="vote_counts_consistent",
        ),
        sa.CheckConstraint("priority >= 0", name="priority_non_negative"),
        # The review queue, in its keyset order: a page is one index range scan.
        sa.Index(
            "ix_query_signals_review_queue",
            sa.text("priority DESC"),
            "query_id",
            postgresql_where=sa.text("first_reviewed_at IS NULL AND down_votes > 0"),
        ),
        # Calibration: the answers whose latest verdict falls in a window.
        sa.Index(
            "ix_query_signals_verdict_at",
            "verdict_at",
            postgresql_where=sa.text("verdict_at IS NOT NULL"),
        ),
    )

    query_id: uuid.UUID = Field(sa_type=QUERY_ID, primary_key=True)
    down_votes: int = _count()
    up_votes: int = _count()
    # Current down votes that give at least one reason (an input of the priority).
    reasoned_down_votes: int = _count()
    # {reason: how many current down votes cite it}.
    reasons: dict[str, int] = Field(
        default_factory=dict,
        sa_column=sa.Column(pg.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    )
    priority: float = Field(
        default=0.0, sa_type=sa.Float, nullable=False, sa_column_kwargs={"server_default": "0"}
    )
    first_reviewed_at: dt.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    # The latest expert verdict (by created_at, then id) and when it was given.
    verdict: FeedbackType | None = Field(
        default=None, sa_type=pg_enum(FeedbackType, "feedback_type")
    )
    verdict_at: dt.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    created_at: dt.datetime | None = created_at_column()
