"""Defect 1 of issue 15: nothing may wait on the database without a bound. The sessions
carry statement and idle-in-transaction timeouts, each timeout class maps to 503, `/readyz`
has its own bound and reports non-durable commits, exports cannot stall forever, and the
in-flight limit refuses the excess with 503 + Retry-After."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from starlette.types import Message, Receive, Scope, Send

from app.db import create_engine
from app.errors import is_database_unavailable
from app.load_shedding import InFlightLimit
from app.main import create_app
from app.privacy.streaming import BoundedStreamingResponse
from tests.conftest import make_settings


async def test_sessions_carry_statement_and_idle_in_transaction_timeouts(database_url) -> None:
    settings = make_settings(
        database_url, db_statement_timeout_ms=1234, db_idle_in_transaction_timeout_ms=5678
    )
    engine = create_engine(settings, database_url)
    try:
        async with engine.connect() as conn:
            statement = await conn.scalar(sa.text("SHOW statement_timeout"))
            idle = await conn.scalar(sa.text("SHOW idle_in_transaction_session_timeout"))
    finally:
        await engine.dispose()
    assert (statement, idle) == ("1234ms", "5678ms")


async def _raised(work: Any) -> BaseException:
    try:
        await work()
    except Exception as exc:
        return exc
    raise AssertionError("expected the database to refuse")


async def test_every_timeout_class_means_unavailable(database_url) -> None:
    settings = make_settings(
        database_url,
        db_statement_timeout_ms=100,
        db_idle_in_transaction_timeout_ms=200,
        db_command_timeout_seconds=0.3,
    )
    engine = create_engine(settings, database_url)
    try:

        async def slow_statement() -> None:
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT pg_sleep(2)"))

        async def idle_in_transaction() -> None:
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
                await asyncio.sleep(0.6)
                await conn.execute(sa.text("SELECT 1"))

        async def client_side_command_timeout() -> None:
            async with engine.connect() as conn:
                await conn.execute(sa.text("SET LOCAL statement_timeout = 0"))
                await conn.execute(sa.text("SELECT pg_sleep(2)"))

        async def lock_timeout() -> None:
            holder = await asyncpg.connect(
                database_url.replace("postgresql+asyncpg://", "postgresql://")
            )
            try:
                await holder.execute("BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
                async with engine.connect() as conn:
                    await conn.execute(sa.text("SET LOCAL lock_timeout = '100ms'"))
                    await conn.execute(sa.text("SELECT count(*) FROM users"))
            finally:
                await holder.close()

        for work in (
            slow_statement,
            idle_in_transaction,
            client_side_command_timeout,
            lock_timeout,
        ):
            exc = await _raised(work)
            assert is_database_unavailable(exc), (work.__name__, type(exc), exc)
    finally:
        await engine.dispose()


async def test_readyz_503_while_commits_are_not_durable(databases) -> None:
    url = await databases.migrated()
    name = sa.make_url(url).database
    admin = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    finally:
        await admin.close()
    for require, expected in ((True, 503), (False, 200)):
        app = create_app(make_settings(url, require_durable_commits=require))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                response = await http.get("/readyz")
        assert response.status_code == expected, response.text
        assert response.json()["durability"]["synchronous_commit"] == "off"
        if expected == 503:
            assert response.headers["retry-after"].isdigit()
            assert "synchronous_commit off" in response.json()["detail"]


class _FrozenEngine:
    """An engine whose connections never come: what a frozen server looks like."""

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[None]:
        await asyncio.sleep(3600)
        yield


async def test_readyz_is_bounded_by_its_own_timeout(database_url) -> None:
    app = create_app(make_settings(database_url, readyz_timeout_seconds=0.2))
    async with app.router.lifespan_context(app):
        real = app.state.engine
        app.state.engine = _FrozenEngine()
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                response = await asyncio.wait_for(http.get("/readyz"), 10)
        finally:
            app.state.engine = real
    assert response.status_code == 503
    assert response.headers["retry-after"].isdigit()


@pytest.mark.parametrize(("send_timeout", "max_seconds"), [(0.2, 60.0), (60.0, 0.3)])
async def test_a_stalled_export_client_releases_the_stream(
    send_timeout: float, max_seconds: float
) -> None:
    closed = asyncio.Event()

    async def rows() -> AsyncIterator[bytes]:
        try:
            for n in range(1_000_000):
                yield f"{n}\n".encode()
        finally:
            closed.set()  # where the export's connection and snapshot are released

    sent: list[Message] = []

    async def stalled_send(message: Message) -> None:
        sent.append(message)
        if len(sent) >= 3:  # the client stops reading after two chunks
            await asyncio.sleep(3600)

    async def receive() -> Message:
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    response = BoundedStreamingResponse(rows(), send_timeout=send_timeout, max_seconds=max_seconds)
    scope: Scope = {"type": "http", "asgi": {"spec_version": "2.4"}}
    await asyncio.wait_for(response(scope, receive, stalled_send), 10)
    assert response.aborted
    assert closed.is_set()
    assert not any(m.get("more_body") is False for m in sent), "a cut export looks complete"


async def test_in_flight_limit_refuses_the_excess_with_retry_after() -> None:
    release, entered = asyncio.Event(), asyncio.Event()

    async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
        entered.set()
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    limited = InFlightLimit(slow_app, limit=1, retry_after_seconds=3)
    transport = httpx.ASGITransport(app=limited)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        first = asyncio.create_task(http.get("/api/v1/x"))
        await asyncio.wait_for(entered.wait(), 10)
        refused = await http.get("/api/v1/x")
        exempt = asyncio.create_task(http.get("/healthz"))
        await asyncio.sleep(0.05)
        release.set()
        assert (await first).status_code == 200
        assert (await exempt).status_code == 200
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "3"
    assert refused.headers["content-type"] == "application/problem+json"
    assert limited.in_flight == 0
