"""A defect a fuzzed value found (schemathesis, `make test-hostile`), pinned here so that
`make test` guards it: a tiny quality score must not break the routing analytics."""

from __future__ import annotations

import httpx


async def test_a_tiny_quality_score_does_not_break_routing_analytics(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    # 1e-200 squared underflows float8: one such feedback made regret and recommendations
    # fail (422 "rejected by the database") for every caller.
    metric = {
        "request_id": "req-underflow",
        "strategy_used": "hybrid",
        "selected_provider": "openai",
        "selected_model": "gpt-4o-mini",
        "complexity_score": 0.5,
        "pattern_detected": "tax_question",
    }
    stored = await client.post("/api/v1/routing/metrics", headers=ingest_headers, json=metric)
    feedback = await client.post(
        "/api/v1/routing/feedback",
        headers=ingest_headers,
        json={"request_id": "req-underflow", "quality_score": 1e-200},
    )
    regret = await client.get("/api/v1/analytics/routing/regret", headers=admin_headers)
    recommended = await client.get(
        "/api/v1/routing/recommendations",
        headers=ingest_headers,
        params={"pattern": "tax_question"},
    )
    assert [stored.status_code, feedback.status_code] == [201, 201]
    assert regret.status_code == 200, regret.text
    assert recommended.status_code == 200, recommended.text
