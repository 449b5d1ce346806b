"""What a newcomer reads back: error messages that say what is wrong, rounded numbers,
timestamps in `Z`."""

from __future__ import annotations

import datetime as dt
import json
import re

import httpx
import pytest
from pydantic import BaseModel

from app.analytics.histogram import RELATIVE_ERROR
from app.schemas import Milliseconds, UsdAmount, UtcDateTime, iso_z
from tests.routing.conftest import METRICS, metric

Z_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


async def test_malformed_json_names_line_and_column(
    client: httpx.AsyncClient, ingest_headers: dict[str, str]
) -> None:
    body = '{"conversation_id":, "vote": "up"}'  # the 20th character is the bad one
    response = await client.post(
        "/api/v1/feedback",
        content=body,
        headers={**ingest_headers, "content-type": "application/json"},
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["detail"] == "the body is not valid JSON (line 1, column 20)"
    assert problem["errors"][0]["field"] == "body"


async def test_malformed_json_on_a_later_line(
    client: httpx.AsyncClient, ingest_headers: dict[str, str]
) -> None:
    body = '{\n  "conversation_id": "c",\n  "vote": up\n}'
    response = await client.post(
        "/api/v1/feedback",
        content=body,
        headers={**ingest_headers, "content-type": "application/json"},
    )
    assert response.json()["detail"] == "the body is not valid JSON (line 3, column 11)"


async def test_reject_without_a_body_says_a_reason_is_required(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/faq-candidates/00000000-0000-4000-8000-000000000000/reject",
        headers=admin_headers,
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "reason is required: send a JSON body with reason"


async def test_analytics_round_money_and_milliseconds(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    items = [
        metric("round-1", selected_provider="p-round", actual_cost=0.01, latency_ms=1000),
        metric("round-2", selected_provider="p-round", actual_cost=0.02, latency_ms=2001),
        metric("round-3", selected_provider="p-round", actual_cost=0.02, latency_ms=3433),
    ]
    assert (await client.post(METRICS, json={"items": items}, headers=ingest_headers)).is_success
    response = await client.get("/api/v1/analytics/routing", headers=admin_headers)
    [group] = [g for g in response.json()["groups"] if g["key"] == "p-round"]
    assert group["avg_cost"] == 0.016667  # exactly 0.0166666...
    # Percentiles come from the log-spaced histogram (nearest rank, within its relative
    # error of 3433): whatever the estimate, the response carries one decimal, never
    # 3289.7999999.
    p95 = group["latency_p95_ms"]
    assert p95 == pytest.approx(3433, rel=RELATIVE_ERROR)
    assert re.fullmatch(r"\d+(\.\d)?", str(p95))
    assert re.fullmatch(r"\d+(\.\d)?", str(group["latency_p50_ms"]))


def test_response_types_round_and_end_in_z() -> None:
    class Out(BaseModel):
        cost: UsdAmount
        ms: Milliseconds
        at: UtcDateTime

    at = dt.datetime(2026, 11, 23, 21, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    dumped = json.loads(
        Out(cost=0.02952162162162162, ms=2432.2499999999995, at=at).model_dump_json()
    )
    assert dumped == {"cost": 0.029522, "ms": 2432.2, "at": "2026-11-23T20:00:00Z"}
    assert iso_z(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)) == "2026-01-01T00:00:00Z"


async def test_every_timestamp_in_a_response_ends_in_z(
    client: httpx.AsyncClient, ingest_headers: dict[str, str]
) -> None:
    minted = await client.post(
        "/api/v1/feedback-tokens", json={"conversation_id": "c-z"}, headers=ingest_headers
    )
    vote = await client.post(
        "/api/v1/feedback", json={"conversation_id": "c-z", "vote": "up"}, headers=ingest_headers
    )
    assert Z_TIMESTAMP.match(minted.json()["expires_at"])
    assert Z_TIMESTAMP.match(vote.json()["created_at"])
