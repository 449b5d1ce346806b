"""Stripe's Idempotency-Key semantics under a race: 50 concurrent POSTs with one key and
one body write exactly one row; every answer is the 201 or its replay, never a 5xx; a
request refused for its body does not burn the key."""

from __future__ import annotations

import asyncio

import httpx
import sqlalchemy as sa

from tests.conftest import committed_key
from tests.reliability.harness import Figure

CONCURRENT = 50


async def test_fifty_concurrent_posts_with_one_key_write_one_row(
    committed_app, figure: Figure
) -> None:
    token = await committed_key(committed_app)
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "race-key-1"}
    body = {"conversation_id": "race-conversation", "vote": "up", "comment": "once"}
    transport = httpx.ASGITransport(app=committed_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=60) as http:
        responses = await asyncio.gather(
            *(http.post("/api/v1/feedback", json=body, headers=headers) for _ in range(CONCURRENT))
        )
    statuses = [r.status_code for r in responses]
    assert all(s == 201 for s in statuses), statuses
    first = [r for r in responses if r.headers.get("idempotent-replayed") != "true"]
    assert len(first) == 1, "exactly one request did the write"
    assert {r.json()["id"] for r in responses} == {first[0].json()["id"]}
    async with committed_app.state.engine.connect() as conn:
        rows = await conn.scalar(
            sa.text("SELECT count(*) FROM votes WHERE conversation_id = 'race-conversation'")
        )
    assert rows == 1
    figure(f"{CONCURRENT} concurrent POSTs, one key: 1 row, 1 write + {CONCURRENT - 1} replays")


async def test_an_invalid_body_does_not_burn_the_key(committed_app, figure: Figure) -> None:
    token = await committed_key(committed_app)
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "race-key-2"}
    transport = httpx.ASGITransport(app=committed_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=60) as http:
        bad = await asyncio.gather(
            *(
                http.post(
                    "/api/v1/feedback",
                    json={"conversation_id": "burn", "vote": "sideways"},
                    headers=headers,
                )
                for _ in range(10)
            )
        )
        good = await http.post(
            "/api/v1/feedback", json={"conversation_id": "burn", "vote": "up"}, headers=headers
        )
    assert {r.status_code for r in bad} == {422}
    assert good.status_code == 201, good.text
    assert good.headers.get("idempotent-replayed") != "true"
