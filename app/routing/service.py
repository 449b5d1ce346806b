"""Routing metrics and feedback: batch ingestion, feedback, analytics, recommendations, regret."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from app.analytics import histogram
from app.analytics import queries as analytics_queries
from app.errors import Conflict, NotFound, UnprocessableEntity
from app.query_params import TimeWindow, window_conditions
from app.routing import scoring
from app.routing.models import RoutingFeedback, RoutingMetric
from app.routing.schemas import (
    GroupBy,
    RegretAlternative,
    RegretItem,
    RegretScope,
    RoutingFeedbackIn,
    RoutingGroup,
    RoutingMetricIn,
    RoutingRegret,
)
from app.routing.scoring import ComplexityBand
from app.users import service as users_service

metrics_table: sa.Table = SQLModel.metadata.tables[RoutingMetric.__tablename__]
feedback_table: sa.Table = SQLModel.metadata.tables[RoutingFeedback.__tablename__]

# Every client-supplied column, in the order of the request model.
METRIC_COLUMNS: tuple[str, ...] = tuple(RoutingMetricIn.model_fields)


class UnknownRequestId(NotFound): ...


class RequestIdVanished(Conflict):
    """A stored request_id disappeared between our INSERT and SELECT."""


class RequestIdConflict(Conflict):
    """request_ids already stored with a different body.

    The problem names only the caller's own request_ids, never which fields differ: the
    stored body may be another caller's, and field names would leak its contents."""

    def __init__(self, differences: dict[str, list[str]]):
        self.differences = differences
        described = ", ".join(repr(rid) for rid in differences)
        super().__init__(
            f"request_id already stored with a different body: {described}. "
            "The body differs from the stored one."
        )

    def extra(self) -> dict[str, Any]:
        return {"request_ids": list(self.differences)}


@dataclass(frozen=True)
class StoredMetricRow:
    id: uuid.UUID
    request_id: str
    created: bool
    cost_savings: float | None
    savings_percentage: float | None


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _array(name: str, column: sa.Column[Any], values: list[Any]) -> sa.Cast[Any]:
    # Enums travel as text[] and are cast per element in the SELECT below.
    element = sa.Text() if isinstance(column.type, sa.Enum) else column.type
    return sa.cast(sa.bindparam(name, values, type_=pg.ARRAY(element)), pg.ARRAY(element))


def _insert_metrics_statement(metrics: Sequence[RoutingMetricIn]) -> sa.Insert:
    """`INSERT ... SELECT FROM unnest(<one array per column>) ON CONFLICT DO NOTHING`: the
    whole batch in one statement with a constant number of parameters."""
    dumped = [m.model_dump() for m in metrics]
    arrays = [
        _array(f"p_{name}", metrics_table.c[name], [d[name] for d in dumped])
        for name in METRIC_COLUMNS
    ]
    rows = sa.func.unnest(*arrays).table_valued(*METRIC_COLUMNS).render_derived(name="batch")
    selected = [
        sa.cast(rows.c[name], metrics_table.c[name].type)
        if isinstance(metrics_table.c[name].type, sa.Enum)
        else rows.c[name]
        for name in METRIC_COLUMNS
    ]
    return (
        pg.insert(metrics_table)
        .from_select(list(METRIC_COLUMNS), sa.select(*selected))
        .on_conflict_do_nothing(index_elements=[metrics_table.c.request_id])
        .returning(
            metrics_table.c.id,
            metrics_table.c.request_id,
            metrics_table.c.cost_savings,
            metrics_table.c.savings_percentage,
        )
    )


def _dedupe(metrics: Sequence[RoutingMetricIn]) -> list[RoutingMetricIn]:
    """Drop identical repeats of a request_id inside one batch; different bodies → 422."""
    first: dict[str, tuple[int, RoutingMetricIn]] = {}
    unique: list[RoutingMetricIn] = []
    for index, metric in enumerate(metrics):
        seen = first.get(metric.request_id)
        if seen is None:
            first[metric.request_id] = (index, metric)
            unique.append(metric)
        elif seen[1] != metric:
            raise UnprocessableEntity(
                f"request_id {metric.request_id!r} appears at items.{seen[0]} and "
                f"items.{index} with different bodies.",
                field=["items", index, "request_id"],
            )
    return unique


