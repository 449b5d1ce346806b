"""The lean path of POST /api/v1/feedback (`app/votes/fast.py`) answers exactly as the
FastAPI route does: each request goes to two apps on the same database, one with the fast
path and one without (`VOTE_FAST_PATH=false`), and the answers are compared — status,
headers and, for errors and replays, the exact body bytes; for a created vote the body's
shape and the stored row."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlmodel import col

from app.main import create_app
from app.votes.fast import FastVotes, fast_votes_of
from app.votes.models import Vote
from tests.conftest import bearer, make_settings
from tests.votes.conftest import TokenMaker

URL = "/api/v1/feedback"
# Differ between any two responses by design.
VOLATILE_HEADERS = {"x-request-id", "date", "server"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


@pytest.fixture(scope="session")
async def reference_app(database_url: str) -> AsyncIterator[FastAPI]:
    """The same service with the fast path off: the FastAPI route serves every vote."""
    # One writer loop: `pair` makes its sessions join the test's one connection.
    application = create_app(
        make_settings(database_url, vote_fast_path=False, writer_concurrency=1)
    )
    async with application.router.lifespan_context(application):
        yield application


@dataclass
class Pair:
    fast: httpx.AsyncClient
    reference: httpx.AsyncClient
    fast_app: FastAPI


@pytest.fixture
async def pair(
    app: FastAPI,
    reference_app: FastAPI,
    connection: AsyncConnection,
    db: AsyncSession,
    client: httpx.AsyncClient,
) -> AsyncIterator[Pair]:
    """Clients of both apps, whose sessions join the test's transaction."""
    maker = async_sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    original = reference_app.state.sessionmaker
    reference_app.state.sessionmaker = maker
    transport = httpx.ASGITransport(app=reference_app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as reference:
            yield Pair(fast=client, reference=reference, fast_app=app)
    finally:
        reference_app.state.sessionmaker = original


def _served(app: FastAPI) -> int:
    layer = fast_votes_of(app)
    assert isinstance(layer, FastVotes)
    return layer.served


def _headers(response: httpx.Response) -> list[tuple[str, str]]:
    return [
        (name, value if name != "content-length" else "*")
        for name, value in response.headers.multi_items()
        if name not in VOLATILE_HEADERS
    ]


async def _both(pair: Pair, **request: Any) -> tuple[httpx.Response, httpx.Response]:
    fast = await pair.fast.post(URL, **request)
    reference = await pair.reference.post(URL, **request)
    assert fast.status_code == reference.status_code, (fast.text, reference.text)
    return fast, reference


async def _row(db: AsyncSession, vote_id: str) -> dict[str, Any]:
    row = (await db.execute(sa.select(Vote).where(col(Vote.id) == uuid.UUID(vote_id)))).scalar_one()
    values = row.model_dump()
    assert TIMESTAMP.match(values.pop("created_at").isoformat().replace("+00:00", "Z"))
    values.pop("id")
    values.pop("updated_at", None)
    return values


CREATED = [
    {"json": {"conversation_id": "fp-1", "vote": "up"}},
    {
        "json": {
            "conversation_id": "fp-2",
            "vote": "down",
            "email": "ana@example.com",
            "expert_ids": ["exp-1", 7],
            "reasons": ["Wrong answer", "Outdated"],
            "comment": "The threshold changed — 2026.",
            "query_id": "5b1f0e2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
            "user_id": 4211,
        }
    },
    {"json": {"conversation_id": 42, "vote": "up", "email": "", "reasons": None, "x": [1]}},
    {"content": b'{"conversation_id": "fp-3", "vote": "up", "vote": "down"}'},
    {"content": b'{"conversation_id": "fp-4", "vote": "up", "extra": NaN}'},
    {"content": '{"conversation_id": "fp-é✓", "vote": "up"}'.encode()},
    {
        "content": b'{"conversation_id": "fp-5", "vote": "up"}',
        "headers": {"Content-Type": "Application/JSON; charset=utf-8"},
    },
    # FastAPI parses any `+json` type as JSON; the fast path leaves those to the route.
    {
        "content": b'{"conversation_id": "fp-6", "vote": "up"}',
        "headers": {"Content-Type": "application/vnd.votes+json"},
        "route": True,
    },
]


@pytest.mark.parametrize("request_", CREATED)
async def test_a_created_vote_is_the_same_on_both_paths(
    pair: Pair, ingest_headers: dict[str, str], db: AsyncSession, request_: dict[str, Any]
) -> None:
    headers = {"Content-Type": "application/json", **ingest_headers, **request_.get("headers", {})}
    kwargs = {k: v for k, v in request_.items() if k not in ("headers", "route")}
    await pair.fast.get("/healthz")  # the middleware stack exists once the app served one
    before = _served(pair.fast_app)
    fast, reference = await _both(pair, headers=headers, **kwargs)
    # The fast path answered it (or, for what it leaves to the route, did not).
    assert _served(pair.fast_app) == before + (0 if request_.get("route") else 1)
    assert fast.status_code == 201, fast.text
    assert _headers(fast) == _headers(reference)
    fast_body, reference_body = fast.json(), reference.json()
    assert list(fast_body) == list(reference_body) == ["status", "id", "created_at"]
    assert fast_body["status"] == reference_body["status"] == "ok"
    assert TIMESTAMP.match(fast_body["created_at"])
    assert TIMESTAMP.match(reference_body["created_at"])
    assert await _row(db, fast_body["id"]) == await _row(db, reference_body["id"])


@pytest.mark.parametrize(
    "request_",
    [
        {"json": {"conversation_id": "fp", "vote": "sideways"}},
        {"json": {"conversation_id": "", "vote": "up", "reasons": ["x" * 101]}},
        {"json": {"vote": "up"}},
        {"json": ["not", "an", "object"]},
        {"json": None},
        {"content": b'{"conversation_id": "fp", "vote": "up"'},  # truncated JSON
        {"content": b'{"conversation_id": "a\tb", "vote": "up"}'},  # raw control character
        {"content": b""},
        {"content": b"\xff\xfe not utf-8"},
        {"content": b'{"conversation_id": "fp", "vote": "up", "x": ' + b"[" * 100_000},
        {"content": b'{"conversation_id": "fp", "vote": "up"}', "type": "text/plain"},
        {"content": b'{"conversation_id": "fp", "vote": "up"}', "type": None},
        {"json": {"conversation_id": "fp", "vote": "up"}, "idempotency_key": ""},
        {"json": {"conversation_id": "fp", "vote": "up"}, "idempotency_key": "k" * 256},
        {"json": {"conversation_id": "fp", "vote": "bad"}, "idempotency_key": ""},
        {"json": {"conversation_id": "fp", "vote": "up"}, "auth": None},
        {"json": {"conversation_id": "fp", "vote": "up"}, "auth": "fbk_nope_nope"},
    ],
)
async def test_a_refused_vote_is_byte_for_byte_the_same(
    pair: Pair, ingest_headers: dict[str, str], db: AsyncSession, request_: dict[str, Any]
) -> None:
    request = dict(request_)
    headers: dict[str, str] = dict(ingest_headers)
    auth = request.pop("auth", "keep")
    if auth is None:
        headers.pop("Authorization")
    elif auth != "keep":
        headers = bearer(auth)
    content_type = request.pop("type", "application/json")
    if "content" in request and content_type is not None:
        headers["Content-Type"] = content_type
    if "idempotency_key" in request:
        headers["Idempotency-Key"] = request.pop("idempotency_key")
    fast, reference = await _both(pair, headers=headers, **request)
    assert fast.status_code >= 400
    assert _headers(fast) == _headers(reference)
    assert fast.content == reference.content
    assert (await db.execute(sa.select(sa.func.count()).select_from(Vote))).scalar_one() == 0


async def test_token_rules_are_the_same_on_both_paths(
    pair: Pair, token_headers: TokenMaker, db: AsyncSession
) -> None:
    token = await token_headers(conversation_id="conv-t", user_id=77)
    anonymous = await token_headers(conversation_id="conv-t")
    cases = [
        (token, {"conversation_id": "conv-t", "vote": "down", "reasons": ["slow"]}, 201),
        (token, {"conversation_id": "conv-t", "vote": "up", "user_id": 77}, 201),
        (token, {"conversation_id": "conv-t", "vote": "up", "user_id": 78}, 403),
        (token, {"conversation_id": "conv-other", "vote": "up"}, 403),
        (anonymous, {"conversation_id": "conv-t", "vote": "up", "user_id": 5}, 403),
        (anonymous, {"conversation_id": "conv-t", "vote": "up"}, 201),
    ]
    for headers, body, status in cases:
        fast, reference = await _both(pair, json=body, headers=headers)
        assert fast.status_code == status, fast.text
        assert _headers(fast) == _headers(reference)
        if status == 201:
            assert await _row(db, fast.json()["id"]) == await _row(db, reference.json()["id"])
        else:
            assert fast.content == reference.content


async def test_a_key_without_the_scope_is_403_on_both_paths(
    pair: Pair, make_key: Any, db: AsyncSession
) -> None:
    from app.experts.models import ExpertProfile
    from app.users.service import register_user

    await register_user(db, 31)
    insert = sa.insert(ExpertProfile).values(user_id=31).returning(col(ExpertProfile.id))
    expert_id = (await db.execute(insert)).scalar_one()
    headers = bearer(await make_key("expert", name="e", expert_id=expert_id))
    fast, reference = await _both(
        pair, json={"conversation_id": "c", "vote": "up"}, headers=headers
    )
    assert fast.status_code == 403
    assert _headers(fast) == _headers(reference)
    assert fast.content == reference.content


async def test_idempotency_key_replays_across_paths(
    pair: Pair, ingest_headers: dict[str, str], db: AsyncSession
) -> None:
    """A retry replays the first answer whichever path served either request, and a
    reused key with another body is the same 409 on both."""
    body = {"conversation_id": "conv-idem", "vote": "down", "reasons": ["incorrect"]}
    headers = {**ingest_headers, "Idempotency-Key": "fp-key-1"}
    first = await pair.fast.post(URL, json=body, headers=headers)
    assert first.status_code == 201, first.text
    fast, reference = await _both(pair, json=body, headers=headers)
    for replay in (fast, reference):
        assert replay.status_code == 201
        assert replay.content == first.content
        assert replay.headers["Idempotent-Replayed"] == "true"
    assert _headers(fast) == _headers(reference)
    other = {**body, "vote": "up"}
    fast, reference = await _both(pair, json=other, headers=headers)
    assert fast.status_code == 409
    assert fast.content == reference.content
    assert _headers(fast) == _headers(reference)
    count = (
        sa.select(sa.func.count()).select_from(Vote).where(col(Vote.conversation_id) == "conv-idem")
    )
    assert (await db.execute(count)).scalar_one() == 1


@pytest.mark.parametrize(
    "created_at",
    [
        dt.datetime(2026, 12, 1, 22, 38, 30, 123456, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 1, 22, 38, 30, tzinfo=dt.UTC),  # no microseconds
        dt.datetime(2026, 12, 1, 23, 38, 30, 5, tzinfo=dt.timezone(dt.timedelta(hours=1))),
    ],
)
def test_the_201_body_is_what_the_json_encoder_renders(created_at: dt.datetime) -> None:
    """The writer renders a created vote with pydantic's serializer; the bytes are those
    FastAPI's encoder gave (`render_json(jsonable_encoder(...))`) before."""
    from fastapi.encoders import jsonable_encoder

    from app.votes.ingest import VOTES
    from app.votes.schemas import VoteRecorded
    from app.writer import render_json

    recorded = VoteRecorded(id=uuid.uuid4(), created_at=created_at)
    assert VOTES.render(recorded) == render_json(jsonable_encoder(recorded))
