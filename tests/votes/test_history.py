"""GET /api/v1/conversations/{conversation_id}/votes: current vote and history."""

import datetime as dt
import uuid
from urllib.parse import quote

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.votes.models import Vote, VoteDirection
from tests.votes.conftest import TokenMaker


def votes_url(conversation_id: str) -> str:
    return f"/api/v1/conversations/{quote(conversation_id, safe='')}/votes"


async def test_switch_up_down_up_keeps_three_rows_and_current_is_up(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    ids = []
    for vote, reasons in (("up", []), ("down", ["Wrong answer"]), ("up", [])):
        response = await client.post(
            "/api/v1/feedback",
            json={"conversation_id": "conv-switch", "vote": vote, "reasons": reasons},
            headers=ingest_headers,
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])

    response = await client.get(votes_url("conv-switch"), headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["current"] == "up"
    history = body["history"]
    assert [h["id"] for h in history] == list(reversed(ids))  # newest first
    assert [h["vote"] for h in history] == ["up", "down", "up"]
    assert history[1]["reasons"] == ["Wrong answer"]
    stamps = [dt.datetime.fromisoformat(h["created_at"]) for h in history]
    assert stamps == sorted(stamps, reverse=True)
    assert set(history[0]) >= {"id", "vote", "reasons", "comment", "created_at"}


async def test_unknown_conversation_is_200_with_no_current_vote(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get(votes_url("never-voted"), headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"current": None, "history": []}


async def test_ties_on_created_at_are_broken_by_id_desc(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    at = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
    low, high = uuid.UUID(int=1), uuid.UUID(int=2)
    # Insert the higher id first so insertion order cannot be what decides.
    await db.execute(
        sa.insert(Vote).values(
            [
                {
                    "id": high,
                    "conversation_id": "tie",
                    "vote": VoteDirection.down,
                    "created_at": at,
                },
                {"id": low, "conversation_id": "tie", "vote": VoteDirection.up, "created_at": at},
            ]
        )
    )
    for _ in range(3):
        body = (await client.get(votes_url("tie"), headers=admin_headers)).json()
        assert body["current"] == "down"
        assert [h["id"] for h in body["history"]] == [str(high), str(low)]


async def test_other_conversations_are_not_mixed_in(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    for cid, vote in (("conv-a", "down"), ("conv-b", "up"), ("conv-a2", "up")):
        await client.post(
            "/api/v1/feedback",
            json={"conversation_id": cid, "vote": vote},
            headers=ingest_headers,
        )
    body = (await client.get(votes_url("conv-a"), headers=admin_headers)).json()
    assert body["current"] == "down"
    assert len(body["history"]) == 1


async def test_unicode_and_sql_looking_strings_round_trip_unchanged(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    conversation_id = '対話-😀 Robert\'); DROP TABLE votes;-- 100% ?x=1#frag \\ "q"'
    reasons = ["' OR 1=1 --", "émoji 🎉", "日本語の理由", "$1; SELECT pg_sleep(10)"]
    comment = "Ünïcödé ✓ \u202eRTL\u202c\n\ttabs; DELETE FROM users WHERE '1'='1'; -- \U0001d518"
    expert_ids = ["exp-'; --", "専門家"]
    response = await client.post(
        "/api/v1/feedback",
        json={
            "conversation_id": conversation_id,
            "vote": "down",
            "reasons": reasons,
            "comment": comment,
            "expert_ids": expert_ids,
        },
        headers=ingest_headers,
    )
    assert response.status_code == 201, response.text

    got = await client.get(votes_url(conversation_id), headers=admin_headers)
    assert got.status_code == 200, got.text
    [item] = got.json()["history"]
    assert item["reasons"] == reasons
    assert item["comment"] == comment
    assert item["expert_ids"] == expert_ids
    assert got.json()["current"] == "down"


async def test_path_validation(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    too_long = await client.get(votes_url("x" * 201), headers=admin_headers)
    assert too_long.status_code == 422
    nul = await client.get("/api/v1/conversations/a%00b/votes", headers=admin_headers)
    assert nul.status_code == 422, nul.text
    assert {e["field"] for e in nul.json()["errors"]} == {"conversation_id"}


async def test_reading_votes_is_admin_only(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], token_headers: TokenMaker
) -> None:
    url = votes_url("conv-a")
    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers=ingest_headers)).status_code == 403
    token = await token_headers(conversation_id="conv-a")
    assert (await client.get(url, headers=token)).status_code == 403
