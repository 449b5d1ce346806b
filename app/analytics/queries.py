"""Analytics answered from the rollups: whole days and hours from rollup rows, the
partial hours at the window's edges from the raw rows (`app/analytics/window.py`).

Each statement has one shape whatever the window (empty parts are empty ranges), and its
cost depends on the number of buckets and groups in the window, never on its rows.
"""

# ruff: noqa: S608  (SQL assembled from this module's constants; values are bound)

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics import histogram
from app.analytics.triggers import band_sql
from app.analytics.window import WindowParts, raw_sql, rollup_sql, split

_TIMESTAMP = sa.DateTime(timezone=True)


async def plan_per_window(session: AsyncSession) -> None:
    """Plan the next statements for their actual window bounds. After five executions of
    a prepared statement PostgreSQL may switch to a generic plan that ignores the bounds,
    and a generic plan of the raw-edge reads can scan a whole table."""
    await session.execute(sa.text("SET LOCAL plan_cache_mode = force_custom_plan"))


def statement(sql: str, parts: WindowParts, **params: Any) -> sa.TextClause:
    """`sql` with the window's part bounds (and `params`) bound."""
    binds = [sa.bindparam(k, v, type_=_TIMESTAMP) for k, v in parts.params().items()]
    binds += [sa.bindparam(k, v) for k, v in params.items()]
    return sa.text(sql).bindparams(*binds)


# ------------------------------------------------------------------------- routing

_FEEDBACK_OF_METRIC = """
LEFT JOIN LATERAL (
    SELECT count(*) AS n, coalesce(sum(f.quality_score), 0) AS q,
           coalesce(sum(CASE WHEN f.quality_score < 1e-150 THEN 0
                             ELSE f.quality_score * f.quality_score END), 0) AS q2,
           count(*) FILTER (WHERE f.is_correct) AS ct, count(f.is_correct) AS cn,
           count(*) FILTER (WHERE f.is_helpful) AS ht, count(f.is_helpful) AS hn
    FROM routing_feedback AS f WHERE f.request_id = m.request_id
) AS fb ON true"""

ROUTING_PARTS_SQL = f"""
SELECT r.provider, r.model, r.pattern, r.band, r.requests, r.cost_sum, r.savings_sum,
       r.savings_n, r.feedback_n, r.quality_sum, r.quality_sq_sum, r.correct_true,
       r.correct_n, r.helpful_true, r.helpful_n
FROM routing_rollups AS r WHERE {rollup_sql("r")}
UNION ALL
SELECT m.selected_provider, m.selected_model, coalesce(m.pattern_detected, ''),
       {band_sql("m.complexity_score")}, 1, m.actual_cost, coalesce(m.cost_savings, 0),
       CAST(m.cost_savings IS NOT NULL AS integer), fb.n, fb.q, fb.q2, fb.ct, fb.cn, fb.ht,
       fb.hn
FROM routing_metrics AS m{_FEEDBACK_OF_METRIC}
WHERE {raw_sql("m.created_at")}"""

GROUP_KEYS = {
    "provider": ("p.provider", "CAST(NULL AS text)"),
    "model": ("p.model", "p.provider"),
    "pattern": ("nullif(p.pattern, '')", "CAST(NULL AS text)"),
}


def routing_statement(parts: WindowParts, group_by: str) -> sa.TextClause:
    key, provider = GROUP_KEYS[group_by]
    sql = f"""
SELECT {key} AS key, {provider} AS provider, sum(p.requests) AS requests,
       sum(p.feedback_n) AS feedback_count,
       sum(p.quality_sum) / nullif(sum(p.feedback_n), 0) AS avg_quality,
       CAST(sum(p.correct_true) AS float) / nullif(sum(p.correct_n), 0) AS correct_rate,
       CAST(sum(p.helpful_true) AS float) / nullif(sum(p.helpful_n), 0) AS helpful_rate,
       sum(p.cost_sum) / nullif(sum(p.requests), 0) AS avg_cost,
       CASE WHEN sum(p.savings_n) > 0 THEN sum(p.savings_sum) END AS total_savings
FROM ({ROUTING_PARTS_SQL}) AS p
GROUP BY 1, 2
HAVING sum(p.requests) > 0
ORDER BY sum(p.requests) DESC, 1 ASC NULLS LAST, 2 ASC NULLS LAST"""
    return statement(sql, parts)