def _differences(stored: sa.Row[Any], metric: RoutingMetricIn) -> list[str]:
    wanted = metric.model_dump()
    return [name for name in METRIC_COLUMNS if getattr(stored, name) != wanted[name]]


async def record_metrics(
    session: AsyncSession, metrics: Sequence[RoutingMetricIn]
) -> list[StoredMetricRow]:
    """Store a batch all or nothing; identical re-sends return the stored ids, a request_id
    stored with a different body raises `RequestIdConflict` (the route rolls back)."""
    unique = _dedupe(metrics)
    await users_service.register_users(
        session, {m.user_id for m in unique if m.user_id is not None}
    )
    # Rows go in request_id order, so two batches sharing request_ids wait for each other
    # on the unique index in the same order instead of deadlocking.
    ordered = sorted(unique, key=lambda m: m.request_id)
    inserted = await session.execute(_insert_metrics_statement(ordered))
    stored: dict[str, StoredMetricRow] = {
        row.request_id: StoredMetricRow(
            id=row.id,
            request_id=row.request_id,
            created=True,
            cost_savings=_float(row.cost_savings),
            savings_percentage=_float(row.savings_percentage),
        )
        for row in inserted
    }
    existing = [m for m in unique if m.request_id not in stored]
    if existing:
        by_id = {m.request_id: m for m in existing}
        ids_param = sa.cast(
            sa.bindparam("request_ids", list(by_id), type_=pg.ARRAY(sa.Text)), pg.ARRAY(sa.Text)
        )
        rows = await session.execute(
            sa.select(metrics_table).where(metrics_table.c.request_id == sa.any_(ids_param))
        )
        conflicts: dict[str, list[str]] = {}
        for row in rows:
            differing = _differences(row, by_id[row.request_id])
            if differing:
                conflicts[row.request_id] = differing
            stored[row.request_id] = StoredMetricRow(
                id=row.id,
                request_id=row.request_id,
                created=False,
                cost_savings=_float(row.cost_savings),
                savings_percentage=_float(row.savings_percentage),
            )
        if conflicts:
            raise RequestIdConflict(dict(sorted(conflicts.items())))
    vanished = sorted({m.request_id for m in metrics} - stored.keys())
    if vanished:
        # Deleted (e.g. by the retention purge) between our INSERT and SELECT: retryable.
        raise RequestIdVanished(f"request_id {', '.join(vanished)} was deleted meanwhile; retry.")
    return [stored[m.request_id] for m in metrics]


async def record_feedback(session: AsyncSession, payload: RoutingFeedbackIn) -> sa.Row[Any]:
    """Store feedback on a stored metric (404 otherwise): one INSERT ... SELECT from the
    metric's row, so a dangling request_id can never be written."""
    await users_service.register_user(session, payload.user_id)
    m = metrics_table
    values = {
        "quality_score": sa.literal(payload.quality_score, sa.Float),
        "is_correct": sa.literal(payload.is_correct, sa.Boolean),
        "is_helpful": sa.literal(payload.is_helpful, sa.Boolean),
        "comment": sa.literal(payload.comment, sa.Text),
        "user_id": sa.literal(payload.user_id, sa.BigInteger),
        "session_id": sa.literal(payload.session_id, sa.String),
    }
    stmt = (
        pg.insert(feedback_table)
        .from_select(
            ["request_id", *values],
            sa.select(m.c.request_id, *values.values()).where(m.c.request_id == payload.request_id),
        )
        .returning(feedback_table.c.id, feedback_table.c.request_id, feedback_table.c.created_at)
    )
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        raise UnknownRequestId(f"No routing metric with request_id {payload.request_id!r}.")
    return row


# --- reading -------------------------------------------------------------------------


