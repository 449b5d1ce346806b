"""Votes: record a thumbs vote, read a conversation's votes, aggregate them over a window."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.analytics import queries as analytics_queries
from app.analytics import window as window_parts
from app.analytics.window import raw_sql, rollup_sql
from app.query_params import Bucket, bucket_starts
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


# The one analytics statement (the endpoint runs it; a test EXPLAINs it). It reads the
# rollups of each conversation's current vote (`vote_current`, kept by triggers): whole days
# and hours from `vote_rollups`/`vote_reason_rollups`, the partial hours at the window's
# edges from `vote_current` itself (see app/analytics/window.py), so its cost depends on
# the window's buckets, not on its votes. A reason counts once per current vote citing it.
_ANALYTICS_SQL = f"""
WITH parts AS (
    SELECT r.bucket_start AS t, r.up, r.down FROM vote_rollups AS r
    WHERE {rollup_sql("r")}
    UNION ALL
    SELECT c.cast_at, CAST(c.vote = 'up' AS integer), CAST(c.vote = 'down' AS integer)
    FROM vote_current AS c WHERE {raw_sql("c.cast_at")}
),
series AS (
    SELECT date_trunc(CAST(:bucket AS text), t, 'UTC') AS bucket_start,
           sum(up) AS up, sum(down) AS down
    FROM parts GROUP BY 1
),
reasons AS (
    SELECT reason, sum(n) AS n FROM (
        SELECT r.reason, r.n FROM vote_reason_rollups AS r WHERE {rollup_sql("r")}
        UNION ALL
        SELECT x.reason, 1 FROM vote_current AS c
        CROSS JOIN LATERAL (SELECT DISTINCT unnest(c.reasons) AS reason) AS x
        WHERE {raw_sql("c.cast_at")}
    ) AS s
    GROUP BY reason HAVING sum(n) > 0
    ORDER BY n DESC, reason
    LIMIT CAST(:top AS integer)
)
SELECT
    ARRAY(SELECT bucket_start FROM series ORDER BY bucket_start) AS bucket_starts,
    ARRAY(SELECT up FROM series ORDER BY bucket_start) AS series_up,
    ARRAY(SELECT down FROM series ORDER BY bucket_start) AS series_down,
    ARRAY(SELECT reason FROM reasons ORDER BY n DESC, reason) AS reasons,
    ARRAY(SELECT n FROM reasons ORDER BY n DESC, reason) AS reason_counts
"""  # noqa: S608  (assembled from constant predicates; values are bound parameters)


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
    # An hourly series cannot be answered from day rows.
    parts = window_parts.split(start, end, days=bucket is not Bucket.hour)
    timestamp = sa.DateTime(timezone=True)
    return sa.text(sql).bindparams(
        *(sa.bindparam(name, value, type_=timestamp) for name, value in parts.params().items()),
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
    """Totals, series and top reasons of the current votes cast in `[start, end)`."""
    stmt = analytics_statement(start=start, end=end, bucket=bucket, top=top)
    await analytics_queries.plan_per_window(session)
    row = (await session.execute(stmt)).one()
    counted = {
        b.astimezone(dt.UTC): (int(u), int(d))
        for b, u, d in zip(row.bucket_starts, row.series_up, row.series_down, strict=True)
    }
    series = []
    for b in bucket_starts(start, end, bucket):
        u, d = counted.get(b, (0, 0))
        series.append(
            VoteSeriesPoint(bucket_start=b, up=u, down=d, satisfaction=satisfaction(u, d))
        )
    up = sum(p.up for p in series)
    down = sum(p.down for p in series)
    return VoteAnalytics(
        from_=start,
        to=end,
        bucket=bucket,
        totals=VoteTotals(up=up, down=down, satisfaction=satisfaction(up, down)),
        series=series,
        top_reasons=[
            ReasonCount(reason=r, count=int(n))
            for r, n in zip(row.reasons, row.reason_counts, strict=True)
        ],
    )
