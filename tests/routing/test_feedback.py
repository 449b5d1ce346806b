"""POST /api/v1/routing/feedback: only for stored metrics, ranges, user registration, auth."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import count_rows
from tests.routing.conftest import FEEDBACK, metric, post_metrics


async def test_feedback_on_stored_metric(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], db: AsyncSession
) -> None:
    await post_metrics(client, ingest_headers, [metric("req-1", pattern_detected="p")])
    response = await client.post(
        FEEDBACK,
        json={
            "request_id": "req-1",
            "quality_score": 0.8,
            "is_correct": True,
            "is_helpful": False,
            "comment": "ok",
            "user_id": 31,
            "session_id": "s-1",
        },
        headers=ingest_headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["request_id"] == "req-1"
    assert body["created_at"]
    row = (
        await db.execute(text("SELECT * FROM routing_feedback WHERE id = :id"), {"id": body["id"]})
    ).one()
    assert row.request_id == "req-1"
    assert row.quality_score == 0.8
    assert (row.is_correct, row.is_helpful, row.comment) == (True, False, "ok")
    assert (row.user_id, row.session_id) == (31, "s-1")
    assert await count_rows(db, "users WHERE id = 31") == 1
    # provider/model/pattern are not copied: the row has no such columns
    assert not {"selected_provider", "selected_model", "pattern_detected"} & set(row._fields)


async def test_several_feedbacks_per_request(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], db: AsyncSession
) -> None:
    await post_metrics(client, ingest_headers, [metric("req-1")])
    for score in (0, 1):
        response = await client.post(
            FEEDBACK, json={"request_id": "req-1", "quality_score": score}, headers=ingest_headers
        )
        assert response.status_code == 201
    assert await count_rows(db, "routing_feedback") == 2


async def test_unknown_request_id_404_and_nothing_stored(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], db: AsyncSession
) -> None:
    response = await client.post(
        FEEDBACK,
        json={"request_id": "nope", "quality_score": 0.5, "user_id": 55},
        headers=ingest_headers,
    )
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "nope" in response.json()["detail"]
    assert await count_rows(db, "routing_feedback") == 0
    assert await count_rows(db, "users WHERE id = 55") == 0


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"quality_score": 1.01}, "quality_score"),
        ({"quality_score": -0.01}, "quality_score"),
        ({"quality_score": "high"}, "quality_score"),
        ({"quality_score": None}, "quality_score"),
        ({"is_correct": "maybe"}, "is_correct"),
        ({"comment": "x" * 4001}, "comment"),
        ({"comment": "a\u0000b"}, "comment"),
        ({"user_id": -1}, "user_id"),
        ({"request_id": ""}, "request_id"),
        ({"selected_provider": "openai"}, "selected_provider"),
    ],
)
async def test_invalid_feedback_422(
    client: httpx.AsyncClient,
    ingest_headers: dict[str, str],
    db: AsyncSession,
    override: dict[str, object],
    field: str,
) -> None:
    await post_metrics(client, ingest_headers, [metric("req-1")])
    response = await client.post(
        FEEDBACK,
        json={"request_id": "req-1", "quality_score": 0.5, **override},
        headers=ingest_headers,
    )
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    assert await count_rows(db, "routing_feedback") == 0


async def test_quality_score_bounds_inclusive(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await post_metrics(client, admin_headers, [metric("req-1")])
    for score in (0, 1.0):
        response = await client.post(
            FEEDBACK, json={"request_id": "req-1", "quality_score": score}, headers=admin_headers
        )
        assert response.status_code == 201


async def test_feedback_auth(
    client: httpx.AsyncClient,
    ingest_headers: dict[str, str],
    conversation_token_headers: dict[str, str],
) -> None:
    await post_metrics(client, ingest_headers, [metric("req-1")])
    body = {"request_id": "req-1", "quality_score": 0.5}
    assert (await client.post(FEEDBACK, json=body)).status_code == 401
    assert (
        await client.post(FEEDBACK, json=body, headers=conversation_token_headers)
    ).status_code == 403
