"""The batch body's fast parse (`parse_batch_fast`, validate_json from the bytes) gives the
same metrics as FastAPI's usual path, and leaves every invalid body to that path."""

from __future__ import annotations

import json

import httpx
import pytest
import starlette.requests
from pydantic import TypeAdapter

from app.routing.schemas import RoutingMetricsBody, parse_batch_fast
from tests.routing.conftest import METRICS, metric

USUAL = TypeAdapter(RoutingMetricsBody)


def test_a_valid_batch_parses_to_what_the_usual_path_gives() -> None:
    body = {
        "items": [
            metric("req-a", actual_cost=0.1234567, baseline_cost=1, user_id=3),
            metric("req-b", confidence="low", complexity_score=0.5, fallback_reason="é"),
        ]
    }
    raw = json.dumps(body, indent=2).encode()  # whitespace before "items" too
    fast = parse_batch_fast(raw)
    assert fast is not None
    assert fast.metrics == USUAL.validate_python(json.loads(raw)).metrics
    assert str(fast.metrics[0].actual_cost) == "0.123457"  # rounded as the column rounds


def test_anything_else_is_left_to_the_usual_path() -> None:
    assert parse_batch_fast(json.dumps(metric("single")).encode()) is None
    bad_item = {"items": [metric("x", confidence="sure")]}
    assert parse_batch_fast(json.dumps(bad_item).encode()) is None
    assert parse_batch_fast(b'{"items": [') is None
    assert parse_batch_fast(json.dumps({"items": [metric("nul\u0000")]}).encode()) is None


async def test_both_paths_answer_alike_over_http(
    client: httpx.AsyncClient, ingest_headers: dict[str, str]
) -> None:
    headers = {**ingest_headers, "Content-Type": "application/json"}
    batch = await client.post(
        METRICS, content=json.dumps({"items": [metric("h-1")]}).encode(), headers=headers
    )
    single = await client.post(METRICS, content=json.dumps(metric("h-2")).encode(), headers=headers)
    assert (batch.status_code, single.status_code) == (201, 201)
    assert batch.json()["items"][0].keys() == single.json()["items"][0].keys()
    bad = await client.post(
        METRICS,
        content=json.dumps({"items": [metric("h-3"), metric("h-4", latency_ms=-1)]}).encode(),
        headers=headers,
    )
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["items.1.latency_ms"]
    broken = await client.post(METRICS, content=b'{"items": [', headers=headers)
    assert broken.status_code == 422


async def test_a_valid_batch_is_not_parsed_a_second_time(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the body was parsed again by json.loads")

    monkeypatch.setattr(starlette.requests.json, "loads", refuse)
    headers = {**ingest_headers, "Content-Type": "application/json"}
    body = json.dumps({"items": [metric("once-1"), metric("once-2")]}).encode()
    response = await client.post(METRICS, content=body, headers=headers)
    assert response.status_code == 201, response.text
