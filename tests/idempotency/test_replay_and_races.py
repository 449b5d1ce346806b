"""Idempotency-Key with real commits: replay, reuse, races, expiry, and a replay that
needs a still-valid credential (a probe route shows what the key prevents)."""

import asyncio
import random

import pytest
import sqlalchemy as sa
from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth_service
from app.auth.dependencies import IngestOrAdmin
from app.db import SessionDep
from app.idempotency.dependencies import Idempotent
from app.transaction import TransactionalRoute
from app.users.service import register_user
from app.votes.models import Vote
from tests.conftest import app_on_own_database, bearer, committed_key


class Register(BaseModel):
    user_id: int


# A route that writes one new row per call, to observe what Idempotency-Key prevents.
probe = APIRouter(route_class=TransactionalRoute)


@probe.post("/api/v1/_probe/users", status_code=201, dependencies=[Idempotent])
async def register(
    payload: Register, principal: IngestOrAdmin, session: SessionDep, request: Request
) -> dict[str, object]:
    await register_user(session, payload.user_id)
    vote = {"conversation_id": f"probe-{payload.user_id}", "vote": "up", "user_id": payload.user_id}
    await session.execute(sa.insert(Vote).values(**vote))
    await asyncio.sleep(0.05)  # widen the race window
    return {"user_id": payload.user_id, "nonce": random.random()}


@pytest.fixture
async def live(databases):
    """An app with real commits, the probe route, and fast key-cache expiry."""
    async with app_on_own_database(databases, routers=[probe], api_key_cache_seconds=0.2) as (
        app,
        http,
    ):
        yield app, http


async def _count_users(app, user_id: int) -> int:
    """Rows the probe wrote for `user_id` (one per request that really ran)."""
    async with app.state.engine.connect() as conn:
        return int(
            await conn.scalar(
                sa.text("SELECT count(*) FROM votes WHERE user_id = :i"), {"i": user_id}
            )
        )


async def test_same_key_same_body_replays_first_response(live) -> None:
    app, http = live
    headers = {**bearer(await committed_key(app)), "Idempotency-Key": "k-1"}
    first = await http.post("/api/v1/_probe/users", headers=headers, json={"user_id": 501})
    second = await http.post("/api/v1/_probe/users", headers=headers, json={"user_id": 501})
    assert first.status_code == second.status_code == 201
    assert second.content == first.content  # the nonce proves nothing ran again
    assert second.headers["idempotent-replayed"] == "true"
    assert await _count_users(app, 501) == 1


async def test_same_key_different_body_is_409(live) -> None:
    app, http = live
    headers = {**bearer(await committed_key(app)), "Idempotency-Key": "k-2"}
    await http.post("/api/v1/_probe/users", headers=headers, json={"user_id": 502})
    other = await http.post("/api/v1/_probe/users", headers=headers, json={"user_id": 503})
    assert other.status_code == 409
    assert await _count_users(app, 503) == 0


async def test_failed_request_does_not_burn_the_key(live) -> None:
    app, http = live
    headers = {**bearer(await committed_key(app)), "Idempotency-Key": "k-3"}
    bad = await http.post("/api/v1/_probe/users", headers=headers, json={"user_id": "x"})
    assert bad.status_code == 422
    # Nothing was stored for the failed attempt: the client may fix the body, same key.
    fixed = await http.post("/api/v1/_probe/users", headers=headers, json={"user_id": 504})
    assert fixed.status_code == 201
    assert await _count_users(app, 504) == 1


async def test_keys_are_per_credential(live) -> None:
    app, http = live
    body = {"user_id": 505}
    a = await http.post(
        "/api/v1/_probe/users",
        headers={**bearer(await committed_key(app)), "Idempotency-Key": "s"},
        json=body,
    )
    b = await http.post(
        "/api/v1/_probe/users",
        headers={**bearer(await committed_key(app)), "Idempotency-Key": "s"},
        json=body,
    )
    assert a.status_code == b.status_code == 201
    assert a.json()["nonce"] != b.json()["nonce"]


async def test_concurrent_requests_with_one_key_write_once(live) -> None:
    app, http = live
    headers = {**bearer(await committed_key(app)), "Idempotency-Key": "race"}
    responses = await asyncio.gather(
        *(
            http.post("/api/v1/_probe/users", headers=headers, json={"user_id": 506})
            for _ in range(8)
        )
    )
    # The duplicates wait for the first transaction, then replay its response.
    assert [r.status_code for r in responses] == [201] * 8
    assert len({r.content for r in responses}) == 1
    fresh = [r for r in responses if "idempotent-replayed" not in r.headers]
    assert len(fresh) == 1
    assert await _count_users(app, 506) == 1


async def test_expired_keys_are_forgotten_and_purged(live) -> None:
    from app.idempotency import service as idempotency

    app, http = live
    headers = {**bearer(await committed_key(app)), "Idempotency-Key": "old"}
    await http.post("/api/v1/_probe/users", headers=headers, json={"user_id": 507})
    async with app.state.engine.begin() as conn:
        await conn.execute(
            sa.text("UPDATE idempotency_keys SET expires_at = now() - interval '1 s'")
        )
    # An expired key no longer binds its body: another body under it is a new request.
    again = await http.post("/api/v1/_probe/users", headers=headers, json={"user_id": 508})
    assert again.status_code == 201
    async with app.state.engine.begin() as conn:
        await conn.execute(
            sa.text("UPDATE idempotency_keys SET expires_at = now() - interval '1 s'")
        )
    async with AsyncSession(app.state.engine) as session:
        assert await idempotency.purge_expired(session, batch_size=1) == 1
    async with app.state.engine.connect() as conn:
        assert await conn.scalar(sa.text("SELECT count(*) FROM idempotency_keys")) == 0


async def test_a_replay_needs_a_still_valid_credential(live) -> None:
    app, http = live
    key = await committed_key(app)
    headers = {**bearer(key), "Idempotency-Key": "k-revoked"}
    first = await http.post("/api/v1/_probe/users", headers=headers, json={"user_id": 509})
    assert first.status_code == 201
    async with AsyncSession(app.state.engine) as session:
        await auth_service.revoke_key(session, key.split("_")[1])
        await session.commit()
    await asyncio.sleep(0.3)  # past the key cache lifetime
    replay = await http.post("/api/v1/_probe/users", headers=headers, json={"user_id": 509})
    assert replay.status_code == 401
    anonymous = await http.post(
        "/api/v1/_probe/users", headers={"Idempotency-Key": "x" * 300}, json={"user_id": 1}
    )
    assert anonymous.status_code == 401
