"""Routing metrics and feedback: batch ingestion, feedback, analytics, recommendations, regret."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from app.analytics import histogram
from app.analytics import queries as analytics_queries
from app.errors import Conflict, NotFound, UnprocessableEntity
from app.query_params import TimeWindow
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


class StoredMetricRow(NamedTuple):  # a tuple: a batch builds a thousand of them
    id: uuid.UUID
    request_id: str
    created: bool
    cost_savings: float | None
    savings_percentage: float | None


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


_DIALECT = pg.dialect()  # type: ignore[no-untyped-call]


def _array_type(column: sa.Column[Any]) -> str:
    # Enums travel as text[] and are cast per element in the SELECT below; strings and
    # numerics without their length/scale, so the INSERT's own assignment checks them
    # (an explicit cast to varchar(n) would truncate silently).
    if isinstance(column.type, sa.Enum | sa.String):
        return "text[]"
    if isinstance(column.type, sa.Numeric) and not isinstance(column.type, sa.Float):
        return "numeric[]"
    return f"{column.type.compile(dialect=_DIALECT)}[]"


def _select_column(name: str) -> str:
    column = metrics_table.c[name]
    if isinstance(column.type, sa.Enum):
        return f"CAST(batch.{name} AS {column.type.name})"
    return f"batch.{name}"


# `INSERT ... SELECT FROM unnest(<one array per column>) ON CONFLICT DO NOTHING`: any number
# of metrics in one statement with one parameter per column, so it is prepared once per
# connection. Written as driver SQL: the arrays go to asyncpg as they are (its C encoders),
# not through SQLAlchemy's per-element bind processing of 21 x 1000 values.
_INSERT_METRICS_SQL = (
    f"INSERT INTO {metrics_table.name} ({', '.join(METRIC_COLUMNS)}) "  # noqa: S608 (names, no values)
    f"SELECT {', '.join(_select_column(name) for name in METRIC_COLUMNS)} "
    "FROM unnest("
    + ", ".join(
        f"${i}::{_array_type(metrics_table.c[name])}"
        for i, name in enumerate(METRIC_COLUMNS, start=1)
    )
    + f") AS batch({', '.join(METRIC_COLUMNS)}) "
    "ON CONFLICT (request_id) DO NOTHING "
    # float8 here: asyncpg decodes it natively, where NUMERIC becomes a Decimal per value.
    "RETURNING id, request_id, CAST(cost_savings AS float8), CAST(savings_percentage AS float8)"
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


class MetricBatch(NamedTuple):
    """One request's metrics as sent, and their unique ones (identical repeats dropped)."""

    metrics: Sequence[RoutingMetricIn]
    unique: list[RoutingMetricIn]


def prepare_batch(metrics: Sequence[RoutingMetricIn]) -> MetricBatch:
    """Refuse (422) a batch naming one request_id twice with different bodies; done
    before the batch is queued for writing."""
    return MetricBatch(metrics, _dedupe(metrics))


def _differences(stored: sa.Row[Any], metric: RoutingMetricIn) -> list[str]:
    wanted = metric.model_dump()
    return [name for name in METRIC_COLUMNS if getattr(stored, name) != wanted[name]]


def _stored(row: Any, *, created: bool) -> StoredMetricRow:
    return StoredMetricRow(
        id=row.id,
        request_id=row.request_id,
        created=created,
        cost_savings=_float(row.cost_savings),
        savings_percentage=_float(row.savings_percentage),
    )


async def record_metrics(
    session: AsyncSession, metrics: Sequence[RoutingMetricIn]
) -> list[StoredMetricRow]:
    """Store a batch all or nothing (see `record_metric_batches`)."""
    return (await record_metric_batches(session, [prepare_batch(metrics)]))[0]


