"""Votes: record a thumbs vote, read a conversation's votes, aggregate them over a window."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.analytics import queries as analytics_queries
from app.analytics import window as window_parts
from app.analytics.window import raw_sql, rollup_sql
from app.auth.dependencies import Principal
from app.query_params import Bucket
from app.users.service import register_user
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
from app.votes.window import bucket_starts, satisfaction


async def record_vote(
    session: AsyncSession, principal: Principal, payload: VoteCreate
) -> VoteRecorded:
    """Insert one vote (a changed vote is a new row); register its user id first."""
    user_id = principal.user_for_conversation(payload.conversation_id, payload.user_id)
    await register_user(session, user_id)
    stmt = (
        sa.insert(Vote)
        .values(
            conversation_id=payload.conversation_id,
            vote=payload.vote,
            query_id=payload.query_id,
            user_id=user_id,
            email=payload.email,
            expert_ids=payload.expert_ids,
            reasons=payload.reasons,
            comment=payload.comment,
            # now() is the transaction's start: two votes in one transaction would tie.
            created_at=sa.func.clock_timestamp(),
        )
        .returning(col(Vote.id), col(Vote.created_at))
    )
    row = (await session.execute(stmt)).one()
    return VoteRecorded(id=row.id, created_at=row.created_at)


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
