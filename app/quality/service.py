"""The quality loop: the review queue of down-voted answers, and calibration of user votes
against expert verdicts. Both read `query_signals`, which triggers keep in the write path
(app/quality/triggers.py), so neither scans `votes`."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.experts.models import FeedbackType
from app.quality.models import QuerySignal
from app.quality.priority import ranked_reasons
from app.quality.schemas import (
    Calibration,
    ReasonCalibration,
    ReasonTally,
    ReviewQueueItem,
    VerdictCounts,
    VoteVerdictMatrix,
)
from app.query_params import Page, Pagination, encode_cursor, parse_cursor

signals = QuerySignal.__table__  # type: ignore[attr-defined]


def _uuid(value: Any) -> uuid.UUID:
    return uuid.UUID(str(value))


def _awaiting_review() -> list[Any]:
    """What puts a query in the queue: down votes and no expert review yet (one home, for
    the page of the queue and for its size)."""
    return [signals.c.first_reviewed_at.is_(None), signals.c.down_votes > 0]


def review_queue_statement(page: Pagination) -> sa.Select[Any]:
    """One page of the queue; its WHERE and ORDER BY match ix_query_signals_review_queue."""
    s = signals.c
    where: list[Any] = _awaiting_review()
    parsed = parse_cursor(page.cursor, float, _uuid)
    if parsed is not None:
        last_priority, last_id = parsed
        # The redundant `priority <= last` lets the index scan start at the cursor.
        where += [
            s.priority <= last_priority,
            sa.or_(s.priority < last_priority, s.query_id > last_id),
        ]
    return (
        sa.select(s.query_id, s.down_votes, s.up_votes, s.reasons, s.priority)
        .where(*where)
        .order_by(s.priority.desc(), s.query_id.asc())
        .limit(page.limit + 1)
    )


async def review_queue(session: AsyncSession, page: Pagination) -> Page[ReviewQueueItem]:
    """Unreviewed down-voted answers, highest priority first (ties by query id)."""
    rows = (await session.execute(review_queue_statement(page))).all()
    items = [
        ReviewQueueItem(
            query_id=r.query_id,
            down_votes=r.down_votes,
            up_votes=r.up_votes,
            reasons=[ReasonTally(reason=k, count=n) for k, n in ranked_reasons(r.reasons)],
            priority=r.priority,
        )
        for r in rows[: page.limit]
    ]
    next_cursor = (
        encode_cursor([items[-1].priority, str(items[-1].query_id)])
        if len(rows) > page.limit
        else None
    )
    return Page[ReviewQueueItem](items=items, next_cursor=next_cursor)


async def review_queue_size(session: AsyncSession) -> int:
    """How many queries the review queue holds (the dashboard's overview figure)."""
    count = await session.scalar(
        sa.select(sa.func.count()).select_from(signals).where(*_awaiting_review())
    )
    return int(count or 0)


# answers: the queries whose latest verdict falls in [start, end) and that have a current
# vote (served by ix_query_signals_verdict_at). Their tallies already hold one current vote
# per conversation, and `reasons` holds the reasons of the current down votes, so one row
# per answer is all the statement reads.
_CALIBRATION_SQL = """
WITH answers AS MATERIALIZED (
    SELECT verdict, up_votes, down_votes, reasons
    FROM query_signals
    WHERE verdict_at >= CAST(:start AS timestamptz) AND verdict_at < CAST(:end AS timestamptz)
      AND down_votes + up_votes > 0
)
SELECT 'verdict' AS kind, CAST(verdict AS text) AS key, count(*) AS answers,
       sum(up_votes) AS up, sum(down_votes) AS down,
       NULL::bigint AS incorrect, NULL::bigint AS incomplete
FROM answers
GROUP BY verdict
UNION ALL
(
    SELECT 'reason', r.reason, count(*), NULL, NULL,
           count(*) FILTER (WHERE a.verdict = 'incorrect'),
           count(*) FILTER (WHERE a.verdict = 'incomplete')
    FROM answers AS a
    CROSS JOIN LATERAL jsonb_object_keys(a.reasons) AS r(reason)
    GROUP BY r.reason
    ORDER BY count(*) DESC, r.reason
    LIMIT CAST(:top AS integer)
)
"""


def calibration_statement(
    *, start: dt.datetime, end: dt.datetime, top: int, explain: bool = False
) -> sa.TextClause:
    """The calibration query over `[start, end)`; `explain=True` prefixes EXPLAIN."""
    return sa.text(("EXPLAIN " if explain else "") + _CALIBRATION_SQL).bindparams(
        sa.bindparam("start", start, type_=sa.DateTime(timezone=True)),
        sa.bindparam("end", end, type_=sa.DateTime(timezone=True)),
        sa.bindparam("top", top, type_=sa.Integer),
    )


async def calibration(
    session: AsyncSession, *, start: dt.datetime, end: dt.datetime, top: int
) -> Calibration:
    """Current votes by latest verdict, and per down-vote reason the verdict shares."""
    rows = (await session.execute(calibration_statement(start=start, end=end, top=top))).all()
    up = dict.fromkeys(FeedbackType, 0)
    down = dict.fromkeys(FeedbackType, 0)
    answers = 0
    reasons: list[ReasonCalibration] = []
    for row in rows:
        if row.kind == "verdict":
            verdict = FeedbackType(row.key)
            up[verdict], down[verdict] = int(row.up), int(row.down)
            answers += row.answers
        else:
            reasons.append(
                ReasonCalibration(
                    reason=row.key,
                    sample_size=row.answers,
                    incorrect_share=row.incorrect / row.answers,
                    incomplete_share=row.incomplete / row.answers,
                )
            )
    reasons.sort(key=lambda r: (-r.sample_size, r.reason))
    return Calibration(
        from_=start,
        to=end,
        answers=answers,
        votes=VoteVerdictMatrix(
            up=VerdictCounts(**{k.value: v for k, v in up.items()}),
            down=VerdictCounts(**{k.value: v for k, v in down.items()}),
        ),
        reasons=reasons,
    )
