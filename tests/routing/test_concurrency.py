"""Concurrent metric batches with real commits (own database, no outer transaction)."""

from __future__ import annotations

import asyncio

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from tests.conftest import bearer, committed_key
from tests.routing.conftest import METRICS, metric


async def test_overlapping_batches_in_opposite_orders(committed_app: FastAPI) -> None:
    headers = bearer(await committed_key(committed_app))
    names = [f"req-{i:02d}" for i in range(20)]
    forward = {"items": [metric(n, user_id=1) for n in names]}
    backward = {"items": [metric(n, user_id=1) for n in reversed(names)]}
    transport = httpx.ASGITransport(app=committed_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        responses = await asyncio.gather(
            *(
                http.post(METRICS, json=body, headers=headers)
                for body in [forward, backward, forward, backward]
            )
        )
        for r in responses:  # 201 when the batch created something, 200 for a pure re-send
            created_here = any(item["created"] for item in r.json()["items"])
            assert r.status_code == (201 if created_here else 200)
        first = responses[0].json()["ids"]
        assert responses[1].json()["ids"] == list(reversed(first))
        assert responses[2].json()["ids"] == first
        created = sum(item["created"] for r in responses for item in r.json()["items"])
        assert created == 20

        # a racing different body: exactly one wins, the other gets 409 and stores nothing
        one = {"items": [metric("race", actual_cost=1), metric("only-a")]}
        two = {"items": [metric("race", actual_cost=2), metric("only-b")]}
        a, b = await asyncio.gather(
            http.post(METRICS, json=one, headers=headers),
            http.post(METRICS, json=two, headers=headers),
        )
        assert sorted([a.status_code, b.status_code]) == [201, 409]
    async with committed_app.state.sessionmaker() as session:
        stored = await session.scalar(sa.text("SELECT count(*) FROM routing_metrics"))
        winners = await session.scalar(
            sa.text("SELECT count(*) FROM routing_metrics WHERE request_id LIKE 'only-%'")
        )
    assert stored == 22
    assert winners == 1
