"""The rating tallies on response_cache are kept by a database trigger, so they stay equal
to the cache_feedback rows whatever writes or deletes them (API, erasure, retention, SQL)."""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

TALLY = "SELECT rating_count, rating_sum, good_count FROM response_cache WHERE cache_key = 'k'"
TRUTH = (
    "SELECT count(*), coalesce(sum(rating), 0), count(*) FILTER (WHERE rating >= 4) "
    "FROM cache_feedback WHERE cache_key = 'k'"
)


async def _tally(db: AsyncSession) -> tuple[int, int, int]:
    row = (await db.execute(sa.text(TALLY))).one()
    assert tuple(row) == tuple((await db.execute(sa.text(TRUTH))).one())
    return (row[0], row[1], row[2])


async def test_tallies_follow_inserts_and_deletes(db: AsyncSession) -> None:
    await db.execute(
        sa.text(
            "INSERT INTO response_cache (cache_key, provider, model, cost_usd) "
            "VALUES ('k', 'p', 'm', 0.01)"
        )
    )
    assert await _tally(db) == (0, 0, 0)
    await db.execute(
        sa.text(
            "INSERT INTO cache_feedback (cache_key, rating) "
            "SELECT 'k', r FROM unnest(ARRAY[5, 4, 1, 2, 5]) AS r"
        )
    )
    assert await _tally(db) == (5, 17, 3)
    await db.execute(sa.text("DELETE FROM cache_feedback WHERE cache_key = 'k' AND rating = 5"))
    assert await _tally(db) == (3, 7, 1)
    # Deleting the entry cascades to its ratings; the trigger finds no entry to update.
    await db.execute(sa.text("DELETE FROM response_cache WHERE cache_key = 'k'"))
    assert await db.scalar(sa.text("SELECT count(*) FROM cache_feedback")) == 0


async def test_entry_reads_use_the_tallies(client, ingest_headers) -> None:
    body = {"cache_key": "k", "provider": "p", "model": "m", "cost_usd": "0.01"}
    await client.post("/api/v1/cache/entries", headers=ingest_headers, json=body)
    for rating in (5, 2, 2):
        await client.post(
            "/api/v1/cache/entries/k/feedback", headers=ingest_headers, json={"rating": rating}
        )
    entry = (await client.get("/api/v1/cache/entries/k", headers=ingest_headers)).json()
    assert entry["rating_count"] == 3
    assert entry["avg_rating"] == 3.0
