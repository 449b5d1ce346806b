"""Test fixtures: a real PostgreSQL (embedded unless TEST_DATABASE_URL is set), a fresh
database per run whose schema comes only from `alembic upgrade head`, and per-test
isolation by an outer transaction that is rolled back.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import hypothesis
import pytest
import sqlalchemy as sa
from fastapi import APIRouter, FastAPI
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app import embedded_postgres, migrate
from app.auth import service as auth_service
from app.auth.models import Scope
from app.config import Settings
from app.db import create_engine
from app.main import create_app

# Property tests run a fixed sequence of examples by default, so CI on a clean checkout
# cannot fail on a case no earlier run met; `HYPOTHESIS_PROFILE=explore make test` searches
# fresh random cases (and many more of them) to find the next one.
hypothesis.settings.register_profile("ci", derandomize=True, print_blob=True)
hypothesis.settings.register_profile("explore", max_examples=2000, print_blob=True)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

TEST_DATA_DIR = Path(__file__).resolve().parent.parent / ".data" / "test"
TOKEN_SECRET = "test-feedback-token-secret-of-32-bytes-or-more"


def _server_url() -> str:
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        return external.replace("postgresql://", "postgresql+asyncpg://", 1)
    return embedded_postgres.start(TEST_DATA_DIR)


def _with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class DatabaseFactory:
    """Creates throwaway databases on the test server (dropped at the end of the run)."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.created: list[str] = []
        self.template: str | None = None

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(_asyncpg_dsn(_with_database(self.server_url, "postgres")))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def empty(self) -> str:
        """A new, empty database; returns its URL."""
        name = f"test_{uuid.uuid4().hex[:12]}"
        await self._admin(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return _with_database(self.server_url, name)

    async def migrated(self) -> str:
        """A new database at the Alembic head (copied from a template migrated once)."""
        if self.template is None:
            url = await self.empty()
            await migrate.upgrade_to_head_async(url)
            self.template = make_url(url).database
        name = f"test_{uuid.uuid4().hex[:12]}"
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.created.append(name)
        return _with_database(self.server_url, name)

    async def drop_all(self) -> None:
        for name in reversed(self.created):
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    url = _server_url()
    yield url
    if not os.environ.get("TEST_DATABASE_URL"):
        embedded_postgres.stop(TEST_DATA_DIR)


@pytest.fixture(scope="session")
async def databases(server_url: str) -> AsyncIterator[DatabaseFactory]:
    factory = DatabaseFactory(server_url)
    yield factory
    await factory.drop_all()


def make_settings(database_url: str, **overrides: object) -> Settings:
    """Settings for an app under test (never read from the environment)."""
    values: dict[str, object] = {
        "database_url": database_url,
        "feedback_token_secret": TOKEN_SECRET,
        "token_rate_limit_per_minute": 0,
        # Concurrency tests fire hundreds of requests at once through ASGITransport.
        "max_in_flight_requests": 0,
        "feedback_data_dir": TEST_DATA_DIR,
        **overrides,
    }
    return Settings.model_validate(values)


@pytest.fixture(scope="session")
async def database_url(databases: DatabaseFactory) -> str:
    """The run's main database, migrated to head by Alembic only."""
    return await databases.migrated()


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(make_settings(database_url), database_url)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def app(database_url: str):
    # One writer loop: the `db` fixture makes every session of this app join one test
    # connection, and a connection runs one statement at a time.
    application = create_app(make_settings(database_url, writer_concurrency=1))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One connection in an outer transaction, rolled back after the test."""
    async with engine.connect() as conn:
        outer = await conn.begin()
        try:
            yield conn
        finally:
            if outer.is_active:
                await outer.rollback()


@pytest.fixture
async def db(connection: AsyncConnection, app) -> AsyncIterator[AsyncSession]:
    """A session inside the test's transaction; the app's sessions join it with savepoints."""
    maker = async_sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    original = app.state.sessionmaker
    app.state.sessionmaker = maker
    async with maker() as session:
        try:
            yield session
        finally:
            app.state.sessionmaker = original


@pytest.fixture
async def client(app, db: AsyncSession) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


KeyMaker = Callable[..., Awaitable[str]]


@pytest.fixture
def make_key(db: AsyncSession) -> KeyMaker:
    """Create an API key inside the test transaction; returns the bearer secret."""

    async def make(scope: Scope | str, **kwargs: object) -> str:
        _, token = await auth_service.create_key(db, scope=Scope(scope), **kwargs)  # type: ignore[arg-type]
        await db.commit()
        return token

    return make


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


TokenMinter = Callable[..., Awaitable[str]]


@pytest.fixture
def mint_token(client: httpx.AsyncClient, ingest_headers: dict[str, str]) -> TokenMinter:
    """Mint a feedback token over HTTP, as a frontend's backend does; returns the token."""

    async def mint(**body: Any) -> str:
        response = await client.post("/api/v1/feedback-tokens", json=body, headers=ingest_headers)
        assert response.status_code == 201, response.text
        token: str = response.json()["token"]
        return token

    return mint


async def count_rows(conn: AsyncConnection | AsyncSession | AsyncEngine, table: str) -> int:
    """How many rows `table` (optionally with a WHERE clause) holds, seen from `conn`."""
    statement = sa.text(f"SELECT count(*) FROM {table}")
    if isinstance(conn, AsyncEngine):
        async with conn.connect() as connection:
            return int((await connection.execute(statement)).scalar_one())
    return int((await conn.execute(statement)).scalar_one())


@pytest.fixture
async def admin_headers(make_key: KeyMaker) -> dict[str, str]:
    return bearer(await make_key(Scope.admin, name="test admin"))


@pytest.fixture
async def ingest_headers(make_key: KeyMaker) -> dict[str, str]:
    return bearer(await make_key(Scope.ingest, name="test ingest"))


@contextlib.asynccontextmanager
async def app_on_own_database(
    databases: DatabaseFactory, *, routers: Sequence[APIRouter] = (), **overrides: object
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app on its own freshly migrated database with real commits (no outer
    transaction), started, and an HTTP client for it; `overrides` are settings."""
    url = await databases.migrated()
    application = create_app(make_settings(url, **overrides))
    for router in routers:
        application.include_router(router)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            yield application, http


@pytest.fixture
async def committed_app(databases: DatabaseFactory):
    """An app on its own freshly migrated database, with real commits (no outer transaction).
    For concurrency, idempotency races and anything that must see committed rows."""
    # Concurrency tests queue hundreds of requests on 2 shared cores: wait for the pool.
    async with app_on_own_database(databases, db_pool_timeout_seconds=60) as (application, _):
        yield application


async def committed_key(app: FastAPI, scope: Scope | str = Scope.ingest, **kwargs: Any) -> str:
    """Create and commit an API key on an app with real commits; returns the bearer secret."""
    async with app.state.sessionmaker() as session:
        _, token = await auth_service.create_key(session, scope=Scope(scope), **kwargs)
        await session.commit()
    return token


FIGURES: list[str] = []


@pytest.fixture
def figure() -> Callable[[str], None]:
    """Record a measured figure (the reliability, hostile and topology suites); all of
    them are printed at the end of the run, for docs/reliability.md."""
    return FIGURES.append


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("measured figures (docs/reliability.md)")
        for line in FIGURES:
            terminalreporter.write_line(line)


# pytest-alembic: its built-in tests (single head, upgrade, model/DDL match, up/down
# consistency) run on a fresh empty database each.
@pytest.fixture
def alembic_config():
    config = migrate.alembic_config()
    config.attributes["configure_logging"] = False
    return config


@pytest.fixture
async def alembic_engine(databases: DatabaseFactory) -> AsyncIterator[AsyncEngine]:
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    engine = create_async_engine(await databases.empty(), poolclass=NullPool)
    yield engine
    await engine.dispose()
