"""Rate limits that fit the caller: a key's own limit, ingest/admin keys unlimited by
default, browser tokens and expert keys under TOKEN_RATE_LIMIT_PER_MINUTE."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import sqlalchemy as sa

from app.auth import service as auth_service
from app.errors import UnprocessableEntity
from app.main import create_app
from tests.conftest import bearer, committed_key, make_settings

VOTE = {"conversation_id": "rl", "vote": "up"}


@pytest.fixture
async def limited_app(databases):
    """An app whose token limit is 2/min: anything that falls back to it shows at once."""
    app = create_app(make_settings(await databases.migrated(), token_rate_limit_per_minute=2))
    async with app.router.lifespan_context(app):
        yield app


async def _codes(app, headers: dict[str, str], n: int) -> list[int]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        return [
            (await http.post("/api/v1/feedback", headers=headers, json=VOTE)).status_code
            for _ in range(n)
        ]


async def test_ingest_and_admin_keys_are_unlimited_by_default(limited_app) -> None:
    for scope in ("ingest", "admin"):
        codes = await _codes(limited_app, bearer(await committed_key(limited_app, scope)), 6)
        assert codes == [201] * 6, scope


async def test_a_keys_own_limit_is_respected(limited_app) -> None:
    key = await committed_key(limited_app, "ingest", rate_limit_per_minute=3)
    assert await _codes(limited_app, bearer(key), 4) == [201, 201, 201, 429]


async def test_browser_tokens_keep_the_token_limit(limited_app) -> None:
    ingest = bearer(await committed_key(limited_app))
    transport = httpx.ASGITransport(app=limited_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        minted = await http.post(
            "/api/v1/feedback-tokens", headers=ingest, json={"conversation_id": "rl"}
        )
        token = bearer(minted.json()["token"])
    assert await _codes(limited_app, token, 3) == [201, 201, 429]


async def test_an_edited_limit_applies_after_the_key_cache(databases) -> None:
    app = create_app(make_settings(await databases.migrated(), api_key_cache_seconds=0))
    async with app.router.lifespan_context(app):
        key = await committed_key(app)
        assert await _codes(app, bearer(key), 3) == [201] * 3
        async with app.state.sessionmaker() as session:
            await auth_service.set_rate_limit(session, key.split("_")[1], 1)
            await session.commit()
        # The bucket refills from the new limit (1/min): one request left at most.
        codes = await _codes(app, bearer(key), 2)
    assert codes[-1] == 429


def test_rate_limit_text_is_n_per_minute_or_none() -> None:
    assert auth_service.parse_rate_limit("600/min") == 600
    assert auth_service.parse_rate_limit("25") == 25
    assert auth_service.parse_rate_limit("none") is None
    for bad in ("0/min", "-3", "fast", "10/s"):
        with pytest.raises(UnprocessableEntity):
            auth_service.parse_rate_limit(bad)


async def test_keys_cli_sets_and_edits_the_rate_limit(databases, monkeypatch) -> None:
    import json

    from typer.testing import CliRunner

    from app.cli import cli
    from app.config import get_settings

    url = await databases.migrated()
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    try:
        created = await asyncio.to_thread(
            invoke, "keys", "create", "--scope", "ingest", "--rate-limit", "120/min", "--json"
        )
        assert created.exit_code == 0, created.output
        row = json.loads(created.output)
        assert row["rate_limit_per_minute"] == 120
        edited = await asyncio.to_thread(invoke, "keys", "set-rate-limit", row["public_id"], "none")
        assert edited.exit_code == 0, edited.output
        refused = await asyncio.to_thread(
            invoke, "keys", "create", "--scope", "ingest", "--rate-limit", "0/min"
        )
        assert refused.exit_code != 0
    finally:
        get_settings.cache_clear()
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            limit = await conn.scalar(
                sa.text("SELECT rate_limit_per_minute FROM api_keys WHERE public_id = :p"),
                {"p": row["public_id"]},
            )
    finally:
        await engine.dispose()
    assert limit is None
