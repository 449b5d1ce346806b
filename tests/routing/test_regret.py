"""GET /api/v1/analytics/routing/regret against a hand-computed dataset."""

from __future__ import annotations

import httpx
import pytest

from tests.routing.conftest import metric, post_feedback, post_metrics

REGRET = "/api/v1/analytics/routing/regret"


@pytest.fixture
async def dataset(client: httpx.AsyncClient, ingest_headers: dict[str, str]) -> None:
    dear = {"selected_model": "gpt-4o", "actual_cost": 0.010}
    cheap = {"selected_model": "gpt-4o-mini", "actual_cost": 0.002}
    free = {"selected_provider": "local", "selected_model": "llama", "actual_cost": 0}
    items = [
        # tax / low: gpt-4o 3x at .8, gpt-4o-mini 2x at .95, llama 1x at 1.0
        *[metric(f"a{i}", pattern_detected="tax", complexity_score=0.1, **dear) for i in range(3)],
        *[metric(f"b{i}", pattern_detected="tax", complexity_score=0.2, **cheap) for i in range(2)],
        metric("c0", pattern_detected="tax", complexity_score=0.3, **free),
        # tax / high: gpt-4o 2x at .9, gpt-4o-mini 2x at .2 (the cheap one is worse)
        *[metric(f"d{i}", pattern_detected="tax", complexity_score=0.9, **dear) for i in range(2)],
        *[metric(f"e{i}", pattern_detected="tax", complexity_score=0.8, **cheap) for i in range(2)],
        # law / medium: one candidate only
        metric("f0", pattern_detected="law", complexity_score=0.5, **dear),
        # outside every scope: no complexity, no pattern
        metric("g0", pattern_detected="tax", **dear),
        metric("h0", complexity_score=0.1, **dear),
    ]
    await post_metrics(client, ingest_headers, items)
    scores = {"a": 0.8, "b": 0.95, "c": 1.0, "d": 0.9, "e": 0.2, "f": 0.5, "g": 0.0, "h": 0.0}
    for item in items:
        rid = item["request_id"]
        await post_feedback(client, ingest_headers, rid, quality_score=scores[rid[0]])


@pytest.mark.usefixtures("dataset")
async def test_regret_hand_computed(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get(REGRET, params={"min_samples": 2}, headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    # tax/low: μ0 = (2.4 + 1.9 + 1.0)/6 = .883333
    #   gpt-4o: n 3 at .8:  E = (5·μ0 + 2.4)/8 = .852083, LB = E - 1.645·sqrt(1.25/8²) = .622188
    #   mini:   n 2 at .95: E = (5·μ0 + 1.9)/7 = .902381, LB = E - 1.645·sqrt(1.25/7²) = .639643
    #   llama:  n 1 < min_samples: never judged
    #   mini is cheaper (.002 < .010) with LB .6396 ≥ .6222: gpt-4o's 3 requests are regretted,
    #   extra .008 each = .024.
    # tax/high: μ0 = .55; gpt-4o LB .387262 > mini LB .187262: no regret.
    # law/medium: a single candidate.
    assert body["min_samples"] == 2
    assert body["requests"] == 11
    assert body["regretted_requests"] == 3
    assert body["regret_rate"] == pytest.approx(3 / 11)
    assert body["extra_cost"] == pytest.approx(0.024)
    scopes = {(s["pattern"], s["complexity_band"]): s for s in body["scopes"]}
    assert list(scopes) == [("law", "medium"), ("tax", "low"), ("tax", "high")]
    low = scopes[("tax", "low")]
    assert (low["requests"], low["regretted_requests"]) == (6, 3)
    assert low["regret_rate"] == pytest.approx(0.5)
    assert low["extra_cost"] == pytest.approx(0.024)
    assert low["dominated"] == [
        {
            "provider": "openai",
            "model": "gpt-4o",
            "requests": 3,
            "avg_cost": pytest.approx(0.01),
            "quality_lower_bound": pytest.approx(0.622188, abs=1e-6),
            "samples": 3,
            "cheaper_alternative": {
                "provider": "openai",
                "model": "gpt-4o-mini",
                "avg_cost": pytest.approx(0.002),
                "quality_lower_bound": pytest.approx(0.639643, abs=1e-6),
                "samples": 2,
            },
            "extra_cost_per_request": pytest.approx(0.008),
            "extra_cost": pytest.approx(0.024),
        }
    ]
    high = scopes[("tax", "high")]
    assert (high["requests"], high["regretted_requests"], high["dominated"]) == (4, 0, [])
    assert scopes[("law", "medium")]["requests"] == 1


@pytest.mark.usefixtures("dataset")
async def test_regret_needs_min_samples(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    # gpt-4o has only 3 scores in tax/low: with min_samples 4 nothing can be judged
    response = await client.get(REGRET, params={"min_samples": 4}, headers=admin_headers)
    assert response.json()["regretted_requests"] == 0
    # with 1, llama (LB .59625) is judged too but dominates nobody: the same answer as 2
    one = await client.get(REGRET, params={"min_samples": 1}, headers=admin_headers)
    assert one.json()["regretted_requests"] == 3
    assert one.json()["extra_cost"] == pytest.approx(0.024)
    # the time window applies to the metrics' created_at
    past = await client.get(
        REGRET, params={"min_samples": 2, "to": "2000-01-01T00:00:00Z"}, headers=admin_headers
    )
    assert past.json()["requests"] == 0


async def test_regret_empty_and_errors(
    client: httpx.AsyncClient, admin_headers: dict[str, str], ingest_headers: dict[str, str]
) -> None:
    empty = await client.get(REGRET, headers=admin_headers)
    assert empty.status_code == 200
    assert empty.json() == {
        "min_samples": 10,
        "requests": 0,
        "regretted_requests": 0,
        "regret_rate": None,
        "extra_cost": 0.0,
        "scopes": [],
    }
    assert (await client.get(REGRET)).status_code == 401
    assert (await client.get(REGRET, headers=ingest_headers)).status_code == 403
    bad = await client.get(REGRET, params={"min_samples": 0}, headers=admin_headers)
    assert bad.status_code == 422
