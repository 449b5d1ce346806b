"""POST .../feedback: ratings, tokens, User-Agent, flagging at its boundary, and unflag."""

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from tests.cache.conftest import EntryMaker, TokenMaker
from tests.conftest import bearer

ENTRIES = "/api/v1/cache/entries"


def feedback_url(key: str) -> str:
    return f"{ENTRIES}/{key}/feedback"


async def test_rating_with_ingest_key_is_201_and_stored(
    client: httpx.AsyncClient,
    ingest_headers: dict[str, str],
    make_entry: EntryMaker,
    db: AsyncSession,
) -> None:
    await make_entry("k-rate")
    response = await client.post(
        feedback_url("k-rate"),
        json={"rating": 4, "comment": "Spot on.", "user_id": 77},
        headers={**ingest_headers, "User-Agent": "Mozilla/5.0 test"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "entry_status"}
    assert body["entry_status"] == "active"
    row = (
        await db.execute(sa.text("SELECT * FROM cache_feedback WHERE id = :id"), {"id": body["id"]})
    ).one()
    assert (row.cache_key, row.rating, row.comment, row.user_agent, row.user_id) == (
        "k-rate",
        4,
        "Spot on.",
        "Mozilla/5.0 test",
        77,
    )
    entry = (await client.get(f"{ENTRIES}/k-rate", headers=ingest_headers)).json()
    assert entry["rating_count"] == 1
    assert entry["avg_rating"] == 4.0


async def test_user_agent_is_truncated_to_512(
    client: httpx.AsyncClient,
    ingest_headers: dict[str, str],
    make_entry: EntryMaker,
    db: AsyncSession,
) -> None:
    await make_entry("k-ua")
    agent = "A" * 600
    response = await client.post(
        feedback_url("k-ua"), json={"rating": 3}, headers={**ingest_headers, "User-Agent": agent}
    )
    assert response.status_code == 201
    stored = await db.scalar(sa.text("SELECT user_agent FROM cache_feedback"))
    assert stored == "A" * 512


async def test_avg_rating_over_several(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], make_entry: EntryMaker
) -> None:
    await make_entry("k-avg")
    for rating in (5, 4, 1):
        await client.post(feedback_url("k-avg"), json={"rating": rating}, headers=ingest_headers)
    entry = (await client.get(f"{ENTRIES}/k-avg", headers=ingest_headers)).json()
    assert entry["rating_count"] == 3
    assert entry["avg_rating"] == pytest.approx(10 / 3)


async def test_unknown_key_is_404(
    client: httpx.AsyncClient,
    ingest_headers: dict[str, str],
    cache_token: TokenMaker,
    db: AsyncSession,
) -> None:
    response = await client.post(feedback_url("nope"), json={"rating": 3}, headers=ingest_headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    token = bearer(await cache_token("nope"))
    response = await client.post(feedback_url("nope"), json={"rating": 3}, headers=token)
    assert response.status_code == 404
    assert await db.scalar(sa.text("SELECT count(*) FROM cache_feedback")) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rating": 0}, "rating"),
        ({"rating": 6}, "rating"),
        ({"rating": "good"}, "rating"),
        ({}, "rating"),
        ({"rating": 3, "comment": "x" * 4001}, "comment"),
        ({"rating": 3, "comment": "a\u0000b"}, "comment"),
        ({"rating": 3, "user_id": 0}, "user_id"),
        ({"rating": 3, "extra": True}, "extra"),
    ],
)
async def test_invalid_rating_is_422(
    client: httpx.AsyncClient,
    ingest_headers: dict[str, str],
    make_entry: EntryMaker,
    body: dict[str, object],
    field: str,
) -> None:
    await make_entry("k-422")
    response = await client.post(feedback_url("k-422"), json=body, headers=ingest_headers)
    assert response.status_code == 422, response.text
    assert field in {error["field"] for error in response.json()["errors"]}


async def test_comment_of_4000_chars_is_accepted(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], make_entry: EntryMaker
) -> None:
    await make_entry("k-4000")
    body = {"rating": 3, "comment": "x" * 4000}
    response = await client.post(feedback_url("k-4000"), json=body, headers=ingest_headers)
    assert response.status_code == 201


async def test_token_for_this_key_may_rate_and_records_bound_user(
    client: httpx.AsyncClient, make_entry: EntryMaker, cache_token: TokenMaker, db: AsyncSession
) -> None:
    await make_entry("k-tok")
    anonymous = bearer(await cache_token("k-tok"))
    assert (
        await client.post(feedback_url("k-tok"), json={"rating": 5}, headers=anonymous)
    ).status_code == 201
    bound = bearer(await cache_token("k-tok", user_id=4211))
    response = await client.post(feedback_url("k-tok"), json={"rating": 2}, headers=bound)
    assert response.status_code == 201
    users = (
        await db.scalars(sa.text("SELECT user_id FROM cache_feedback ORDER BY rating DESC"))
    ).all()
    assert users == [None, 4211]


