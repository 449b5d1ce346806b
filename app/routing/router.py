"""HTTP routes of the routing domain: metrics, feedback, analytics, recommendations, regret."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.analytics import histogram
from app.auth.dependencies import Admin, IngestOrAdmin
from app.db import SessionDep
from app.idempotency.dependencies import Idempotent
from app.query_params import TimeWindowDep
from app.routing import scoring
from app.routing import service as routing_service
from app.routing.schemas import (
    GroupBy,
    Pattern,
    Recommendations,
    RecommendedCandidate,
    RoutingAnalytics,
    RoutingFeedbackIn,
    RoutingFeedbackStored,
    RoutingMetricsBody,
    RoutingMetricsStored,
    RoutingRegret,
    StoredMetric,
)
from app.transaction import TransactionalRoute

router = APIRouter(tags=["routing"], route_class=TransactionalRoute)

ESTIMATE_DESCRIPTION = f"""

Per candidate (provider, model) in the scope, from its `n` feedback quality scores with
mean `x̄` and population variance `s²`, and the scope's mean `μ0` over all its feedback
(0.5 when it has none):

* `expected_quality = (k·μ0 + n·x̄) / (k + n)`
* `quality_lower_bound = clamp(expected_quality - z·sqrt((k·v0 + n·s²) / (k + n)²), 0, 1)`

