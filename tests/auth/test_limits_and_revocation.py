"""Rate limits per key, revocation reaching a cached key, last_used_at bookkeeping —
behaviour that needs real commits."""

import asyncio

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth_service
from app.main import create_app
from tests.conftest import app_on_own_database, bearer, committed_key, make_settings


@pytest.fixture
async def live(databases):
    """An app with real commits and fast key-cache expiry."""
    async with app_on_own_database(databases, api_key_cache_seconds=0.2) as (app, http):
        yield app, http


async def test_rate_limit_429_with_retry_after(databases) -> None:
    url = await databases.migrated()
    app = create_app(make_settings(url))
    async with app.router.lifespan_context(app):
        # Ingest keys are unlimited unless the key sets a limit of its own.
        key = await committed_key(app, rate_limit_per_minute=2)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            codes = []
            for _ in range(3):
                r = await http.post(
                    "/api/v1/feedback-tokens", headers=bearer(key), json={"conversation_id": "c"}
                )
                codes.append(r.status_code)
            other = await http.post(
                "/api/v1/feedback-tokens",
                headers=bearer(await committed_key(app, rate_limit_per_minute=2)),
                json={"conversation_id": "c"},
            )
    assert codes == [201, 201, 429]
    assert int(r.headers["retry-after"]) >= 1
    assert other.status_code == 201  # limits are per key


async def test_revocation_reaches_a_cached_key_within_its_lifetime(live) -> None:
    app, http = live
    key = await committed_key(app)
    body = {"conversation_id": "c"}
    assert (await http.post("/api/v1/feedback-tokens", headers=bearer(key), json=body)).is_success
    async with AsyncSession(app.state.engine) as session:
        await auth_service.revoke_key(session, key.split("_")[1])
        await session.commit()
    await asyncio.sleep(0.3)  # the key cache lifetime in this app is 0.2 s
    response = await http.post("/api/v1/feedback-tokens", headers=bearer(key), json=body)
    assert response.status_code == 401


async def test_last_used_at_is_recorded_off_the_request_path(live) -> None:
    app, http = live
    key = await committed_key(app)
    await http.post("/api/v1/feedback-tokens", headers=bearer(key), json={"conversation_id": "c"})
    await asyncio.gather(*app.state.auth.background)
    async with app.state.engine.connect() as conn:
        used = await conn.scalar(
            sa.text("SELECT last_used_at FROM api_keys WHERE public_id = :p"),
            {"p": key.split("_")[1]},
        )
    assert used is not None
