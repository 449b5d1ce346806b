"""POST /api/v1/feedback: the body frontends send, validation, auth and token rules."""

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.users.models import User
from app.votes.models import Vote
from tests.votes.conftest import TokenMaker

URL = "/api/v1/feedback"

# The body the phase-06 frontend already sends (seed 004): conversation_id from the SSE
# result event, the vote, and the optional email / expert_ids / reasons / comment of the
# downvote sheet, with nulls where the user gave nothing.
SEED_004_BODY: dict[str, Any] = {
    "conversation_id": "42",
    "vote": "down",
    "email": "ana@example.com",
    "expert_ids": ["exp-1", "exp-2"],
    "reasons": ["Wrong answer", "Outdated info"],
    "comment": "The threshold changed this year.",
}


async def stored(db: AsyncSession, vote_id: str) -> Vote:
    row = (await db.execute(sa.select(Vote).where(col(Vote.id) == uuid.UUID(vote_id)))).scalar_one()
    return row


async def test_seed_004_body_is_accepted_unchanged(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], db: AsyncSession
) -> None:
    response = await client.post(URL, json=SEED_004_BODY, headers=ingest_headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert response.headers["content-type"] == "application/json"
    row = await stored(db, body["id"])
    created_at = dt.datetime.fromisoformat(body["created_at"])
    assert created_at.utcoffset() == dt.timedelta(0)
    assert created_at == row.created_at
    assert (row.conversation_id, row.vote, row.email) == ("42", "down", "ana@example.com")
    assert row.expert_ids == ["exp-1", "exp-2"]
    assert row.reasons == ["Wrong answer", "Outdated info"]
    assert row.comment == "The threshold changed this year."


@pytest.mark.parametrize(
    "body",
    [
        # Nulls for everything the user skipped.
        {
            "conversation_id": "c-1",
            "vote": "up",
            "email": None,
            "expert_ids": None,
            "reasons": None,
            "comment": None,
        },
        # An up vote sends only the two required fields.
        {"conversation_id": "c-1", "vote": "up"},
        # Extra fields the old frontend adds are ignored, not rejected.
        {
            "conversation_id": "c-1",
            "vote": "down",
            "reasons": [],
            "comment": "",
            "email": "",
            "timestamp": "2026-02-20T19:51:19Z",
            "message_index": 3,
            "source": "chat",
        },
        # Numeric ids from the old Conversation table and expert search results.
        {"conversation_id": 42, "vote": "down", "expert_ids": [7, 12]},
    ],
)
async def test_frontend_body_variants_are_accepted(
    client: httpx.AsyncClient,
    ingest_headers: dict[str, str],
    db: AsyncSession,
    body: dict[str, Any],
) -> None:
    response = await client.post(URL, json=body, headers=ingest_headers)
    assert response.status_code == 201, response.text
    row = await stored(db, response.json()["id"])
    assert row.conversation_id == str(body["conversation_id"])
    assert row.email is None
    assert row.reasons == (body.get("reasons") or [])
    assert row.expert_ids == [str(e) for e in body.get("expert_ids") or []]


async def test_an_integral_float_id_is_stored_as_the_integers_text(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], db: AsyncSession
) -> None:
    # The schema says integer, and JSON Schema counts 42.0 as the integer 42 (schemathesis
    # sent it); it is stored as "42", like 42.
    body = {"conversation_id": 42.0, "vote": "up", "expert_ids": [7.0]}
    response = await client.post(URL, json=body, headers=ingest_headers)
    assert response.status_code == 201, response.text
    row = await stored(db, response.json()["id"])
    assert (row.conversation_id, row.expert_ids) == ("42", ["7"])


def _long_list(n: int) -> list[str]:
    return [f"reason {i}" for i in range(n)]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"vote": "sideways"}, "vote"),
        ({"vote": "UP"}, "vote"),
        ({"vote": None}, "vote"),
        ({"vote": 1}, "vote"),
        ({"conversation_id": ""}, "conversation_id"),
        ({"conversation_id": "x" * 201}, "conversation_id"),
        ({"conversation_id": None}, "conversation_id"),
        ({"conversation_id": True}, "conversation_id"),
        ({"conversation_id": "a\x00b"}, "conversation_id"),
        ({"query_id": "not-a-uuid"}, "query_id"),
        ({"user_id": 0}, "user_id"),
        ({"user_id": "abc"}, "user_id"),
        ({"user_id": 2**63}, "user_id"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b@c.com"}, "email"),
        ({"reasons": _long_list(21)}, "reasons"),
        ({"reasons": ["x" * 101]}, "reasons.0"),
        ({"reasons": ["ok", ""]}, "reasons.1"),
        ({"reasons": ["bad\x00"]}, "reasons.0"),
        ({"reasons": "Wrong answer"}, "reasons"),
        ({"expert_ids": [f"e{i}" for i in range(101)]}, "expert_ids"),
        ({"expert_ids": ["e\x00"]}, "expert_ids.0"),
        ({"comment": "x" * 4001}, "comment"),
        ({"comment": "nul\x00byte"}, "comment"),
    ],
)
async def test_every_validation_rule_is_a_422_on_its_field(
    client: httpx.AsyncClient,
    ingest_headers: dict[str, str],
    db: AsyncSession,
    change: dict[str, Any],
    field: str,
) -> None:
    body = {**SEED_004_BODY, **change}
    if change.get("vote", "") is None:
        del body["vote"]  # missing, as well as null-valued below
    response = await client.post(URL, json=body, headers=ingest_headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    fields = {e["field"] for e in response.json()["errors"]}
    assert field in fields, response.json()
    count = (await db.execute(sa.select(sa.func.count()).select_from(Vote))).scalar_one()
    assert count == 0


async def test_limits_themselves_are_accepted(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], db: AsyncSession
) -> None:
    body = {
        "conversation_id": "c" * 200,
        "vote": "down",
        "reasons": ["r" * 100] * 20,
        "comment": "c" * 4000,
        "query_id": str(uuid.uuid4()),
        "user_id": 2**63 - 1,
    }
    response = await client.post(URL, json=body, headers=ingest_headers)
    assert response.status_code == 201, response.text
    row = await stored(db, response.json()["id"])
    assert len(row.reasons) == 20
    assert row.comment == "c" * 4000
    assert str(row.query_id) == body["query_id"]
    assert row.user_id == 2**63 - 1


