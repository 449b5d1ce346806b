"""A write naming a user while that user is being erased: it waits for the erasure, then
registers the user again (as any later write does) instead of failing with a 404. Found by
the parallel schemathesis runs (admin erasing user 4211 while ingest voted for it)."""

from __future__ import annotations

import asyncio
import time

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.models import Scope
from tests.conftest import DatabaseFactory, app_on_own_database, bearer, committed_key, count_rows

USER = 77001
WAIT_SECONDS = 30  # bounds the wait for the vote to queue on the lock, not a speed claim


async def _lock_waiters(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        waiting = await conn.scalar(
            sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        )
    return int(waiting or 0)


async def test_a_vote_during_an_erasure_waits_and_registers_the_user_again(
    databases: DatabaseFactory,
) -> None:
    async with app_on_own_database(databases) as (app, http):
        ingest = bearer(await committed_key(app, Scope.ingest))
        vote = {"conversation_id": "c-erased", "vote": "up", "user_id": USER}
        assert (await http.post("/api/v1/feedback", headers=ingest, json=vote)).status_code == 201
        engine = app.state.engine
        async with engine.connect() as eraser:
            # What `privacy.service.erase_user` does: lock the user, remove its rows, commit.
            await eraser.execute(sa.text(f"SELECT id FROM users WHERE id = {USER} FOR UPDATE"))
            during = asyncio.create_task(
                http.post("/api/v1/feedback", headers=ingest, json={**vote, "vote": "down"})
            )
            deadline = time.monotonic() + WAIT_SECONDS
            while time.monotonic() < deadline:  # until the vote's transaction queues
                if await _lock_waiters(engine) > 0:
                    break
                await asyncio.sleep(0.05)
            await eraser.execute(sa.text(f"DELETE FROM votes WHERE user_id = {USER}"))
            await eraser.execute(sa.text(f"DELETE FROM users WHERE id = {USER}"))
            await eraser.commit()
        response = await during
        assert response.status_code == 201, response.text
        assert await count_rows(engine, f"users WHERE id = {USER}") == 1
        assert await count_rows(engine, f"votes WHERE user_id = {USER}") == 1
