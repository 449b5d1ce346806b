"""Votes: record a thumbs vote, read a conversation's votes, aggregate them over a window."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.query_params import Bucket
from app.users.service import register_users
from app.votes.models import Vote
from app.votes.schemas import (
    ConversationVotes,
    ReasonCount,
    VoteAnalytics,
    VoteCreate,
    VoteHistoryItem,
    VoteRecorded,
    VoteSeriesPoint,
    VoteTotals,
)
from app.webhooks import service as webhooks
from app.webhooks.schemas import EventType


def satisfaction(up: int, down: int) -> float | None:
    """up / (up + down); None when there are no votes."""
    total = up + down
    return None if total == 0 else up / total


# Many votes in one statement: one JSON parameter whatever the batch size, so the
# statement is prepared once; the ids are made here so each row finds its own result.
# clock_timestamp() per row: now() is the transaction's start and would tie a batch.
_INSERT_VOTES_SQL = sa.text("""
INSERT INTO votes (id, conversation_id, vote, query_id, user_id, email, expert_ids, reasons,
                   comment, created_at)
SELECT r.id, r.conversation_id, r.vote, r.query_id, r.user_id, r.email,
       coalesce(r.expert_ids, '{}'), coalesce(r.reasons, '{}'), r.comment, clock_timestamp()
FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
    id uuid, conversation_id text, vote vote_direction, query_id uuid, user_id bigint,
    email text, expert_ids text[], reasons text[], comment text)
RETURNING id, created_at
""")


async def record_votes(
    session: AsyncSession, votes: Sequence[tuple[VoteCreate, int | None]]
) -> list[VoteRecorded]:
    """Insert many votes (payload, user id to record; the caller's right to name it was
    checked by the router) in one statement, registering their users first; results in
    order. A changed vote is a new row."""
    await register_users(session, (uid for _, uid in votes if uid is not None))
    ids = [uuid.uuid4() for _ in votes]
    rows = [
        {
            "id": str(vote_id),
            "conversation_id": payload.conversation_id,
            "vote": payload.vote.value,
            "query_id": str(payload.query_id) if payload.query_id else None,
            "user_id": user_id,
            "email": payload.email,
            "expert_ids": payload.expert_ids,
            "reasons": payload.reasons,
            "comment": payload.comment,
        }
        for vote_id, (payload, user_id) in zip(ids, votes, strict=True)
    ]
    result = await session.execute(_INSERT_VOTES_SQL, {"rows": json.dumps(rows)})
    created = {row.id: row.created_at for row in result}
    recorded = [VoteRecorded(id=vote_id, created_at=created[vote_id]) for vote_id in ids]
    # The outbox rows go in the same transaction as the votes they announce.
    for (payload, user_id), vote in zip(votes, recorded, strict=True):
        if payload.vote == "down":
            data = payload.model_dump(
                include={"conversation_id", "query_id", "reasons", "expert_ids"}
            )
            await webhooks.emit(
                session,
                EventType.vote_down,
                {"vote_id": vote.id, **data, "user_id": user_id, "created_at": vote.created_at},
            )
    return recorded


async def record_vote(
    session: AsyncSession, payload: VoteCreate, *, user_id: int | None
) -> VoteRecorded:
    """Insert one vote for `user_id` (see `record_votes`)."""
    return (await record_votes(session, [(payload, user_id)]))[0]


async def conversation_votes(session: AsyncSession, conversation_id: str) -> ConversationVotes:
    """Every vote of a conversation, newest first; the first one is the current vote."""
    stmt = (
        sa.select(Vote)
        .where(col(Vote.conversation_id) == conversation_id)
        # Same order as ix_votes_conversation_id_created_at: a backward-free index scan.
        .order_by(col(Vote.created_at).desc(), col(Vote.id).desc())
    )
    rows = (await session.execute(stmt)).scalars().all()
    history = [VoteHistoryItem.model_validate(row, from_attributes=True) for row in rows]
    return ConversationVotes(current=history[0].vote if history else None, history=history)


# The one analytics statement (the endpoint runs it; a test EXPLAINs it).
# current_votes: among the votes cast in [start, end), the newest of each conversation
# (ties by id), so a conversation counts once, with its last vote inside the window, in
# the bucket of that vote's created_at. Buckets are UTC; generate_series makes empty
# buckets appear with zeros. A reason counts once per current vote that cites it.
_ANALYTICS_SQL = """
WITH current_votes AS MATERIALIZED (
    SELECT DISTINCT ON (conversation_id) vote, reasons, created_at
    FROM votes
    WHERE created_at >= CAST(:start AS timestamptz) AND created_at < CAST(:end AS timestamptz)
    ORDER BY conversation_id, created_at DESC, id DESC
),
buckets AS (
    SELECT generate_series(
        date_trunc(CAST(:bucket AS text), CAST(:start AS timestamptz) AT TIME ZONE 'UTC'),
        (CAST(:end AS timestamptz) AT TIME ZONE 'UTC') - interval '1 microsecond',
        CAST('1 ' || CAST(:bucket AS text) AS interval)
    ) AS bucket_start
),
series AS (
    SELECT b.bucket_start,
           count(c.vote) FILTER (WHERE c.vote = 'up') AS up,
           count(c.vote) FILTER (WHERE c.vote = 'down') AS down
    FROM buckets AS b
    LEFT JOIN current_votes AS c
        ON date_trunc(CAST(:bucket AS text), c.created_at AT TIME ZONE 'UTC') = b.bucket_start
    GROUP BY b.bucket_start
),
top_reasons AS (
    SELECT r.reason, count(*) AS n
    FROM current_votes AS c
    CROSS JOIN LATERAL (SELECT DISTINCT unnest(c.reasons) AS reason) AS r
    GROUP BY r.reason
    ORDER BY n DESC, r.reason
    LIMIT CAST(:top AS integer)
)
SELECT
    (SELECT count(*) FROM current_votes WHERE vote = 'up') AS up,
    (SELECT count(*) FROM current_votes WHERE vote = 'down') AS down,
    ARRAY(SELECT bucket_start AT TIME ZONE 'UTC' FROM series ORDER BY bucket_start)
        AS bucket_starts,
    ARRAY(SELECT up FROM series ORDER BY bucket_start) AS series_up,
    ARRAY(SELECT down FROM series ORDER BY bucket_start) AS series_down,
    ARRAY(SELECT reason FROM top_reasons ORDER BY n DESC, reason) AS reasons,
    ARRAY(SELECT n FROM top_reasons ORDER BY n DESC, reason) AS reason_counts
