"""GET /api/v1/routing/recommendations against hand-computed estimates (k=5, v0=.25, z=1.645)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.routing.conftest import metric, post_feedback, post_metrics

RECOMMENDATIONS = "/api/v1/routing/recommendations"


@pytest.fixture
async def dataset(client: httpx.AsyncClient, ingest_headers: dict[str, str]) -> None:
    mini = {"pattern_detected": "tax", "actual_cost": 0.001}
    claude = {
        "selected_provider": "anthropic",
        "selected_model": "claude",
        "pattern_detected": "tax",
    }
    await post_metrics(
        client,
        ingest_headers,
        [
            metric("r1", complexity_score=0.1, **mini),
            metric("r2", complexity_score=0.2, **mini),
            metric("r3", complexity_score=0.5, **mini),
            metric("r4", complexity_score=0.8, **mini),
            metric("c1", complexity_score=0.2, actual_cost=0.004, **claude),
            metric("c2", complexity_score=0.9, actual_cost=0.006, **claude),
            metric("g1", selected_model="gpt-4o", pattern_detected="tax", actual_cost=0.01),
            metric("l1", selected_provider="local", selected_model="llama",
                   pattern_detected="law", complexity_score=0.1),
        ],
    )  # fmt: skip
    for request_id, quality in [("r1", 1.0), ("r2", 0.5), ("r3", 0.5), ("r4", 1.0), ("c1", 0.0),
                                ("l1", 1.0)]:  # fmt: skip
        await post_feedback(client, ingest_headers, request_id, quality_score=quality)


def candidate(
    provider: str, model: str, samples: int, requests: int, expected: float, bound: float,
    cost: float,
) -> dict[str, Any]:  # fmt: skip
    return {
        "provider": provider,
        "model": model,
        "samples": samples,
        "requests": requests,
        "expected_quality": pytest.approx(expected, abs=1e-6),
        "quality_lower_bound": pytest.approx(bound, abs=1e-6),
        "avg_cost": pytest.approx(cost),
    }


@pytest.mark.usefixtures("dataset")
async def test_recommendations_for_a_pattern(
    client: httpx.AsyncClient, ingest_headers: dict[str, str]
) -> None:
    response = await client.get(RECOMMENDATIONS, params={"pattern": "tax"}, headers=ingest_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    # μ0 = (1 + .5 + .5 + 1 + 0) / 5 = .6
    # mini: n 4, mean .75, var .0625: E = (3 + 3)/9, LB = E - 1.645·sqrt((1.25 + .25)/9²)
    # gpt-4o: no feedback: E = .6, LB = .6 - 1.645·sqrt(.25/5)
    # claude: n 1 at 0: E = 3/6, LB = .5 - 1.645·sqrt(1.25/6²); llama serves another pattern
    assert body["pattern"] == "tax"
    assert body["complexity_band"] is None
    assert body["global_mean_quality"] == pytest.approx(0.6)
    assert body["candidates"] == [
        candidate("openai", "gpt-4o-mini", 4, 4, 0.666667, 0.442811, 0.001),
        candidate("openai", "gpt-4o", 0, 1, 0.6, 0.232167, 0.01),
        candidate("anthropic", "claude", 1, 2, 0.5, 0.193472, 0.005),
    ]


@pytest.mark.usefixtures("dataset")
async def test_recommendations_within_a_complexity_band(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get(
        RECOMMENDATIONS, params={"pattern": "tax", "complexity": 0.25}, headers=admin_headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    # low band (< .33): r1, r2, c1; gpt-4o has no complexity score. μ0 = 1.5/3 = .5
    # mini: n 2 (1, .5): E = (2.5 + 1.5)/7, LB = E - 1.645·sqrt((1.25 + .125)/7²)
    # claude: n 1 at 0: E = 2.5/6, LB = E - 1.645·sqrt(1.25/6²)
    assert body["complexity_band"] == "low"
    assert body["global_mean_quality"] == pytest.approx(0.5)
    assert body["candidates"] == [
        candidate("openai", "gpt-4o-mini", 2, 2, 0.571429, 0.295867, 0.001),
        candidate("anthropic", "claude", 1, 1, 0.416667, 0.110139, 0.004),
    ]
    high = await client.get(
        RECOMMENDATIONS, params={"pattern": "tax", "complexity": 1}, headers=admin_headers
    )
    assert [(c["model"], c["samples"]) for c in high.json()["candidates"]] == [
        ("gpt-4o-mini", 1),  # r4 at 1.0
        ("claude", 0),  # c2, no feedback
    ]


async def test_unknown_pattern_has_no_candidates(
    client: httpx.AsyncClient, ingest_headers: dict[str, str]
) -> None:
    response = await client.get(RECOMMENDATIONS, params={"pattern": "none"}, headers=ingest_headers)
    assert response.status_code == 200
    assert response.json()["candidates"] == []
    assert response.json()["global_mean_quality"] == 0.5


async def test_recommendations_errors(
    client: httpx.AsyncClient,
    ingest_headers: dict[str, str],
    conversation_token_headers: dict[str, str],
) -> None:
    assert (await client.get(RECOMMENDATIONS, params={"pattern": "tax"})).status_code == 401
    forbidden = await client.get(
        RECOMMENDATIONS, params={"pattern": "tax"}, headers=conversation_token_headers
    )
    assert forbidden.status_code == 403
    cases: list[tuple[dict[str, str | float], str]] = [
        ({}, "pattern"),
        ({"pattern": ""}, "pattern"),
        ({"pattern": "tax", "complexity": 1.5}, "complexity"),
        ({"pattern": "tax", "complexity": "nan"}, "complexity"),
    ]
    for params, field in cases:
        response = await client.get(RECOMMENDATIONS, params=params, headers=ingest_headers)
        assert response.status_code == 422, params
        assert [e["field"] for e in response.json()["errors"]] == [field]