def latency_statement(parts: WindowParts, group_by: str) -> sa.TextClause:
    key, provider = GROUP_KEYS[group_by]
    sql = f"""
SELECT {key} AS key, {provider} AS provider, p.bin, sum(p.n) AS n
FROM (
    -- integer, not bigint/double: sum(integer) and integer hash keys are the fast paths
    -- over the ~20K histogram rows of a 30-day window.
    SELECT r.provider, r.model, r.pattern, r.bin, CAST(r.n AS integer) AS n
    FROM routing_latency_rollups AS r WHERE {rollup_sql("r")}
    UNION ALL
    SELECT m.selected_provider, m.selected_model, coalesce(m.pattern_detected, ''),
           CAST({histogram.bin_sql("m.latency_ms")} AS integer), 1
    FROM routing_metrics AS m
    WHERE {raw_sql("m.created_at")} AND m.latency_ms IS NOT NULL
) AS p
GROUP BY 1, 2, 3 HAVING sum(p.n) > 0"""
    return statement(sql, parts)


def recommendation_statement(
    parts: WindowParts, *, pattern: str, band: str | None
) -> sa.TextClause:
    band_filter = "" if band is None else "AND p.band = :band"
    sql = f"""
SELECT p.provider, p.model, sum(p.requests) AS requests,
       sum(p.cost_sum) / nullif(sum(p.requests), 0) AS avg_cost,
       sum(p.feedback_n) AS n, sum(p.quality_sum) AS q_sum, sum(p.quality_sq_sum) AS q_sq
FROM (
    SELECT r.provider, r.model, r.band, r.requests, r.cost_sum, r.feedback_n,
           r.quality_sum, r.quality_sq_sum
    FROM routing_rollups AS r WHERE r.pattern = :pattern AND {rollup_sql("r")}
    UNION ALL
    SELECT m.selected_provider, m.selected_model, {band_sql("m.complexity_score")}, 1,
           m.actual_cost, fb.n, fb.q, fb.q2
    FROM routing_metrics AS m{_FEEDBACK_OF_METRIC}
    WHERE m.pattern_detected = :pattern AND {raw_sql("m.created_at")}
) AS p
WHERE true {band_filter}
GROUP BY 1, 2 HAVING sum(p.requests) > 0"""
    params: dict[str, Any] = {"pattern": pattern}
    if band is not None:
        params["band"] = band
    return statement(sql, parts, **params)


# --------------------------------------------------------------------------- cache


def cache_statement(parts: WindowParts) -> sa.TextClause:
    sql = f"""
SELECT
    (SELECT coalesce(sum(n), 0) FROM (
        SELECT r.n FROM cache_entry_rollups AS r WHERE {rollup_sql("r")}
        UNION ALL
        SELECT 1 FROM response_cache AS e WHERE {raw_sql("e.created_at")}
    ) AS s) AS entries,
    ARRAY(
        SELECT coalesce(sum(n), 0) FROM (
            SELECT r.rating, r.n FROM cache_rating_rollups AS r WHERE {rollup_sql("r")}
            UNION ALL
            SELECT f.rating, 1 FROM cache_feedback AS f
            WHERE f.superseded_at IS NULL AND {raw_sql("f.created_at")}
        ) AS s
        RIGHT JOIN generate_series(1, 5) AS g(rating) ON g.rating = s.rating
        GROUP BY g.rating ORDER BY g.rating
    ) AS ratings"""
    return statement(sql, parts)


# ------------------------------------------------------------------------- experts


def expert_feedback_statement(parts: WindowParts) -> sa.TextClause:
    sql = f"""
SELECT feedback_type, category, sum(n) AS n FROM (
    SELECT r.feedback_type, r.category, r.n
    FROM expert_feedback_rollups AS r WHERE {rollup_sql("r")}
    UNION ALL
    SELECT CAST(f.feedback_type AS text), coalesce(CAST(f.category AS text), ''), 1
    FROM expert_feedback AS f WHERE {raw_sql("f.created_at")}
) AS s GROUP BY 1, 2 HAVING sum(n) > 0"""
    return statement(sql, parts)


def window_parts(start: dt.datetime, end: dt.datetime) -> WindowParts:
    return split(start, end)