async def test_token_refusals(
    client: httpx.AsyncClient,
    ingest_headers: dict[str, str],
    make_entry: EntryMaker,
    cache_token: TokenMaker,
    db: AsyncSession,
) -> None:
    await make_entry("k-a")
    await make_entry("k-b")
    other_key = bearer(await cache_token("k-b"))
    response = await client.post(feedback_url("k-a"), json={"rating": 5}, headers=other_key)
    assert response.status_code == 403

    conversation = await client.post(
        "/api/v1/feedback-tokens", json={"conversation_id": "conv-1"}, headers=ingest_headers
    )
    conv_token = bearer(conversation.json()["token"])
    response = await client.post(feedback_url("k-a"), json={"rating": 5}, headers=conv_token)
    assert response.status_code == 403

    # a token cannot claim a user it is not bound to
    anonymous = bearer(await cache_token("k-a"))
    response = await client.post(
        feedback_url("k-a"), json={"rating": 5, "user_id": 9}, headers=anonymous
    )
    assert response.status_code == 403
    bound = bearer(await cache_token("k-a", user_id=8))
    response = await client.post(
        feedback_url("k-a"), json={"rating": 5, "user_id": 9}, headers=bound
    )
    assert response.status_code == 403

    assert (await client.post(feedback_url("k-a"), json={"rating": 5})).status_code == 401
    garbage = bearer("fbt_not-a-token")
    assert (
        await client.post(feedback_url("k-a"), json={"rating": 5}, headers=garbage)
    ).status_code == 401
    assert await db.scalar(sa.text("SELECT count(*) FROM cache_feedback")) == 0


async def rate(client: httpx.AsyncClient, headers: dict[str, str], key: str, rating: int) -> str:
    response = await client.post(feedback_url(key), json={"rating": rating}, headers=headers)
    assert response.status_code == 201, response.text
    status: str = response.json()["entry_status"]
    return status


async def entry_of(
    client: httpx.AsyncClient, headers: dict[str, str], key: str
) -> dict[str, object]:
    response = await client.get(f"{ENTRIES}/{key}", headers=headers)
    assert response.status_code == 200
    result: dict[str, object] = response.json()
    return result


async def test_flagging_boundary_n_minus_one_bad_then_the_nth(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], make_entry: EntryMaker
) -> None:
    # defaults: at least 5 ratings, Wilson upper bound of the good share < 0.5
    await make_entry("k-flag")
    for rating in (1, 2, 3, 1):
        assert await rate(client, ingest_headers, "k-flag", rating) == "active"
    entry = await entry_of(client, ingest_headers, "k-flag")
    assert (entry["status"], entry["flagged_at"], entry["rating_count"]) == ("active", None, 4)

    assert await rate(client, ingest_headers, "k-flag", 2) == "flagged"
    entry = await entry_of(client, ingest_headers, "k-flag")
    assert entry["status"] == "flagged"
    assert entry["flagged_at"] is not None
    assert entry["rating_count"] == 5

    # later good ratings do not unflag; only an admin does
    assert await rate(client, ingest_headers, "k-flag", 5) == "flagged"


async def test_one_good_rating_in_five_is_not_enough_evidence(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], make_entry: EntryMaker
) -> None:
    # 1 good of 5: upper bound 0.62; 1 of 7: 0.51; 1 of 8: 0.47 → flagged by the 8th
    await make_entry("k-mixed")
    statuses = [await rate(client, ingest_headers, "k-mixed", r) for r in (5, 1, 1, 1, 1, 1, 1)]
    assert set(statuses) == {"active"}
    assert await rate(client, ingest_headers, "k-mixed", 1) == "flagged"


async def test_flag_thresholds_come_from_settings(
    app: FastAPI,
    client: httpx.AsyncClient,
    ingest_headers: dict[str, str],
    make_entry: EntryMaker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = app.state.settings.model_copy(
        update={"cache_flag_min_ratings": 3, "cache_flag_good_share_upper_bound": 0.6}
    )
    monkeypatch.setattr(app.state, "settings", settings)
    await make_entry("k-settings")
    # 0 good of 3: upper bound z²/(3+z²) ≈ 0.56 < 0.6
    assert await rate(client, ingest_headers, "k-settings", 1) == "active"
    assert await rate(client, ingest_headers, "k-settings", 1) == "active"
    assert await rate(client, ingest_headers, "k-settings", 1) == "flagged"


async def test_admin_clears_a_flag_and_the_next_rating_reapplies_the_rule(
    client: httpx.AsyncClient,
    ingest_headers: dict[str, str],
    admin_headers: dict[str, str],
    make_entry: EntryMaker,
) -> None:
    await make_entry("k-clear")
    for _ in range(5):
        await rate(client, ingest_headers, "k-clear", 1)
    assert (await entry_of(client, ingest_headers, "k-clear"))["status"] == "flagged"

    url = f"{ENTRIES}/k-clear/unflag"
    assert (await client.post(url, headers=ingest_headers)).status_code == 403
    assert (await client.post(url)).status_code == 401
    response = await client.post(url, headers=admin_headers)
    assert response.status_code == 200
    assert response.json()["status"] == "active"
    assert response.json()["flagged_at"] is None
    assert response.json()["rating_count"] == 5
    # clearing an active entry is a no-op, not an error
    assert (await client.post(url, headers=admin_headers)).json()["status"] == "active"

    # the ratings as a whole still show it bad: the next rating flags it again
    assert await rate(client, ingest_headers, "k-clear", 3) == "flagged"


async def test_unflag_unknown_key_is_404(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(f"{ENTRIES}/nope/unflag", headers=admin_headers)
    assert response.status_code == 404


async def test_upsert_keeps_the_flag(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], make_entry: EntryMaker
) -> None:
    await make_entry("k-keepflag")
    for _ in range(5):
        await rate(client, ingest_headers, "k-keepflag", 1)
    updated = await make_entry("k-keepflag", cost_usd=1)
    assert updated["status"] == "flagged"
