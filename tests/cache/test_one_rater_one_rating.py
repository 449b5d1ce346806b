"""With a feedback token, one token (or the user it is bound to) is one rater: a later
rating replaces the earlier one in the tallies (history kept). Key ratings each count."""

from __future__ import annotations

import asyncio

import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.cache.flagging import GOOD_RATING
from app.main import create_app
from tests.cache.conftest import EntryMaker, TokenMaker
from tests.conftest import bearer, committed_key, make_settings

ENTRIES = "/api/v1/cache/entries"
CURRENT_TRUTH = (
    "SELECT count(*), coalesce(sum(rating), 0), count(*) FILTER (WHERE rating >= :good) "
    "FROM cache_feedback WHERE cache_key = :k AND superseded_at IS NULL"
)


async def _rate(http: httpx.AsyncClient, key: str, headers: dict[str, str], rating: int) -> str:
    response = await http.post(
        f"{ENTRIES}/{key}/feedback", json={"rating": rating}, headers=headers
    )
    assert response.status_code == 201, response.text
    status: str = response.json()["entry_status"]
    return status


async def _tally(db: AsyncSession, key: str) -> tuple[int, int, int]:
    row = (
        await db.execute(
            sa.text(
                "SELECT rating_count, rating_sum, good_count FROM response_cache "
                "WHERE cache_key = :k"
            ),
            {"k": key},
        )
    ).one()
    truth = (await db.execute(sa.text(CURRENT_TRUTH), {"k": key, "good": GOOD_RATING})).one()
    assert tuple(row) == tuple(truth)
    return (row[0], row[1], row[2])


async def test_five_bad_ratings_from_one_token_count_once_and_do_not_flag(
    client: httpx.AsyncClient,
    make_entry: EntryMaker,
    cache_token: TokenMaker,
    ingest_headers: dict[str, str],
    db: AsyncSession,
) -> None:
    await make_entry("k-spam")
    token = bearer(await cache_token("k-spam"))
    statuses = [await _rate(client, "k-spam", token, 1) for _ in range(5)]
    assert statuses == ["active"] * 5  # min_ratings is 5, but this is one rater
    assert await _tally(db, "k-spam") == (1, 1, 0)
    entry = (await client.get(f"{ENTRIES}/k-spam", headers=ingest_headers)).json()
    assert (entry["rating_count"], entry["status"]) == (1, "active")
    # History is kept: five rows, four of them superseded.
    superseded = await db.scalar(
        sa.text(
            "SELECT count(*) FILTER (WHERE superseded_at IS NOT NULL) FROM cache_feedback "
            "WHERE cache_key = 'k-spam'"
        )
    )
    assert superseded == 4


async def test_a_later_rating_replaces_the_earlier_one(
    client: httpx.AsyncClient, make_entry: EntryMaker, cache_token: TokenMaker, db: AsyncSession
) -> None:
    await make_entry("k-change")
    token = bearer(await cache_token("k-change"))
    await _rate(client, "k-change", token, GOOD_RATING - 1)
    assert await _tally(db, "k-change") == (1, GOOD_RATING - 1, 0)
    await _rate(client, "k-change", token, GOOD_RATING)
    assert await _tally(db, "k-change") == (1, GOOD_RATING, 1)


async def test_tokens_bound_to_one_user_are_one_rater_distinct_tokens_are_not(
    client: httpx.AsyncClient, make_entry: EntryMaker, cache_token: TokenMaker, db: AsyncSession
) -> None:
    await make_entry("k-user")
    first = bearer(await cache_token("k-user", user_id=6101))
    second = bearer(await cache_token("k-user", user_id=6101))
    await _rate(client, "k-user", first, 2)
    await _rate(client, "k-user", second, 5)
    assert await _tally(db, "k-user") == (1, 5, 1)
    anonymous = [bearer(await cache_token("k-user")) for _ in range(2)]
    for token in anonymous:
        await _rate(client, "k-user", token, 1)
    assert await _tally(db, "k-user") == (3, 7, 1)


async def test_key_ratings_each_count_as_sent_and_flag(
    client: httpx.AsyncClient,
    make_entry: EntryMaker,
    ingest_headers: dict[str, str],
    db: AsyncSession,
) -> None:
    await make_entry("k-backend")
    statuses = [await _rate(client, "k-backend", ingest_headers, 1) for _ in range(5)]
    assert statuses[-1] == "flagged"
    assert await _tally(db, "k-backend") == (5, 5, 0)


