"""Expert analytics: the leaderboard by trust, reviews by type and category in a window
(from the rollups kept by triggers), and FAQ candidates by status."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics import queries as analytics_queries
from app.analytics.models import ExpertCandidateStatusCount
from app.experts.models import ApprovalStatus, ExpertProfile, FeedbackType, ItalianFeedbackCategory
from app.experts.schemas import ExpertAnalytics, LeaderboardEntry
from app.query_params import TimeWindow

LEADERBOARD_DEFAULT = 10

profiles = ExpertProfile.__table__  # type: ignore[attr-defined]
status_counts = ExpertCandidateStatusCount.__table__  # type: ignore[attr-defined]


async def expert_analytics(
    session: AsyncSession, window: TimeWindow, *, top: int = LEADERBOARD_DEFAULT
) -> ExpertAnalytics:
    """Leaderboard of active experts by trust, reviews by type and category in the window
    (default: the last 30 days), and candidates by status."""
    p = profiles.c
    leaders = (
        await session.execute(
            sa.select(
                p.id,
                p.user_id,
                p.trust_score,
                p.feedback_count,
                p.feedback_accuracy_rate.label("accuracy_rate"),
                p.average_response_time_seconds,
                p.approved_count,
                p.rejected_count,
                p.is_verified,
            )
            .where(p.is_active == sa.true())
            .order_by(p.trust_score.desc(), p.id.asc())
            .limit(top)
        )
    ).mappings()
    experts = [LeaderboardEntry.model_validate(dict(row)) for row in leaders]

    # Counts come from the rollups kept by triggers (window default: the last 30 days).
    start, end = window.start, window.end
    by_type = dict.fromkeys((t.value for t in FeedbackType), 0)
    by_category = dict.fromkeys((k.value for k in ItalianFeedbackCategory), 0)
    if start < end:
        parts = analytics_queries.window_parts(start, end)
        await analytics_queries.plan_per_window(session)
        for row in await session.execute(analytics_queries.expert_feedback_statement(parts)):
            by_type[row.feedback_type] += int(row.n)
            if row.category:
                by_category[row.category] += int(row.n)
    by_status = dict.fromkeys((s.value for s in ApprovalStatus), 0)
    for status, n in await session.execute(sa.select(status_counts.c.status, status_counts.c.n)):
        by_status[status] = int(n)
    return ExpertAnalytics(
        experts=experts,
        feedback_by_type=by_type,
        feedback_by_category=by_category,
        candidates_by_status=by_status,
        window_start=start,
        window_end=end,
    )
