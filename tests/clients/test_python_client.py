"""The Python client in clients/python: checked against /openapi.json (so it cannot drift),
used end to end against the app, and its retries resend one Idempotency-Key."""

from __future__ import annotations

import json
import typing
import uuid
from typing import Any

import httpx
import pytest
from feedback_client import OPERATIONS, ApiError, FeedbackClient

from app.auth.models import Scope
from tests.conftest import KeyMaker


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _object_variants(doc: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(doc, schema)
    if "properties" in schema:  # one object; a `oneOf` beside its properties only constrains it
        return [schema]
    if "anyOf" in schema or "oneOf" in schema:
        return [
            v
            for s in schema.get("anyOf", schema.get("oneOf", []))
            for v in _object_variants(doc, s)
        ]
    return [schema] if schema.get("type") == "object" or "properties" in schema else []


async def test_every_client_operation_matches_openapi(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    for name, op in OPERATIONS.items():
        operation = doc["paths"].get(op["path"], {}).get(op["method"])
        assert operation is not None, f"{name}: {op['method']} {op['path']} is not in the API"
        assert str(op["status"]) in operation["responses"], name
        if op["body"]:
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            variants = _object_variants(doc, schema)
            assert any(set(op["body"]) <= set(v["properties"]) for v in variants), name
            assert any(set(v.get("required", [])) <= set(op["body"]) for v in variants), name
        if op["response"] is not None:
            body = operation["responses"][str(op["status"])]["content"]["application/json"]
            schema = _resolve(doc, body["schema"])
            if op["paginated"]:
                assert {"items", "next_cursor"} <= set(schema["properties"]), name
                schema = _resolve(doc, schema["properties"]["items"]["items"])
            keys = set(typing.get_type_hints(op["response"]))
            assert keys <= set(schema["properties"]), (name, keys - set(schema["properties"]))
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        if op["paginated"]:
            assert {"limit", "cursor"} <= declared, name


async def test_the_client_end_to_end(app, make_key: KeyMaker) -> None:
    ingest = await make_key(Scope.ingest, name="client ingest")
    admin = await make_key(Scope.admin, name="client admin")
    transport = httpx.ASGITransport(app=app)
    async with (
        FeedbackClient("http://test", api_key=ingest, transport=transport) as fb,
        FeedbackClient("http://test", api_key=admin, transport=transport) as ops,
    ):
        token = await fb.mint_token(conversation_id="conv-client", user_id=4211)
        assert token["token"].startswith("fbt_")
        async with FeedbackClient(
            "http://test", api_key=token["token"], transport=transport
        ) as page:
            vote = await page.submit_vote("conv-client", "up", reasons=["helpful"])
        assert vote["status"] == "ok"

        stored = await fb.record_routing_metrics(
            [
                {"request_id": "client-1", "strategy_used": "hybrid", "selected_provider": "p",
                 "selected_model": "m", "pattern_detected": "client_pattern"},
            ]
        )  # fmt: skip
        assert len(stored["ids"]) == 1
        await fb.record_routing_feedback("client-1", 0.8, is_helpful=True)
        recs = await fb.recommendations("client_pattern")
        assert recs["candidates"][0]["provider"] == "p"

        for i in range(3):
            await fb.upsert_cache_entry(f"client/key:{i}", provider="p", model="m", cost_usd=0.001)
        await fb.record_cache_hit("client/key:0")
        rating = await fb.rate_cache_entry("client/key:0", 5, comment="fine")
        assert rating["entry_status"] == "active"
        assert (await fb.get_cache_entry("client/key:0"))["hit_count"] == 1
        keys = [e["cache_key"] async for e in fb.iter_cache_entries(limit=1)]  # 3+ pages
        assert {"client/key:0", "client/key:1", "client/key:2"} <= set(keys)

        expert = await ops.create_expert(987001, ["revisore_legale"])
        expert_key = await ops.create_expert_key(expert["id"], name="client")
        async with FeedbackClient(
            "http://test", api_key=expert_key["key"], transport=transport
        ) as reviewer:
            review = await reviewer.submit_expert_review(
                query_id=str(uuid.uuid4()),
                feedback_type="incorrect",
                category="calcolo_sbagliato",
                query_text="Quanto è l'IMU?",
                original_answer="Zero.",
                expert_answer="Dipende dalla rendita catastale.",
                confidence_score=0.8,
                time_spent_seconds=60,
            )
        assert review["faq_candidate"] is not None
        pending = [c["id"] async for c in ops.iter_faq_candidates(status="pending", limit=1)]
        assert review["faq_candidate"]["id"] in pending
        approved = await ops.approve_candidate(review["faq_candidate"]["id"])
        assert approved["approval_status"] == "approved"
        reviews = [r async for r in ops.iter_expert_feedback(expert["id"])]
        assert len(reviews) == 1

        with pytest.raises(ApiError) as refused:
            await ops.approve_candidate(review["faq_candidate"]["id"])
        assert refused.value.status == 409
        assert refused.value.problem["type"] == "/problems/conflict"


async def test_retries_resend_one_idempotency_key_and_honour_retry_after(monkeypatch) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) < 3:
            return httpx.Response(
                503, headers={"Retry-After": "2"}, json={"title": "Service Unavailable"}
            )
        return httpx.Response(
            201, json={"status": "ok", "id": "x", "created_at": "2026-12-01T00:00:00Z"}
        )

    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr("feedback_client.asyncio.sleep", no_sleep)
    async with FeedbackClient(
        "http://t", api_key="k", transport=httpx.MockTransport(handler)
    ) as fb:
        vote = await fb.submit_vote("c", "down")
    assert vote["id"] == "x"
    keys = {r.headers["Idempotency-Key"] for r in seen}
    assert len(seen) == 3
    assert len(keys) == 1
    assert waits == [2.0, 2.0]
    assert json.loads(seen[0].content) == {"conversation_id": "c", "vote": "down"}


async def test_retries_are_bounded(monkeypatch) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(429, headers={"Retry-After": "1"}, json={"title": "Too Many"})

    async def no_sleep(seconds: float) -> None:
        return None

    monkeypatch.setattr("feedback_client.asyncio.sleep", no_sleep)
    async with FeedbackClient(
        "http://t", api_key="k", retries=2, transport=httpx.MockTransport(handler)
    ) as fb:
        with pytest.raises(ApiError) as error:
            await fb.mint_token(conversation_id="c")
    assert error.value.status == 429
    assert calls == 3
