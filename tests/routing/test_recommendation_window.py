"""Recommendations look at recent requests only (`days`, default 90)."""

import sqlalchemy as sa


async def test_old_requests_do_not_count(client, ingest_headers, db) -> None:
    await db.execute(
        sa.text(
            "INSERT INTO routing_metrics (request_id, strategy_used, selected_provider, "
            "selected_model, pattern_detected, created_at) VALUES "
            "('old-1', 'hybrid', 'old-provider', 'old-model', 'tax', now() - interval '200 days'), "
            "('new-1', 'hybrid', 'new-provider', 'new-model', 'tax', now() - interval '2 days')"
        )
    )
    await db.execute(
        sa.text(
            "INSERT INTO routing_feedback (request_id, quality_score) "
            "VALUES ('old-1', 1.0), ('new-1', 0.6)"
        )
    )
    await db.commit()
    url = "/api/v1/routing/recommendations"
    default = await client.get(url, params={"pattern": "tax"}, headers=ingest_headers)
    assert default.status_code == 200
    assert [c["provider"] for c in default.json()["candidates"]] == ["new-provider"]
    wide = await client.get(url, params={"pattern": "tax", "days": 365}, headers=ingest_headers)
    assert {c["provider"] for c in wide.json()["candidates"]} == {"new-provider", "old-provider"}
    bad = await client.get(url, params={"pattern": "tax", "days": 0}, headers=ingest_headers)
    assert bad.status_code == 422
