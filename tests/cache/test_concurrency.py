"""Concurrent hits and ratings with real commits (own database, no outer transaction)."""

import asyncio

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from tests.conftest import bearer, committed_key

ENTRIES = "/api/v1/cache/entries"


async def test_200_concurrent_hits_add_exactly_200(committed_app: FastAPI) -> None:
    headers = bearer(await committed_key(committed_app))
    transport = httpx.ASGITransport(app=committed_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        body = {"cache_key": "hot", "provider": "p", "model": "m", "cost_usd": 0.01}
        assert (await http.post(ENTRIES, json=body, headers=headers)).status_code == 201

        responses = await asyncio.gather(
            *(http.post(f"{ENTRIES}/hot/hits", headers=headers) for _ in range(200))
        )
        assert [r.status_code for r in responses] == [204] * 200

        entry = (await http.get(f"{ENTRIES}/hot", headers=headers)).json()
        assert entry["hit_count"] == 200
    async with committed_app.state.sessionmaker() as session:
        day_hits = await session.scalar(
            sa.text("SELECT sum(hits) FROM cache_hit_days WHERE cache_key = 'hot'")
        )
    assert day_hits == 200


async def test_concurrent_bad_ratings_flag_once_counted_exactly(committed_app: FastAPI) -> None:
    headers = bearer(await committed_key(committed_app))
    transport = httpx.ASGITransport(app=committed_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        body = {"cache_key": "bad", "provider": "p", "model": "m", "cost_usd": 0.01}
        assert (await http.post(ENTRIES, json=body, headers=headers)).status_code == 201

        responses = await asyncio.gather(
            *(
                http.post(f"{ENTRIES}/bad/feedback", json={"rating": 1}, headers=headers)
                for _ in range(12)
            )
        )
        assert [r.status_code for r in responses] == [201] * 12
        statuses = [r.json()["entry_status"] for r in responses]
        # ratings are serialised per entry: exactly 4 saw fewer than 5 ratings
        assert statuses.count("active") == 4
        assert statuses.count("flagged") == 8

        entry = (await http.get(f"{ENTRIES}/bad", headers=headers)).json()
        assert (entry["rating_count"], entry["status"]) == (12, "flagged")