with `k = {scoring.PRIOR_WEIGHT:g}`, `v0 = {scoring.PRIOR_VARIANCE:g}` and
`z = {scoring.Z_ONE_SIDED_95}` (one-sided 95 %). Complexity bands: `low` < {scoring.LOW_MAX},
`medium` < {scoring.MEDIUM_MAX}, `high` otherwise.
"""


@router.post(
    "/routing/metrics",
    status_code=status.HTTP_201_CREATED,
    response_model=RoutingMetricsStored,
    description=(
        'Store one routing metric, or `{"items": [...]}` with up to 1000, all or nothing '
        "(a 422 names the bad item's index, e.g. `items.3.confidence`). Re-sending a stored "
        "`request_id` with an identical body (omitted fields compared as their defaults) "
        "returns its id again without a duplicate; with a different body → 409 naming the "
        "request_id, and nothing of the batch is stored. The same request_id twice in one "
        "batch with different bodies → 422. `cost_savings` and `savings_percentage` are "
        "computed by the database and returned; sending them → 422. 201 when the request "
        "created at least one metric; 200 when every item was already stored."
    ),
    dependencies=[Idempotent],
    responses={
        status.HTTP_200_OK: {
            "model": RoutingMetricsStored,
            "description": "Every item was already stored (a re-send): nothing created.",
        }
    },
)
async def record_metrics(
    payload: RoutingMetricsBody, principal: IngestOrAdmin, session: SessionDep, response: Response
) -> RoutingMetricsStored:
    """Store routing metrics from the gateway (one object or a batch)."""
    stored = await routing_service.record_metrics(session, payload.metrics)
    if not any(s.created for s in stored):
        response.status_code = status.HTTP_200_OK  # as cache entries do on a re-send
    return RoutingMetricsStored(
        ids=[s.id for s in stored],
        items=[
            StoredMetric(
                id=s.id,
                request_id=s.request_id,
                created=s.created,
                cost_savings=s.cost_savings,
                savings_percentage=s.savings_percentage,
            )
            for s in stored
        ],
    )


@router.post(
    "/routing/feedback",
    status_code=status.HTTP_201_CREATED,
    response_model=RoutingFeedbackStored,
    dependencies=[Idempotent],
    responses={404: {"description": "No routing metric with that `request_id`."}},
)
async def record_feedback(
    payload: RoutingFeedbackIn, principal: IngestOrAdmin, session: SessionDep
) -> RoutingFeedbackStored:
    """Record feedback on a routing decision; 404 when its request_id is not stored."""
    row = await routing_service.record_feedback(session, payload)
    return RoutingFeedbackStored(id=row.id, request_id=row.request_id, created_at=row.created_at)


@router.get(
    "/analytics/routing",
    status_code=status.HTTP_200_OK,
    response_model=RoutingAnalytics,
    description=(
        "Metrics created in `[from, to)` grouped by provider, model (with its provider) or "
        "pattern, busiest first. Feedback counts for those requests whatever its own date; "
        "`avg_quality` is the mean over feedback rows, `correct_rate`/`helpful_rate` the "
        "share of `true` among non-null answers, `total_savings` the sum of known "
        "`cost_savings`. `latency_p50_ms`/`latency_p95_ms` are nearest-rank percentiles "
        "of the reported latencies from a log-spaced histogram, within "
        f"{histogram.RELATIVE_ERROR:.0%} of the exact value (latencies under 1 ms report 0). "
        "Window defaults: `to` = now, `from` = `to` minus 30 days. Served from rollups "
        "kept by database triggers: the cost depends on the window's buckets, not its rows."
    ),
)
async def routing_analytics(
    principal: Admin,
    session: SessionDep,
    window: TimeWindowDep,
    group_by: Annotated[GroupBy, Query(description="Grouping key.")] = GroupBy.provider,
) -> RoutingAnalytics:
    """Routing quality, cost and latency per provider, model or pattern."""
    groups = await routing_service.routing_analytics(session, window=window, group_by=group_by)
    return RoutingAnalytics(groups=groups)


@router.get(
    "/routing/recommendations",
    status_code=status.HTTP_200_OK,
    response_model=Recommendations,
    description=(
        "Candidates that served `pattern` (and, with `complexity`, requests in the same "
        "complexity band), best first: by `quality_lower_bound` desc, then `avg_cost` asc, "
        "then samples desc. Candidates without feedback are listed with the prior alone."
        + ESTIMATE_DESCRIPTION
    ),
)
async def routing_recommendations(
    principal: IngestOrAdmin,
    session: SessionDep,
    pattern: Annotated[Pattern, Query(description="The detected prompt pattern.")],
    complexity: Annotated[
        float | None, Query(ge=0, le=1, allow_inf_nan=False, description="Complexity score.")
    ] = None,
    days: Annotated[
        int, Query(ge=1, le=3650, description="Only requests of the last `days` days.")
    ] = 90,
) -> Recommendations:
    """Rank providers/models for a pattern by a conservative quality estimate, then cost."""
    band = None if complexity is None else scoring.complexity_band(complexity)
    prior, ranked = await routing_service.recommend(session, pattern=pattern, band=band, days=days)
    return Recommendations(
        pattern=pattern,
        complexity_band=band,
        global_mean_quality=prior,
        candidates=[
            RecommendedCandidate(
                provider=s.candidate.provider,
                model=s.candidate.model,
                samples=s.candidate.stats.n,
                requests=s.candidate.requests,
                expected_quality=s.estimate.expected,
                quality_lower_bound=s.estimate.lower_bound,
                avg_cost=s.candidate.avg_cost,
            )
            for s in ranked
        ],
    )


@router.get(
    "/analytics/routing/regret",
    status_code=status.HTTP_200_OK,
    response_model=RoutingRegret,
    description=(
        "For each pattern and complexity band (metrics in `[from, to)` that have both): a "
        "candidate with at least `min_samples` feedback is *dominated* when another "
        "candidate, also with at least `min_samples`, has a strictly lower average "
        "`actual_cost` and a `quality_lower_bound` at least as high. Every request routed "
        "to a dominated candidate is regretted; its extra cost is the difference in "
        "average cost to the cheapest dominating candidate (`extra_cost` = requests * that "
        "difference). `regret_rate` = regretted requests / all requests in the scope. "
        "Candidates below `min_samples` are neither dominated nor dominating."
        + ESTIMATE_DESCRIPTION
    ),
)
async def routing_regret(
    principal: Admin,
    session: SessionDep,
    window: TimeWindowDep,
    min_samples: Annotated[
        int, Query(ge=1, le=1_000_000, description="Feedback needed to judge a candidate.")
    ] = 10,
) -> RoutingRegret:
    """How often the router chose a costlier model than an at-least-as-good cheaper one."""
    return await routing_service.routing_regret(session, window=window, min_samples=min_samples)
