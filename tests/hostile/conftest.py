"""One live service for the hostile tests: uvicorn in a subprocess on a free loopback port,
its own migrated database with the demo data, and a credential of every kind."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from app.auth import service as auth_service
from app.auth.models import Scope
from app.db import create_engine, make_sessionmaker
from tests.conftest import TOKEN_SECRET, DatabaseFactory, make_settings
from tests.dashboard import live


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
    admin: str
    ingest: str
    expert: str
    expert_id: str
    other_expert_id: str
    cache_key: str


@pytest.fixture(scope="session")
async def hostile_database(databases: DatabaseFactory) -> Prepared:
    url = await databases.migrated()
    engine = create_engine(make_settings(url), url)
    try:
        admin = await live.prepare_demo_database(engine)
        async with make_sessionmaker(engine)() as session:
            experts = (
                await session.execute(sa.text("SELECT id FROM expert_profiles ORDER BY id LIMIT 2"))
            ).scalars()
            expert_id, other_expert_id = (str(e) for e in experts)
            cache_key = await session.scalar(
                sa.text("SELECT cache_key FROM response_cache ORDER BY cache_key LIMIT 1")
            )
            _, ingest = await auth_service.create_key(session, scope=Scope.ingest, name="hostile")
            _, expert = await auth_service.create_key(
                session, scope=Scope.expert, expert_id=uuid.UUID(expert_id), name="hostile"
            )
            await session.commit()
    finally:
        await engine.dispose()
    return Prepared(url, admin, ingest, expert, expert_id, other_expert_id, str(cache_key))


@pytest.fixture(scope="session")
def hostile_stack(
    hostile_database: Prepared, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    log = Path(tmp_path_factory.mktemp("hostile")) / "uvicorn.log"
    env = {
        "FAILED_AUTH_PER_MINUTE": "0",
        "API_KEY_CACHE_SECONDS": "0",
        "TOKEN_RATE_LIMIT_PER_MINUTE": "0",
    }
    with live.live_server(hostile_database.database_url, TOKEN_SECRET, log, env=env) as base:
        conversation_id = f"conv-hostile-{uuid.uuid4().hex[:8]}"
        with httpx.Client(base_url=base, timeout=30) as http:
            auth = {"Authorization": f"Bearer {hostile_database.ingest}"}
            conv = http.post(
                "/api/v1/feedback-tokens", headers=auth, json={"conversation_id": conversation_id}
            )
            cache = http.post(
                "/api/v1/feedback-tokens",
                headers=auth,
                json={"cache_key": hostile_database.cache_key},
            )
            assert conv.status_code == cache.status_code == 201, (conv.text, cache.text)
        yield Stack(
            base_url=base,
            database_url=hostile_database.database_url,
            admin=hostile_database.admin,
            ingest=hostile_database.ingest,
            expert=hostile_database.expert,
            expert_id=hostile_database.expert_id,
            other_expert_id=hostile_database.other_expert_id,
            conversation_id=conversation_id,
            conversation_token=conv.json()["token"],
            cache_key=hostile_database.cache_key,
            cache_token=cache.json()["token"],
        )
