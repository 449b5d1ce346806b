"""Concurrent writers with real commits (own database): the trigger-kept tables still equal
a full recount, and overlapping multi-row batches neither deadlock nor lose a vote."""

from __future__ import annotations

import asyncio
import random
import uuid

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from tests.conftest import bearer, committed_key
from tests.quality.conftest import assert_consistent, recount

QUERIES = [uuid.UUID(int=n) for n in range(1, 4)]


async def test_concurrent_votes_on_the_same_queries(committed_app: FastAPI) -> None:
    headers = bearer(await committed_key(committed_app))
    rng = random.Random(14)
    bodies = [
        {
            "conversation_id": f"c{rng.randrange(12)}",
            "vote": rng.choice(["up", "down"]),
            "query_id": str(rng.choice(QUERIES)),
            "reasons": rng.sample(["outdated", "vague", "wrong rate"], rng.randrange(3)),
        }
        for _ in range(120)
    ]
    transport = httpx.ASGITransport(app=committed_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        responses = await asyncio.gather(
            *(http.post("/api/v1/feedback", json=b, headers=headers) for b in bodies)
        )
    assert [r.status_code for r in responses] == [201] * len(bodies)
    async with committed_app.state.sessionmaker() as session:
        await assert_consistent(session)
        assert set(await recount(session)) == set(QUERIES)


async def test_overlapping_multi_row_batches_do_not_deadlock(committed_app: FastAPI) -> None:
    engine = committed_app.state.engine
    rng = random.Random(7)
    queries = [uuid.UUID(int=n) for n in range(1, 30)]

    async def batch(worker: int, n: int) -> None:
        # Each batch lists its queries in a random order: the trigger must sort its locks.
        rows = [
            {
                "c": f"w{worker}-{rng.randrange(5)}",
                "v": rng.choice(["up", "down"]),
                "q": rng.choice(queries),
            }
            for _ in range(40)
        ]
        values = ", ".join(
            f"(:c{i}, CAST(:v{i} AS vote_direction), :q{i})" for i in range(len(rows))
        )
        params = {f"{k}{i}": row[k] for i, row in enumerate(rows) for k in row}
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(f"INSERT INTO votes (conversation_id, vote, query_id) VALUES {values}"),
                params,
            )

    await asyncio.gather(*(batch(w, n) for w in range(4) for n in range(5)))
    async with committed_app.state.sessionmaker() as session:
        assert await session.scalar(sa.text("SELECT count(*) FROM votes")) == 4 * 5 * 40
        await assert_consistent(session)
