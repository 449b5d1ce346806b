"""One live service for the hostile tests (`tests/browser.running_service`: uvicorn in a
subprocess on a free loopback port), its own migrated database with the demo data, and a
credential of every kind."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from app.auth import service as auth_service
from app.auth.models import Scope
from app.db import create_engine, make_sessionmaker
from tests.browser import running_service
from tests.conftest import DatabaseFactory, make_settings
from tests.dashboard import live
from tests.hostile import schemathesis_runs
from tests.hostile.st_hooks import WEBHOOK_ALLOW_HOSTS


@dataclass(frozen=True)
class Stack:
    """The live service and what a test needs to call it as each kind of caller."""

    base_url: str
    database_url: str
    admin: str
    ingest: str
    expert: str
    expert_id: str
    other_expert_id: str
    conversation_id: str
    conversation_token: str
    cache_key: str
    cache_token: str


@dataclass(frozen=True)
class Prepared:
    database_url: str
    expert: str
    expert_id: str
    other_expert_id: str
    cache_key: str


@pytest.fixture(scope="session")
async def hostile_database(databases: DatabaseFactory) -> Prepared:
    url = await databases.migrated()
    engine = create_engine(make_settings(url), url)
    try:
        await live.prepare_demo_database(engine)
        async with make_sessionmaker(engine)() as session:
            experts = (
                await session.execute(sa.text("SELECT id FROM expert_profiles ORDER BY id LIMIT 2"))
            ).scalars()
            expert_id, other_expert_id = (str(e) for e in experts)
            cache_key = await session.scalar(
                sa.text("SELECT cache_key FROM response_cache ORDER BY cache_key LIMIT 1")
            )
            _, expert = await auth_service.create_key(
                session, scope=Scope.expert, expert_id=uuid.UUID(expert_id), name="hostile"
            )
            await session.commit()
    finally:
        await engine.dispose()
    return Prepared(url, expert, expert_id, other_expert_id, str(cache_key))


@pytest.fixture(scope="session")
async def hostile_stack(
    hostile_database: Prepared, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    log = tmp_path_factory.mktemp("hostile") / "uvicorn.log"
    async with running_service(
        hostile_database.database_url,
        log,
        # Fuzzed credentials would spend the per-address failure budget and 429 the rest
        # (the budget, rate limits and key cache are tested in tests/auth).
        failed_auth_per_minute="0",
        token_rate_limit_per_minute="0",
        api_key_cache_seconds="0",
        webhook_allow_hosts=WEBHOOK_ALLOW_HOSTS,
        **live.LIVE_SETTINGS,
    ) as service:
        conversation_id = f"conv-hostile-{uuid.uuid4().hex[:8]}"
        conversation_token = await service.mint_token(conversation_id=conversation_id)
        cache_token = await service.mint_token(cache_key=hostile_database.cache_key)
        yield Stack(
            base_url=service.base_url,
            database_url=hostile_database.database_url,
            admin=service.admin_key,
            ingest=service.ingest_key,
            expert=hostile_database.expert,
            expert_id=hostile_database.expert_id,
            other_expert_id=hostile_database.other_expert_id,
            conversation_id=conversation_id,
            conversation_token=conversation_token,
            cache_key=hostile_database.cache_key,
            cache_token=cache_token,
        )


@pytest.fixture(scope="session")
def schemathesis_started(
    hostile_stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, schemathesis_runs.Run]]:
    """The schemathesis runs, started with the first hostile test: on two shared cores a
    run mostly waits on the service, so the other tests use the time."""
    runs = schemathesis_runs.start(hostile_stack, tmp_path_factory.mktemp("schemathesis"))
    try:
        yield runs
    finally:
        for run in runs.values():
            if run.process.poll() is None:
                run.process.kill()
                run.process.wait(timeout=10)


@pytest.fixture(autouse=True)
def _schemathesis_in_the_background(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("hostile") is not None:
        request.getfixturevalue("schemathesis_started")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The test that waits for the runs goes last, so the rest run while they do.
    items.sort(key=lambda item: item.nodeid.startswith("tests/hostile/test_schemathesis.py"))
