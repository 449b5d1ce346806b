"""GET /api/v1/analytics/routing against a hand-computed dataset."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics.histogram import RELATIVE_ERROR
from tests.routing.conftest import metric, post_feedback, post_metrics

ANALYTICS = "/api/v1/analytics/routing"


@pytest.fixture
async def dataset(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], db: AsyncSession
) -> None:
    """Six metrics, five feedbacks (two on m1: the row-multiplication trap)."""
    await post_metrics(
        client,
        ingest_headers,
        [
            metric("m1", pattern_detected="tax", actual_cost=0.001, baseline_cost=0.010,
                   latency_ms=100),
            metric("m2", pattern_detected="tax", actual_cost=0.003, baseline_cost=0.010,
                   latency_ms=200),
            metric("m3", selected_model="gpt-4o", pattern_detected="law", actual_cost=0.010,
                   latency_ms=300),
            metric("m4", selected_provider="anthropic", selected_model="claude-haiku",
                   pattern_detected="tax", actual_cost=0.002, baseline_cost=0.002,
                   latency_ms=400),
            metric("m5", selected_provider="anthropic", selected_model="claude-haiku",
                   actual_cost=0.004),
            metric("m6", selected_provider="local", pattern_detected="law", actual_cost=0,
                   baseline_cost=0.005, latency_ms=50),
        ],
    )  # fmt: skip
    await post_feedback(client, ingest_headers, "m1", quality_score=1.0, is_correct=True,
                        is_helpful=True)  # fmt: skip
    await post_feedback(client, ingest_headers, "m1", quality_score=0.5, is_correct=False)
    await post_feedback(client, ingest_headers, "m2", quality_score=0.0, is_correct=False,
                        is_helpful=False)  # fmt: skip
    await post_feedback(client, ingest_headers, "m3", quality_score=0.9, is_correct=True,
                        is_helpful=True)  # fmt: skip
    await post_feedback(client, ingest_headers, "m4", quality_score=0.6, is_helpful=True)


def group(
    key: str | None,
    requests: int,
    feedback_count: int,
    avg_quality: float | None,
    correct_rate: float | None,
    helpful_rate: float | None,
    avg_cost: float,
    total_savings: float | None,
    p50: float | None,
    p95: float | None,
    provider: str | None = None,
) -> dict[str, Any]:
    approx = pytest.approx
    return {
        "key": key,
        "provider": provider,
        "requests": requests,
        "feedback_count": feedback_count,
        "avg_quality": None if avg_quality is None else approx(avg_quality),
        "correct_rate": None if correct_rate is None else approx(correct_rate),
        "helpful_rate": None if helpful_rate is None else approx(helpful_rate),
        # Responses round money to 6 decimals and milliseconds to 0.1; percentiles come
        # from the log-spaced histogram: the nearest-rank value within its relative error.
        "avg_cost": approx(round(avg_cost, 6), abs=1e-12),
        "total_savings": None if total_savings is None else approx(round(total_savings, 6)),
        "latency_p50_ms": None if p50 is None else approx(round(p50, 1), rel=RELATIVE_ERROR),
        "latency_p95_ms": None if p95 is None else approx(round(p95, 1), rel=RELATIVE_ERROR),
    }


async def analytics(client: httpx.AsyncClient, headers: dict[str, str], **params: str) -> Any:
    response = await client.get(ANALYTICS, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["groups"]


@pytest.mark.usefixtures("dataset")
async def test_group_by_provider(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    # openai: m1 m2 m3; quality (1 + .5 + 0 + .9)/4; correct T F F T; helpful T - F T;
    # cost (.001+.003+.010)/3; savings .009+.007 (m3 has no baseline);
    # latency [100,200,300]: nearest rank p50 = 2nd = 200, p95 = 3rd = 300.
    # Joining feedback row by row would give 4 requests and cost .00375: it must not.
    assert await analytics(client, admin_headers, group_by="provider") == [
        group("openai", 3, 4, 0.6, 0.5, 2 / 3, 0.014 / 3, 0.016, 200, 300),
        group("anthropic", 2, 1, 0.6, None, 1.0, 0.003, 0.0, 400, 400),
        group("local", 1, 0, None, None, None, 0.0, 0.005, 50, 50),
    ]
    # provider is the default grouping
    assert await analytics(client, admin_headers) == await analytics(
        client, admin_headers, group_by="provider"
    )


@pytest.mark.usefixtures("dataset")
async def test_group_by_model_keeps_providers_apart(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    assert await analytics(client, admin_headers, group_by="model") == [
        group("claude-haiku", 2, 1, 0.6, None, 1.0, 0.003, 0.0, 400, 400, provider="anthropic"),
        group("gpt-4o-mini", 2, 3, 0.5, 1 / 3, 0.5, 0.002, 0.016, 100, 200, provider="openai"),
        group("gpt-4o", 1, 1, 0.9, 1.0, 1.0, 0.010, None, 300, 300, provider="openai"),
        group("gpt-4o-mini", 1, 0, None, None, None, 0.0, 0.005, 50, 50, provider="local"),
    ]


@pytest.mark.usefixtures("dataset")
async def test_group_by_pattern(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    # tax: m1 m2 m4, latency [100,200,400] → p50 200, p95 400; law: [50,300] → p50 50,
    # p95 300; m5 has no pattern and no latency.
    assert await analytics(client, admin_headers, group_by="pattern") == [
        group("tax", 3, 4, 0.525, 1 / 3, 2 / 3, 0.002, 0.016, 200, 400),
        group("law", 2, 1, 0.9, 1.0, 1.0, 0.005, 0.005, 50, 300),
        group(None, 1, 0, None, None, None, 0.004, None, None, None),
    ]


@pytest.mark.usefixtures("dataset")
async def test_time_window(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    await db.execute(
        text(
            "UPDATE routing_metrics SET created_at = '2020-06-01T00:00:00Z' WHERE request_id = 'm3'"
        )
    )
    recent = await analytics(client, admin_headers, **{"from": "2021-01-01T00:00:00Z"})
    assert recent == [  # equal request counts: by key
        group("anthropic", 2, 1, 0.6, None, 1.0, 0.003, 0.0, 400, 400),
        group("openai", 2, 3, 0.5, 1 / 3, 0.5, 0.002, 0.016, 100, 200),
        group("local", 1, 0, None, None, None, 0.0, 0.005, 50, 50),
    ]
    # `from` defaults to `to` minus 30 days: m3 (June 2020) is outside a bare `to` of 2021.
    assert await analytics(client, admin_headers, to="2021-01-01T00:00:00+00:00") == []
    old = await analytics(
        client, admin_headers, **{"from": "2020-05-15T00:00:00Z", "to": "2020-06-15T00:00:00Z"}
    )
    assert old == [group("openai", 1, 1, 0.9, 1.0, 1.0, 0.010, None, 300, 300)]
    empty = await analytics(
        client, admin_headers, **{"from": "2019-01-01T00:00:00Z", "to": "2019-02-01T00:00:00Z"}
    )
    assert empty == []


async def test_analytics_errors(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    ingest_headers: dict[str, str],
) -> None:
    assert (await client.get(ANALYTICS)).status_code == 401
    assert (await client.get(ANALYTICS, headers=ingest_headers)).status_code == 403
    bad = await client.get(ANALYTICS, params={"group_by": "color"}, headers=admin_headers)
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["group_by"]
    naive = await client.get(
        ANALYTICS, params={"from": "2026-01-01T00:00:00"}, headers=admin_headers
    )
    assert naive.status_code == 422
    backwards = await client.get(
        ANALYTICS,
        params={"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        headers=admin_headers,
    )
    assert backwards.status_code == 422
