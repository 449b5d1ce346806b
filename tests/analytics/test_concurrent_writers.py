"""Concurrent writers (real commits, several connections): the rollups stay exact and a
conversation's current vote is its newest vote, whatever order the commits land in."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import create_engine
from tests.analytics.test_rollups_property import _assert_rollups_exact
from tests.conftest import make_settings

WRITERS = 8
BATCHES = 15


@pytest.fixture
async def engine(databases) -> AsyncIterator[AsyncEngine]:
    url = await databases.migrated()
    engine = create_engine(make_settings(url), url)
    yield engine
    await engine.dispose()


async def _writer(engine: AsyncEngine, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(BATCHES):
        async with engine.begin() as conn:
            # Multi-row INSERTs over a few shared conversations, all in the current hour:
            # every writer upserts the same vote_current and rollup rows.
            await conn.execute(
                sa.text(
                    "INSERT INTO votes (conversation_id, vote, reasons, created_at) "
                    "SELECT 'shared-' || (g % 3), "
                    "CAST(CASE WHEN random() < 0.5 THEN 'up' ELSE 'down' END AS vote_direction), "
                    "ARRAY['r' || (g % 2)], clock_timestamp() "
                    "FROM generate_series(1, CAST(:n AS integer)) AS g"
                ),
                {"n": rng.randint(1, 6)},
            )
            await conn.execute(
                sa.text(
                    "INSERT INTO routing_metrics (request_id, strategy_used, selected_provider, "
                    "selected_model, pattern_detected, latency_ms, actual_cost) "
                    "SELECT gen_random_uuid()::text, 'hybrid', 'openai', 'gpt-4o', 'tax', "
                    "CAST(100 + random() * 50 AS integer), 0.001 "
                    "FROM generate_series(1, CAST(:n AS integer))"
                ),
                {"n": rng.randint(1, 6)},
            )
            await asyncio.sleep(rng.random() / 100)


async def test_concurrent_batches_keep_rollups_exact(engine: AsyncEngine) -> None:
    await asyncio.gather(*(_writer(engine, seed) for seed in range(WRITERS)))
    await _assert_rollups_exact(engine)
    async with engine.connect() as conn:
        newest = (
            await conn.execute(
                sa.text(
                    "SELECT DISTINCT ON (conversation_id) conversation_id, id FROM votes "
                    "ORDER BY conversation_id, created_at DESC, id DESC"
                )
            )
        ).all()
        current = (
            await conn.execute(
                sa.text("SELECT conversation_id, vote_id FROM vote_current ORDER BY 1")
            )
        ).all()
    assert sorted((c, i) for c, i in newest) == [(c, i) for c, i in current]
    assert len(current) == 3