"""


def analytics_statement(
    *,
    start: dt.datetime,
    end: dt.datetime,
    bucket: Bucket,
    top: int,
    explain: bool = False,
) -> sa.TextClause:
    """The analytics query over `[start, end)`; `explain=True` prefixes EXPLAIN to it."""
    sql = ("EXPLAIN " if explain else "") + _ANALYTICS_SQL
    return sa.text(sql).bindparams(
        sa.bindparam("start", start, type_=sa.DateTime(timezone=True)),
        sa.bindparam("end", end, type_=sa.DateTime(timezone=True)),
        sa.bindparam("bucket", bucket.value, type_=sa.Text),
        sa.bindparam("top", top, type_=sa.Integer),
    )


async def vote_analytics(
    session: AsyncSession,
    *,
    start: dt.datetime,
    end: dt.datetime,
    bucket: Bucket,
    top: int,
) -> VoteAnalytics:
    """Totals, series and top reasons of the current votes in `[start, end)`."""
    stmt = analytics_statement(start=start, end=end, bucket=bucket, top=top)
    row = (await session.execute(stmt)).one()
    series = [
        VoteSeriesPoint(bucket_start=b, up=u, down=d, satisfaction=satisfaction(u, d))
        for b, u, d in zip(row.bucket_starts, row.series_up, row.series_down, strict=True)
    ]
    return VoteAnalytics(
        from_=start,
        to=end,
        bucket=bucket,
        totals=VoteTotals(up=row.up, down=row.down, satisfaction=satisfaction(row.up, row.down)),
        series=series,
        top_reasons=[
            ReasonCount(reason=r, count=n)
            for r, n in zip(row.reasons, row.reason_counts, strict=True)
        ],
    )