async def test_body_user_id_is_registered_in_the_same_transaction(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], db: AsyncSession
) -> None:
    response = await client.post(
        URL,
        json={"conversation_id": "c-u", "vote": "up", "user_id": 9001},
        headers=ingest_headers,
    )
    assert response.status_code == 201, response.text
    assert (await db.get(User, 9001)) is not None
    assert (await stored(db, response.json()["id"])).user_id == 9001


async def test_admin_key_may_vote(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    response = await client.post(
        URL, json={"conversation_id": "c", "vote": "up"}, headers=admin_headers
    )
    assert response.status_code == 201, response.text


async def test_missing_or_unknown_credentials_are_401(client: httpx.AsyncClient) -> None:
    body = {"conversation_id": "c", "vote": "up"}
    assert (await client.post(URL, json=body)).status_code == 401
    unknown = {"Authorization": "Bearer fbk_nope_nope"}
    assert (await client.post(URL, json=body, headers=unknown)).status_code == 401


async def test_expert_key_is_403(client: httpx.AsyncClient, make_key, db: AsyncSession) -> None:
    from app.experts.models import ExpertProfile
    from app.users.service import register_user
    from tests.conftest import bearer

    await register_user(db, 31)
    insert = sa.insert(ExpertProfile).values(user_id=31).returning(col(ExpertProfile.id))
    expert_id = (await db.execute(insert)).scalar_one()
    headers = bearer(await make_key("expert", name="e", expert_id=expert_id))
    response = await client.post(URL, json={"conversation_id": "c", "vote": "up"}, headers=headers)
    assert response.status_code == 403, response.text


async def test_token_for_the_conversation_is_accepted(
    client: httpx.AsyncClient, token_headers: TokenMaker, db: AsyncSession
) -> None:
    headers = await token_headers(conversation_id="conv-a")
    response = await client.post(
        URL,
        json={"conversation_id": "conv-a", "vote": "down", "reasons": ["slow"]},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert (await stored(db, response.json()["id"])).user_id is None


async def test_token_for_another_conversation_is_403(
    client: httpx.AsyncClient, token_headers: TokenMaker, db: AsyncSession
) -> None:
    headers = await token_headers(conversation_id="conv-a")
    response = await client.post(
        URL, json={"conversation_id": "conv-b", "vote": "up"}, headers=headers
    )
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    count = (await db.execute(sa.select(sa.func.count()).select_from(Vote))).scalar_one()
    assert count == 0


async def test_token_for_a_cache_key_cannot_vote(
    client: httpx.AsyncClient, token_headers: TokenMaker
) -> None:
    headers = await token_headers(cache_key="ck-1")
    response = await client.post(
        URL, json={"conversation_id": "ck-1", "vote": "up"}, headers=headers
    )
    assert response.status_code == 403, response.text


async def test_token_without_user_refuses_a_body_user_id(
    client: httpx.AsyncClient, token_headers: TokenMaker, db: AsyncSession
) -> None:
    headers = await token_headers(conversation_id="conv-a")
    response = await client.post(
        URL, json={"conversation_id": "conv-a", "vote": "up", "user_id": 5}, headers=headers
    )
    assert response.status_code == 403, response.text
    assert (await db.get(User, 5)) is None


async def test_token_bound_user_rules(
    client: httpx.AsyncClient, token_headers: TokenMaker, db: AsyncSession
) -> None:
    headers = await token_headers(conversation_id="conv-a", user_id=77)
    other = await client.post(
        URL, json={"conversation_id": "conv-a", "vote": "up", "user_id": 78}, headers=headers
    )
    assert other.status_code == 403, other.text
    same = await client.post(
        URL, json={"conversation_id": "conv-a", "vote": "up", "user_id": 77}, headers=headers
    )
    assert same.status_code == 201, same.text
    implicit = await client.post(
        URL, json={"conversation_id": "conv-a", "vote": "down"}, headers=headers
    )
    assert implicit.status_code == 201, implicit.text
    # The token's user is recorded (and registered) even when the body omits it.
    assert (await stored(db, implicit.json()["id"])).user_id == 77
    assert (await db.get(User, 77)) is not None
    assert (await db.get(User, 78)) is None


async def test_idempotency_key_replays_without_a_second_row(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], db: AsyncSession
) -> None:
    headers = {**ingest_headers, "Idempotency-Key": "vote-1"}
    first = await client.post(URL, json=SEED_004_BODY, headers=headers)
    again = await client.post(URL, json=SEED_004_BODY, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    count = (await db.execute(sa.select(sa.func.count()).select_from(Vote))).scalar_one()
    assert count == 1