async def record_metric_batches(
    session: AsyncSession, batches: Sequence[MetricBatch]
) -> list[list[StoredMetricRow]]:
    """Store several requests' batches in one INSERT, each all or nothing; results per
    batch in item order. Identical re-sends return the stored ids; a request_id stored
    (or sent by an earlier batch of this call) with a different body raises
    `RequestIdConflict` (the group-commit writer then writes each batch alone, so only
    the conflicting request fails)."""
    uniques = [batch.unique for batch in batches]
    # The first batch naming a request_id writes it; a later one is a re-send of it.
    owner: dict[str, tuple[int, RoutingMetricIn]] = {}
    for index, unique in enumerate(uniques):
        for metric in unique:
            owner.setdefault(metric.request_id, (index, metric))
    await users_service.register_users(
        session, {m.user_id for _, m in owner.values() if m.user_id is not None}
    )
    # Rows go in request_id order, so two batches sharing request_ids wait for each other
    # on the unique index in the same order instead of deadlocking.
    ordered = [owner[rid][1].__dict__ for rid in sorted(owner)]
    columns = tuple([row[name] for row in ordered] for name in METRIC_COLUMNS)
    connection = await session.connection()
    inserted: sa.CursorResult[
        uuid.UUID, str, float | None, float | None
    ] = await connection.exec_driver_sql(_INSERT_METRICS_SQL, columns)
    created = {r[1]: StoredMetricRow(r[0], r[1], True, r[2], r[3]) for r in inserted}
    existing: dict[str, Any] = {}
    missing = [rid for rid in owner if rid not in created]
    if missing:
        ids_param = sa.cast(
            sa.bindparam("request_ids", missing, type_=pg.ARRAY(sa.Text)), pg.ARRAY(sa.Text)
        )
        rows = await session.execute(
            sa.select(metrics_table).where(metrics_table.c.request_id == sa.any_(ids_param))
        )
        existing = {row.request_id: row for row in rows}
    vanished = sorted(set(missing) - existing.keys())
    if vanished:
        # Deleted (e.g. by the retention purge) between our INSERT and SELECT: retryable.
        raise RequestIdVanished(f"request_id {', '.join(vanished)} was deleted meanwhile; retry.")
    results: list[list[StoredMetricRow]] = []
    for index, (metrics, unique) in enumerate(batches):
        conflicts: dict[str, list[str]] = {}
        stored: dict[str, StoredMetricRow] = {}
        for metric in unique:
            rid = metric.request_id
            made = created.get(rid)
            if made is not None:
                first_index, first = owner[rid]
                if first_index != index:  # another request of this batch created it
                    if first != metric:
                        conflicts[rid] = [
                            n for n in METRIC_COLUMNS if first.__dict__[n] != metric.__dict__[n]
                        ]
                    made = made._replace(created=False)
                stored[rid] = made
            else:
                row = existing[rid]
                differing = _differences(row, metric)
                if differing:
                    conflicts[rid] = differing
                stored[rid] = _stored(row, created=False)
        if conflicts:
            raise RequestIdConflict(dict(sorted(conflicts.items())))
        results.append([stored[m.request_id] for m in metrics])
    return results


async def record_feedback(session: AsyncSession, payload: RoutingFeedbackIn) -> sa.Row[Any]:
    """Store feedback on a stored metric (404 otherwise): see `record_feedbacks`."""
    return (await record_feedbacks(session, [payload]))[0]


# Many feedback rows in one statement (one JSON parameter whatever their number). Each row
# is selected from its metric, so a dangling request_id can never be written: a row that
# comes back missing names an unknown request_id. The ids are made by the caller so each
# payload finds its own row.
_INSERT_FEEDBACK_SQL = sa.text("""
INSERT INTO routing_feedback (id, request_id, quality_score, is_correct, is_helpful, comment,
                              user_id, session_id)
SELECT r.id, m.request_id, r.quality_score, r.is_correct, r.is_helpful, r.comment,
       r.user_id, r.session_id
FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
    id uuid, request_id text, quality_score double precision, is_correct boolean,
    is_helpful boolean, comment text, user_id bigint, session_id text)
JOIN routing_metrics AS m ON m.request_id = r.request_id
RETURNING id, request_id, created_at
""")


async def record_feedbacks(
    session: AsyncSession, payloads: Sequence[RoutingFeedbackIn]
) -> list[sa.Row[Any]]:
    """Store feedback on stored metrics in one statement, results in order; an unknown
    request_id raises `UnknownRequestId` (404) for the whole call."""
    await users_service.register_users(
        session, (p.user_id for p in payloads if p.user_id is not None)
    )
    ids = [uuid.uuid4() for _ in payloads]
    rows = [
        {"id": str(feedback_id), **payload.model_dump()}
        for feedback_id, payload in zip(ids, payloads, strict=True)
    ]
    result = await session.execute(_INSERT_FEEDBACK_SQL, {"rows": json.dumps(rows)})
    written = {row.id: row for row in result}
    for feedback_id, payload in zip(ids, payloads, strict=True):
        if feedback_id not in written:
            raise UnknownRequestId(f"No routing metric with request_id {payload.request_id!r}.")
    return [written[feedback_id] for feedback_id in ids]


# --- reading -------------------------------------------------------------------------


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
    """Per pattern and complexity band: dominated choices (see `scoring.regret`), from the
    routing rollups, so the cost follows the window's buckets, not its rows."""
    if window.end <= window.start:
        return []
    parts = analytics_queries.window_parts(window.start, window.end)
    await analytics_queries.plan_per_window(session)
    stmt = analytics_queries.regret_statement(parts)
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
