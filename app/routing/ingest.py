"""Routing metrics and feedback on the group-commit writer (`app/writer.py`): how a batch
of requests is inserted and what each answers.

A metrics request (one metric or up to 1000) is one row of the writer: all its metrics go
in the writer's transaction together, so it is stored all or nothing and acknowledged only
once committed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import status

from app.routing import service
from app.routing.schemas import RoutingFeedbackIn
from app.schemas import USD_DECIMALS, iso_z
from app.writer import RowKind, render_json


def _metric_user_ids(batch: service.MetricBatch) -> Iterable[int]:
    return {m.user_id for m in batch.unique if m.user_id is not None}


def _metrics_status(stored: Sequence[service.StoredMetricRow]) -> int:
    # As cache entries do: 200 when the request was a pure re-send, creating nothing.
    return status.HTTP_201_CREATED if any(s.created for s in stored) else status.HTTP_200_OK


def _render_metrics(stored: Sequence[service.StoredMetricRow]) -> bytes:
    """`RoutingMetricsStored` as FastAPI would render it, in one `json.dumps` (building
    1000 response models and validating them again cost more than the INSERT)."""
    ids = [str(s.id) for s in stored]
    items = [
        {
            "id": i,
            "request_id": s.request_id,
            "created": s.created,
            "cost_savings": None if s.cost_savings is None else round(s.cost_savings, USD_DECIMALS),
            "savings_percentage": s.savings_percentage,
        }
        for i, s in zip(ids, stored, strict=True)
    ]
    return render_json({"ids": ids, "items": items})


METRICS: RowKind[service.MetricBatch, list[service.StoredMetricRow]] = RowKind(
    name="routing_metrics",
    insert=service.record_metric_batches,
    render=_render_metrics,
    status_of=_metrics_status,
    user_ids=_metric_user_ids,
)


def _feedback_user_ids(payload: RoutingFeedbackIn) -> Iterable[int]:
    return () if payload.user_id is None else (payload.user_id,)


def _render_feedback(row: Any) -> bytes:
    return render_json(
        {"id": str(row.id), "request_id": row.request_id, "created_at": iso_z(row.created_at)}
    )


FEEDBACK: RowKind[RoutingFeedbackIn, Any] = RowKind(
    name="routing_feedback",
    insert=service.record_feedbacks,
    render=_render_feedback,
    user_ids=_feedback_user_ids,
)
