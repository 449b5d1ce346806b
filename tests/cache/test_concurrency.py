"""Concurrent hits and ratings with real commits (own database, no outer transaction)."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from app.auth import service as auth_service
from app.auth.models import Scope
from app.main import create_app
from tests.conftest import DatabaseFactory, bearer, make_settings

ENTRIES = "/api/v1/cache/entries"


@pytest.fixture
async def real_app(databases: DatabaseFactory) -> AsyncIterator[FastAPI]:
    """Like `committed_app`, with a pool timeout generous enough for 200 queued requests
    on a shared 2-core machine."""
    url = await databases.migrated()
    application = create_app(make_settings(url, db_pool_timeout_seconds=60))
    async with application.router.lifespan_context(application):
        yield application


async def ingest_key(app: FastAPI) -> dict[str, str]:
    async with app.state.sessionmaker() as session:
        _, token = await auth_service.create_key(session, scope=Scope.ingest, name="gateway")
        await session.commit()
    return bearer(token)


async def test_200_concurrent_hits_add_exactly_200(real_app: FastAPI) -> None:
    headers = await ingest_key(real_app)
    transport = httpx.ASGITransport(app=real_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        body = {"cache_key": "hot", "provider": "p", "model": "m", "cost_usd": 0.01}
        assert (await http.post(ENTRIES, json=body, headers=headers)).status_code == 201

        responses = await asyncio.gather(
            *(http.post(f"{ENTRIES}/hot/hits", headers=headers) for _ in range(200))
        )
        assert [r.status_code for r in responses] == [204] * 200

        entry = (await http.get(f"{ENTRIES}/hot", headers=headers)).json()
        assert entry["hit_count"] == 200
    async with real_app.state.sessionmaker() as session:
        day_hits = await session.scalar(
            sa.text("SELECT sum(hits) FROM cache_hit_days WHERE cache_key = 'hot'")
        )
    assert day_hits == 200


async def test_concurrent_bad_ratings_flag_once_counted_exactly(real_app: FastAPI) -> None:
    headers = await ingest_key(real_app)
    transport = httpx.ASGITransport(app=real_app)
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
