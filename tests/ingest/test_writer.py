"""The group-commit write path of POST /api/v1/feedback (`app/writer.py`): acknowledged
means committed, a bad row fails alone, idempotency / users / erasure still hold, and a full
queue answers 503 + Retry-After. (SIGTERM under load: tests/ops/test_graceful_shutdown.py.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from app.errors import AppError, render_error
from app.main import create_app
from app.votes.ingest import VOTES
from app.votes.models import VoteDirection
from app.votes.schemas import VoteCreate
from app.writer import Written
from tests.conftest import bearer, committed_key, make_settings

URL = "/api/v1/feedback"


@pytest.fixture
async def http(committed_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=committed_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


async def _vote_ids(app: FastAPI) -> set[str]:
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(sa.text("SELECT id FROM votes"))
        return {str(r.id) for r in rows}


async def test_every_acknowledged_vote_is_committed(committed_app, http) -> None:
    key = bearer(await committed_key(committed_app))
    responses = await asyncio.gather(
        *(
            http.post(URL, headers=key, json={"conversation_id": f"c{i % 7}", "vote": "up"})
            for i in range(60)
        )
    )
    assert [r.status_code for r in responses] == [201] * 60
    acknowledged = {r.json()["id"] for r in responses}
    assert len(acknowledged) == 60
    # Read on another connection: only committed rows are visible there.
    assert acknowledged <= await _vote_ids(committed_app)


async def test_a_failing_row_fails_only_its_own_request(committed_app) -> None:
    writer = committed_app.state.writer
    good = [VoteCreate(conversation_id=f"ok-{i}", vote="up") for i in range(4)]
    # Bypasses validation (which answers 422 for NUL): PostgreSQL refuses this text.
    bad = VoteCreate.model_construct(
        conversation_id="bad",
        vote=VoteDirection.down,
        comment="nul\x00byte",
        expert_ids=[],
        reasons=[],
    )
    payloads = [*good[:2], bad, *good[2:]]
    outcomes = await asyncio.gather(
        *(writer.submit(VOTES, (p, None), claim=None) for p in payloads), return_exceptions=True
    )
    assert isinstance(outcomes[2], Exception)
    written = [o for i, o in enumerate(outcomes) if i != 2]
    assert all(isinstance(o, Written) and o.status_code == 201 for o in written)
    async with committed_app.state.engine.connect() as conn:
        stored = set(await conn.scalars(sa.text("SELECT conversation_id FROM votes")))
    assert stored == {"ok-0", "ok-1", "ok-2", "ok-3"}


async def test_a_cancelled_wait_still_commits_its_row(committed_app) -> None:
    """A client that goes away cancels only its wait: the queued row is committed anyway,
    and the other rows of its batch are answered as usual."""
    writer = committed_app.state.writer
    gone = asyncio.create_task(
        writer.submit(VOTES, (VoteCreate(conversation_id="gone", vote="up"), None), claim=None)
    )
    await asyncio.sleep(0)  # queued
    gone.cancel()
    stays = await writer.submit(
        VOTES, (VoteCreate(conversation_id="stays", vote="up"), None), claim=None
    )
    assert stays.status_code == 201
    with pytest.raises(asyncio.CancelledError):
        await gone
    async with committed_app.state.engine.connect() as conn:
        stored = set(await conn.scalars(sa.text("SELECT conversation_id FROM votes")))
    assert stored == {"gone", "stays"}


async def test_the_bad_rows_error_is_its_proper_status(committed_app, http) -> None:
    key = bearer(await committed_key(committed_app))
    writer = committed_app.state.writer
    bad = VoteCreate.model_construct(
        conversation_id="bad",
        vote=VoteDirection.down,
        comment="nul\x00byte",
        expert_ids=[],
        reasons=[],
    )
    with pytest.raises(Exception) as caught:
        await writer.submit(VOTES, (bad, None), claim=None)
    # The same exception through the app's handlers would be a 4xx, never a 500.
    from app.errors import client_data_status

    assert client_data_status(caught.value) == 422
    # And a valid request right after is not affected.
    ok = await http.post(URL, headers=key, json={"conversation_id": "after", "vote": "up"})
    assert ok.status_code == 201


async def test_idempotency_replays_and_conflicts_on_the_fast_path(committed_app, http) -> None:
    headers = {**bearer(await committed_key(committed_app)), "Idempotency-Key": "k-1"}
    body = {"conversation_id": "idem", "vote": "up", "user_id": 91}
    first = await http.post(URL, headers=headers, json=body)
    again = await http.post(URL, headers=headers, json=body)
    other = await http.post(URL, headers=headers, json={**body, "vote": "down"})
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert other.status_code == 409
    assert await _vote_ids(committed_app) == {first.json()["id"]}


async def test_concurrent_retries_with_one_key_create_one_vote(committed_app, http) -> None:
    headers = {**bearer(await committed_key(committed_app)), "Idempotency-Key": "k-race"}
    body = {"conversation_id": "race", "vote": "down"}
    responses = await asyncio.gather(
        *(http.post(URL, headers=headers, json=body) for _ in range(8))
    )
    assert [r.status_code for r in responses] == [201] * 8
    assert len({r.content for r in responses}) == 1
    assert len(await _vote_ids(committed_app)) == 1


async def test_validation_user_registration_and_erasure_hold(committed_app, http) -> None:
    ingest = bearer(await committed_key(committed_app))
    admin = bearer(await committed_key(committed_app, "admin"))
    invalid = await http.post(
        URL, headers=ingest, json={"conversation_id": "v", "vote": "sideways"}
    )
    assert invalid.status_code == 422
    assert any(e["field"] == "vote" for e in invalid.json()["errors"])
    headers = {**ingest, "Idempotency-Key": "erase-me"}
    created = await http.post(
        URL, headers=headers, json={"conversation_id": "u", "vote": "up", "user_id": 4242}
    )
    assert created.status_code == 201
    async with committed_app.state.engine.connect() as conn:
        assert await conn.scalar(sa.text("SELECT count(*) FROM users WHERE id = 4242")) == 1
        owners = await conn.scalar(
            sa.text("SELECT owner_user_ids FROM idempotency_keys WHERE key = 'erase-me'")
        )
    assert owners == [4242]
    erased = await http.delete("/api/v1/users/4242", headers=admin)
    assert erased.status_code == 200
    async with committed_app.state.engine.connect() as conn:
        assert await conn.scalar(sa.text("SELECT count(*) FROM votes WHERE user_id = 4242")) == 0
        assert await conn.scalar(sa.text("SELECT count(*) FROM votes")) == 0
        left = await conn.scalar(
            sa.text("SELECT count(*) FROM idempotency_keys WHERE key = 'erase-me'")
        )
    assert left == 0


async def _wait_for(predicate, what: str) -> None:
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_full_queue_answers_503_with_retry_after(databases) -> None:
    url = await databases.migrated()
    # One loop, held on a lock below: the next row then waits in the queue of one.
    settings = make_settings(
        url, writer_queue_size=1, writer_max_batch=1, writer_max_delay_ms=0, writer_concurrency=1
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        key = bearer(await committed_key(app))
        writer = app.state.writer
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://t") as http,
            app.state.engine.connect() as locker,
        ):
            # Hold the writer's first batch on a table lock, so the queue stays full.
            await locker.execute(sa.text("LOCK TABLE votes IN EXCLUSIVE MODE"))

            def post(name: str) -> asyncio.Task[httpx.Response]:
                body = {"conversation_id": name, "vote": "up"}
                return asyncio.create_task(http.post(URL, headers=key, json=body))

            first = post("first")
            for _ in range(500):  # until the writer's INSERT waits for the lock
                waiting = await locker.scalar(
                    sa.text(
                        "SELECT count(*) FROM pg_locks "
                        "WHERE NOT granted AND relation = 'votes'::regclass"
                    )
                )
                if waiting:
                    break
                await asyncio.sleep(0.01)
            assert waiting, "the writer never reached the lock"
            second = post("second")
            await _wait_for(lambda: writer.queue_depth == 1, "the queue to fill")
            refused = await http.post(URL, headers=key, json={"conversation_id": "x", "vote": "up"})
            await locker.rollback()
            answered = [await first, await second]
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == str(settings.retry_after_seconds)
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert [r.status_code for r in answered] == [201, 201]


async def test_two_writer_loops_write_two_batches_at_once(databases) -> None:
    url = await databases.migrated()
    app = create_app(make_settings(url, writer_concurrency=2, writer_max_delay_ms=0))
    async with app.router.lifespan_context(app):
        key = bearer(await committed_key(app))
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://t") as http,
            app.state.engine.connect() as locker,
        ):
            await locker.execute(sa.text("LOCK TABLE votes IN EXCLUSIVE MODE"))

            async def waiting_inserts() -> int:
                return int(
                    await locker.scalar(
                        sa.text(
                            "SELECT count(*) FROM pg_locks "
                            "WHERE NOT granted AND relation = 'votes'::regclass"
                        )
                    )
                )

            posts = []
            waiting = 0
            for expected, name in enumerate(("first", "second"), start=1):
                body = {"conversation_id": name, "vote": "up"}
                posts.append(asyncio.create_task(http.post(URL, headers=key, json=body)))
                for _ in range(500):  # this row's INSERT waits for the lock too
                    waiting = await waiting_inserts()
                    if waiting == expected:
                        break
                    await asyncio.sleep(0.01)
            await locker.rollback()
            answered = [await p for p in posts]
            # Each loop added to rollup rows of its own slot, so neither waited on the other.
            slots = await locker.scalar(
                sa.text("SELECT array_agg(DISTINCT slot ORDER BY slot) FROM vote_rollups")
            )
    assert waiting == 2, "the second row waited for the first batch instead of its own loop"
    assert [r.status_code for r in answered] == [201, 201]
    assert slots == [0, 1]


async def test_writer_figures_are_in_metrics(committed_app, http) -> None:
    key = bearer(await committed_key(committed_app))
    await http.post(URL, headers=key, json={"conversation_id": "m", "vote": "up"})
    text = (await http.get("/metrics")).text
    assert "writer_queue_depth 0.0" in text
    assert "writer_batch_rows_count" in text
    assert "writer_commit_seconds_bucket" in text


async def test_after_close_new_rows_are_refused_with_503(databases) -> None:
    app = create_app(make_settings(await databases.migrated()))
    async with app.router.lifespan_context(app):
        writer = app.state.writer
        await writer.close()
        with pytest.raises(AppError) as refused:
            await writer.submit(
                VOTES, (VoteCreate(conversation_id="late", vote="up"), None), claim=None
            )
        assert refused.value.status == 503
        writer.start()  # the lifespan closes it again on exit


async def test_database_down_fails_the_batch_with_a_503(tmp_path) -> None:
    # A socket directory with no server behind it (see tests/test_health.py).
    url = f"postgresql+asyncpg://postgres@/postgres?host={tmp_path}"
    app = create_app(make_settings(url, db_pool_timeout_seconds=1))
    async with app.router.lifespan_context(app):
        outcomes = await asyncio.gather(
            *(
                app.state.writer.submit(
                    VOTES, (VoteCreate(conversation_id=f"d{i}", vote="up"), None), claim=None
                )
                for i in range(3)
            ),
            return_exceptions=True,
        )
    assert all(isinstance(o, Exception) for o in outcomes)
    for outcome in outcomes:
        assert isinstance(outcome, Exception)
        response = render_error(outcome, retry_after_seconds=7)
        assert response is not None
        assert response.status_code == 503
        assert response.headers["retry-after"] == "7"


async def test_openapi_declares_the_header_and_the_503(committed_app, http) -> None:
    operation = (await http.get("/openapi.json")).json()["paths"][URL]["post"]
    headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
    assert "Idempotency-Key" in headers
    assert "Retry-After" in operation["responses"]["503"]["description"]
    assert "application/problem+json" in operation["responses"]["503"]["content"]
    assert operation["responses"]["201"]["content"]["application/json"]["schema"]