def _band_expression(score: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    return sa.case(
        (score < sa.literal(scoring.LOW_MAX, sa.Float), ComplexityBand.low.value),
        (score < sa.literal(scoring.MEDIUM_MAX, sa.Float), ComplexityBand.medium.value),
        else_=ComplexityBand.high.value,
    )


def _feedback_per_request(scoped: sa.CTE) -> sa.CTE:
    """Feedback aggregated to one row per request (only requests in `scoped`), so joining
    it to metrics never multiplies metric rows."""
    f = feedback_table
    return (
        sa.select(
            f.c.request_id,
            sa.func.count().label("n"),
            sa.func.sum(f.c.quality_score).label("q_sum"),
            sa.func.sum(f.c.quality_score * f.c.quality_score).label("q_sq"),
            sa.func.count().filter(f.c.is_correct.is_(True)).label("correct"),
            sa.func.count(f.c.is_correct).label("correct_n"),
            sa.func.count().filter(f.c.is_helpful.is_(True)).label("helpful"),
            sa.func.count(f.c.is_helpful).label("helpful_n"),
        )
        .join(scoped, scoped.c.request_id == f.c.request_id)
        .group_by(f.c.request_id)
        .cte("fb")
    )


def _ratio(numerator: Any, denominator: Any) -> sa.ColumnElement[Any]:
    return sa.cast(sa.func.sum(numerator), sa.Float) / sa.func.nullif(sa.func.sum(denominator), 0)


async def routing_analytics(
    session: AsyncSession, *, window: TimeWindow, group_by: GroupBy
) -> list[RoutingGroup]:
    """Per provider, model (with its provider) or pattern: traffic, feedback, cost, latency
    of the metrics created in the window (default: the last 30 days), from the rollups."""
    start, end = window.start, window.end
    if end <= start:
        return []
    parts = analytics_queries.window_parts(start, end)
    await analytics_queries.plan_per_window(session)
    rows = (await session.execute(analytics_queries.routing_statement(parts, group_by.value))).all()
    latencies: dict[tuple[Any, Any], dict[int, int]] = {}
    for row in await session.execute(analytics_queries.latency_statement(parts, group_by.value)):
        latencies.setdefault((row.key, row.provider), {})[int(row.bin)] = int(row.n)
    out = []
    for row in rows:
        counts = latencies.get((row.key, row.provider), {})
        out.append(
            RoutingGroup(
                key=row.key,
                provider=row.provider,
                requests=int(row.requests),
                feedback_count=int(row.feedback_count),
                avg_quality=_float(row.avg_quality),
                correct_rate=_float(row.correct_rate),
                helpful_rate=_float(row.helpful_rate),
                avg_cost=_float(row.avg_cost),
                total_savings=_float(row.total_savings),
                latency_p50_ms=histogram.percentile(counts, 0.5),
                latency_p95_ms=histogram.percentile(counts, 0.95),
            )
        )
    return out


def _candidate_columns(scoped: sa.CTE, fb: sa.CTE) -> list[sa.ColumnElement[Any]]:
    return [
        scoped.c.selected_provider.label("provider"),
        scoped.c.selected_model.label("model"),
        sa.func.count().label("requests"),
        sa.func.avg(scoped.c.actual_cost).label("avg_cost"),
        sa.func.coalesce(sa.func.sum(fb.c.n), 0).label("n"),
        sa.func.coalesce(sa.func.sum(fb.c.q_sum), 0.0).label("q_sum"),
        sa.func.coalesce(sa.func.sum(fb.c.q_sq), 0.0).label("q_sq"),
    ]


def _candidate(row: sa.Row[Any]) -> scoring.Candidate:
    return scoring.Candidate(
        provider=row.provider,
        model=row.model,
        requests=int(row.requests),
        avg_cost=_float(row.avg_cost),
        stats=scoring.QualityStats(int(row.n), float(row.q_sum), float(row.q_sq)),
    )


async def recommend(
    session: AsyncSession, *, pattern: str, band: ComplexityBand | None, days: int
) -> tuple[float, list[scoring.ScoredCandidate]]:
    """Candidates that served `pattern` (in `band`) in the last `days` days, ranked by
    `scoring.rank`. The window keeps the estimate current (models and prices change); the
    rollups keep the work bounded by the window's buckets."""
    end = dt.datetime.now(dt.UTC)
    parts = analytics_queries.window_parts(end - dt.timedelta(days=days), end)
    stmt = analytics_queries.recommendation_statement(
        parts, pattern=pattern, band=None if band is None else band.value
    )
    await analytics_queries.plan_per_window(session)
    candidates = [
        scoring.Candidate(
            provider=row.provider,
            model=row.model,
            requests=int(row.requests),
            avg_cost=_float(row.avg_cost),
            stats=scoring.QualityStats(int(row.n), float(row.q_sum), float(row.q_sq)),
        )
        for row in await session.execute(stmt)
    ]
    prior = scoring.global_mean([c.stats for c in candidates])
    return prior, scoring.rank(candidates)


@dataclass(frozen=True)
class ScopeRegret:
    pattern: str
    band: ComplexityBand
    requests: int
    regrets: list[scoring.Regret]


async def _regret_scopes(
    session: AsyncSession, *, window: TimeWindow, min_samples: int
) -> list[ScopeRegret]:
    """Per pattern and complexity band: dominated choices (see `scoring.regret`)."""
    m = metrics_table
    scoped = (
        sa.select(m, _band_expression(m.c.complexity_score).label("band"))
        .where(
            m.c.pattern_detected.is_not(None),
            m.c.complexity_score.is_not(None),
            *window_conditions(m.c.created_at, window.start, window.end),
        )
        .cte("scoped")
    )
    fb = _feedback_per_request(scoped)
    stmt = (
        sa.select(
            scoped.c.pattern_detected.label("pattern"),
            scoped.c.band,
            *_candidate_columns(scoped, fb),
        )
        .select_from(scoped.outerjoin(fb, fb.c.request_id == scoped.c.request_id))
        .group_by(
            scoped.c.pattern_detected,
            scoped.c.band,
            scoped.c.selected_provider,
            scoped.c.selected_model,
        )
        .order_by(scoped.c.pattern_detected, scoped.c.band)
    )
    scopes: dict[tuple[str, str], list[scoring.Candidate]] = {}
    for row in await session.execute(stmt):
        scopes.setdefault((row.pattern, row.band), []).append(_candidate(row))
    band_order = list(ComplexityBand)
    return [
        ScopeRegret(
            pattern=pattern,
            band=ComplexityBand(band),
            requests=sum(c.requests for c in candidates),
            regrets=scoring.regret(candidates, min_samples=min_samples),
        )
        for (pattern, band), candidates in sorted(
            scopes.items(), key=lambda kv: (kv[0][0], band_order.index(ComplexityBand(kv[0][1])))
        )
    ]


async def routing_regret(
    session: AsyncSession, *, window: TimeWindow, min_samples: int
) -> RoutingRegret:
    """Regretted requests and their extra cost, per scope and in total."""
    scopes = await _regret_scopes(session, window=window, min_samples=min_samples)
    out: list[RegretScope] = []
    for scope in scopes:
        items = [
            RegretItem(
                provider=r.chosen.candidate.provider,
                model=r.chosen.candidate.model,
                requests=r.chosen.candidate.requests,
                avg_cost=r.chosen.candidate.avg_cost or 0.0,
                quality_lower_bound=r.chosen.estimate.lower_bound,
                samples=r.chosen.candidate.stats.n,
                cheaper_alternative=RegretAlternative(
                    provider=r.alternative.candidate.provider,
                    model=r.alternative.candidate.model,
                    avg_cost=r.alternative.candidate.avg_cost or 0.0,
                    quality_lower_bound=r.alternative.estimate.lower_bound,
                    samples=r.alternative.candidate.stats.n,
                ),
                extra_cost_per_request=r.extra_cost_per_request,
                extra_cost=r.extra_cost,
            )
            for r in scope.regrets
        ]
        regretted = sum(i.requests for i in items)
        out.append(
            RegretScope(
                pattern=scope.pattern,
                complexity_band=scope.band,
                requests=scope.requests,
                regretted_requests=regretted,
                regret_rate=regretted / scope.requests if scope.requests else 0.0,
                extra_cost=sum(i.extra_cost for i in items),
                dominated=items,
            )
        )
    total = sum(s.requests for s in out)
    regretted_total = sum(s.regretted_requests for s in out)
    return RoutingRegret(
        min_samples=min_samples,
        requests=total,
        regretted_requests=regretted_total,
        regret_rate=regretted_total / total if total else None,
        extra_cost=sum(s.extra_cost for s in out),
        scopes=out,
    )