async def test_deleting_ratings_keeps_tallies_of_current_ones(
    client: httpx.AsyncClient, make_entry: EntryMaker, cache_token: TokenMaker, db: AsyncSession
) -> None:
    """Erasure and retention delete rows: a superseded row leaves the tallies unchanged."""
    await make_entry("k-del")
    token = bearer(await cache_token("k-del"))
    await _rate(client, "k-del", token, 5)
    await _rate(client, "k-del", token, 2)
    await db.execute(sa.text("DELETE FROM cache_feedback WHERE cache_key = 'k-del' AND rating = 5"))
    assert await _tally(db, "k-del") == (1, 2, 0)
    await db.execute(sa.text("DELETE FROM cache_feedback WHERE cache_key = 'k-del'"))
    assert await _tally(db, "k-del") == (0, 0, 0)


async def test_analytics_histogram_counts_current_ratings(
    client: httpx.AsyncClient,
    make_entry: EntryMaker,
    cache_token: TokenMaker,
    admin_headers: dict[str, str],
) -> None:
    await make_entry("k-hist")
    token = bearer(await cache_token("k-hist"))
    for rating in (1, 1, 5):
        await _rate(client, "k-hist", token, rating)
    analytics = (await client.get("/api/v1/analytics/cache", headers=admin_headers)).json()
    assert analytics["ratings"]["1"] == 0
    assert analytics["ratings"]["5"] == 1


async def test_trigger_sql_uses_the_python_good_rating(db: AsyncSession) -> None:
    """One home for the threshold: the migrated trigger functions say `>= GOOD_RATING`."""
    for function in ("cache_feedback_tally", "cache_feedback_supersede"):
        body = await db.scalar(
            sa.text("SELECT pg_get_functiondef(CAST(:f AS regproc))"), {"f": function}
        )
        assert f">= {GOOD_RATING} THEN" in body
        assert ">= " + str(GOOD_RATING + 1) not in body


async def test_concurrent_ratings_of_one_token_leave_one_current(committed_app: FastAPI) -> None:
    ingest = bearer(await committed_key(committed_app))
    transport = httpx.ASGITransport(app=committed_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        body = {"cache_key": "k-race", "provider": "p", "model": "m", "cost_usd": 0.01}
        assert (await http.post(ENTRIES, json=body, headers=ingest)).status_code == 201
        minted = await http.post(
            "/api/v1/feedback-tokens", json={"cache_key": "k-race"}, headers=ingest
        )
        token = bearer(minted.json()["token"])
        responses = await asyncio.gather(
            *(
                http.post(f"{ENTRIES}/k-race/feedback", json={"rating": 1}, headers=token)
                for _ in range(20)
            )
        )
        assert [r.status_code for r in responses] == [201] * 20
        entry = (await http.get(f"{ENTRIES}/k-race", headers=ingest)).json()
    assert (entry["rating_count"], entry["status"]) == (1, "active")
    async with committed_app.state.sessionmaker() as session:
        current = await session.scalar(
            sa.text(
                "SELECT count(*) FROM cache_feedback "
                "WHERE cache_key = 'k-race' AND superseded_at IS NULL"
            )
        )
    assert current == 1


async def test_one_token_cannot_exhaust_the_rate_limit_of_other_raters(databases) -> None:
    app = create_app(make_settings(await databases.migrated(), token_rate_limit_per_minute=3))
    async with app.router.lifespan_context(app):
        ingest = bearer(await committed_key(app))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            body = {"cache_key": "k-rl", "provider": "p", "model": "m", "cost_usd": 0.01}
            await http.post(ENTRIES, json=body, headers=ingest)
            tokens = []
            for _ in range(2):
                minted = await http.post(
                    "/api/v1/feedback-tokens", json={"cache_key": "k-rl"}, headers=ingest
                )
                tokens.append(bearer(minted.json()["token"]))
            spammer, other = tokens
            spam = [
                await http.post(f"{ENTRIES}/k-rl/feedback", json={"rating": 1}, headers=spammer)
                for _ in range(4)
            ]
            assert [r.status_code for r in spam] == [201, 201, 201, 429]
            assert "retry-after" in spam[-1].headers
            fair = await http.post(f"{ENTRIES}/k-rl/feedback", json={"rating": 4}, headers=other)
            assert fair.status_code == 201
