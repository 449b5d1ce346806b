"""POST/GET/DELETE /api/v1/cache/entries and POST .../hits."""

import datetime as dt

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from tests.cache.conftest import EntryMaker, TokenMaker
from tests.conftest import bearer

ENTRIES = "/api/v1/cache/entries"


def ts(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


async def test_create_returns_201_with_the_entry(
    client: httpx.AsyncClient, ingest_headers: dict[str, str]
) -> None:
    body = {
        "cache_key": "sha256:abc",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "prompt_hash": "5e88",
        "cost_usd": 0.0042,
    }
    response = await client.post(ENTRIES, json=body, headers=ingest_headers)
    assert response.status_code == 201, response.text
    entry = response.json()
    assert entry["cache_key"] == "sha256:abc"
    assert entry["provider"] == "openai"
    assert entry["model"] == "gpt-4o-mini"
    assert entry["prompt_hash"] == "5e88"
    assert entry["cost_usd"] == pytest.approx(0.0042)
    assert entry["hit_count"] == 0
    assert entry["last_hit_at"] is None
    assert entry["rating_count"] == 0
    assert entry["avg_rating"] is None
    assert entry["status"] == "active"
    assert entry["flagged_at"] is None
    assert entry["expires_at"] is None
    assert ts(entry["created_at"]).tzinfo is not None


async def test_same_key_again_updates_with_200_and_keeps_hits(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], make_entry: EntryMaker
) -> None:
    first = await make_entry("k-up", cost_usd=0.5)
    assert (await client.post(f"{ENTRIES}/k-up/hits", headers=ingest_headers)).status_code == 204

    body = {
        "cache_key": "k-up",
        "provider": "anthropic",
        "model": "claude",
        "cost_usd": "0.25",
        "ttl_seconds": 3600,
    }
    response = await client.post(ENTRIES, json=body, headers=ingest_headers)
    assert response.status_code == 200, response.text
    entry = response.json()
    assert entry["provider"] == "anthropic"
    assert entry["model"] == "claude"
    assert entry["prompt_hash"] is None
    assert entry["cost_usd"] == pytest.approx(0.25)
    assert entry["hit_count"] == 1
    assert entry["created_at"] == first["created_at"]
    # expires_at = now() + ttl; now() is the (test's) transaction time, as was created_at
    assert ts(entry["expires_at"]) - ts(entry["created_at"]) == dt.timedelta(seconds=3600)

    # an update without ttl_seconds clears the expiry
    body.pop("ttl_seconds")
    again = await client.post(ENTRIES, json=body, headers=ingest_headers)
    assert again.status_code == 200
    assert again.json()["expires_at"] is None


async def test_cost_is_stored_to_the_micro_dollar(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], make_entry: EntryMaker
) -> None:
    entry = await make_entry("k-micro", cost_usd=0.0000126)
    assert entry["cost_usd"] == pytest.approx(0.000013)


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"cost_usd": -0.01}, "cost_usd"),
        ({"cost_usd": "NaN"}, "cost_usd"),
        ({"cost_usd": 1e9}, "cost_usd"),
        ({"cost_usd": None}, "cost_usd"),
        ({"provider": ""}, "provider"),
        ({"model": "x" * 201}, "model"),
        ({"cache_key": ""}, "cache_key"),
        ({"cache_key": "k" * 513}, "cache_key"),
        ({"cache_key": "bad\u0000key"}, "cache_key"),
        ({"prompt_hash": "p\u0000"}, "prompt_hash"),
        ({"ttl_seconds": 0}, "ttl_seconds"),
        ({"unknown": 1}, "unknown"),
    ],
)
async def test_invalid_entry_is_422_naming_the_field(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], patch: dict[str, object], field: str
) -> None:
    body = {"cache_key": "k", "provider": "openai", "model": "m", "cost_usd": 0.1, **patch}
    response = await client.post(ENTRIES, json=body, headers=ingest_headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in {error["field"] for error in response.json()["errors"]}


async def test_missing_cost_is_422(
    client: httpx.AsyncClient, ingest_headers: dict[str, str]
) -> None:
    body = {"cache_key": "k", "provider": "openai", "model": "m"}
    response = await client.post(ENTRIES, json=body, headers=ingest_headers)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["cost_usd"]


async def test_admin_may_create(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    body = {"cache_key": "k-admin", "provider": "p", "model": "m", "cost_usd": 0}
    assert (await client.post(ENTRIES, json=body, headers=admin_headers)).status_code == 201


async def test_auth_401_and_403(
    client: httpx.AsyncClient, make_entry: EntryMaker, cache_token: TokenMaker
) -> None:
    await make_entry("k-auth")
    token = bearer(await cache_token("k-auth"))
    body = {"cache_key": "k-auth", "provider": "p", "model": "m", "cost_usd": 0}
    assert (await client.post(ENTRIES, json=body)).status_code == 401
    assert (await client.post(ENTRIES, json=body, headers=token)).status_code == 403
    assert (await client.get(f"{ENTRIES}/k-auth")).status_code == 401
    assert (await client.get(f"{ENTRIES}/k-auth", headers=token)).status_code == 403
    assert (await client.post(f"{ENTRIES}/k-auth/hits")).status_code == 401
    assert (await client.post(f"{ENTRIES}/k-auth/hits", headers=token)).status_code == 403
    assert (await client.delete(f"{ENTRIES}/k-auth", headers=token)).status_code == 403


async def test_get_entry_and_unknown_key_404(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], make_entry: EntryMaker
) -> None:
    created = await make_entry("k-get")
    response = await client.get(f"{ENTRIES}/k-get", headers=ingest_headers)
    assert response.status_code == 200
    assert response.json() == created

    missing = await client.get(f"{ENTRIES}/nope", headers=ingest_headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert "nope" in missing.json()["detail"]


async def test_path_key_with_nul_or_too_long_is_422(
    client: httpx.AsyncClient, ingest_headers: dict[str, str]
) -> None:
    assert (await client.get(f"{ENTRIES}/a%00b", headers=ingest_headers)).status_code == 422
    long_key = "k" * 513
    assert (await client.get(f"{ENTRIES}/{long_key}", headers=ingest_headers)).status_code == 422


async def test_hits_count_and_record_the_day(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], make_entry: EntryMaker, db
) -> None:
    await make_entry("k-hits")
    for _ in range(3):
        response = await client.post(f"{ENTRIES}/k-hits/hits", headers=ingest_headers)
        assert response.status_code == 204
        assert response.content == b""
    entry = (await client.get(f"{ENTRIES}/k-hits", headers=ingest_headers)).json()
    assert entry["hit_count"] == 3
    assert entry["last_hit_at"] is not None

    rows = (
        await db.execute(
            sa.text(
                "SELECT day, hits, (now() AT TIME ZONE 'UTC')::date AS today"
                " FROM cache_hit_days WHERE cache_key = 'k-hits'"
            )
        )
    ).all()
    assert len(rows) == 1
    assert rows[0].hits == 3
    assert rows[0].day == rows[0].today


async def test_hit_on_unknown_key_is_404_and_counts_nothing(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], db: AsyncSession
) -> None:
    response = await client.post(f"{ENTRIES}/nope/hits", headers=ingest_headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    count = await db.scalar(sa.text("SELECT count(*) FROM cache_hit_days"))
    assert count == 0


async def test_delete_is_admin_only(
    client: httpx.AsyncClient,
    ingest_headers: dict[str, str],
    make_entry: EntryMaker,
    db: AsyncSession,
) -> None:
    """An ingest key must not delete an entry: users' ratings would go with it."""
    await make_entry("k-guarded")
    await client.post(f"{ENTRIES}/k-guarded/feedback", json={"rating": 5}, headers=ingest_headers)
    response = await client.delete(f"{ENTRIES}/k-guarded", headers=ingest_headers)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    count = await db.scalar(
        sa.text("SELECT count(*) FROM cache_feedback WHERE cache_key = 'k-guarded'")
    )
    assert count == 1


async def test_delete_removes_entry_ratings_and_hit_days(
    client: httpx.AsyncClient,
    ingest_headers: dict[str, str],
    admin_headers: dict[str, str],
    make_entry: EntryMaker,
    db: AsyncSession,
) -> None:
    await make_entry("k-del")
    await make_entry("k-keep")
    for key in ("k-del", "k-keep"):
        await client.post(f"{ENTRIES}/{key}/hits", headers=ingest_headers)
        rated = await client.post(
            f"{ENTRIES}/{key}/feedback", json={"rating": 2}, headers=ingest_headers
        )
        assert rated.status_code == 201

    response = await client.delete(f"{ENTRIES}/k-del", headers=admin_headers)
    assert response.status_code == 204
    assert (await client.get(f"{ENTRIES}/k-del", headers=ingest_headers)).status_code == 404
    assert (await client.delete(f"{ENTRIES}/k-del", headers=admin_headers)).status_code == 404

    for table in ("cache_feedback", "cache_hit_days"):
        keys = (await db.scalars(sa.text(f"SELECT cache_key FROM {table}"))).all()
        assert keys == ["k-keep"], table


async def test_sql_delete_cascades_to_feedback(
    client: httpx.AsyncClient,
    ingest_headers: dict[str, str],
    make_entry: EntryMaker,
    db: AsyncSession,
) -> None:
    await make_entry("k-sql")
    for rating in (1, 5):
        await client.post(
            f"{ENTRIES}/k-sql/feedback", json={"rating": rating}, headers=ingest_headers
        )
    await client.post(f"{ENTRIES}/k-sql/hits", headers=ingest_headers)
    assert await db.scalar(sa.text("SELECT count(*) FROM cache_feedback")) == 2

    await db.execute(sa.text("DELETE FROM response_cache WHERE cache_key = 'k-sql'"))
    orphans = await db.scalar(
        sa.text(
            "SELECT count(*) FROM cache_feedback f"
            " LEFT JOIN response_cache e ON e.cache_key = f.cache_key WHERE e.id IS NULL"
        )
    )
    assert orphans == 0
    assert await db.scalar(sa.text("SELECT count(*) FROM cache_feedback")) == 0
    assert await db.scalar(sa.text("SELECT count(*) FROM cache_hit_days")) == 0


async def test_list_entries_pages_newest_first_and_filters_by_status(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], db: AsyncSession
) -> None:
    for i in range(5):
        await db.execute(
            sa.text(
                "INSERT INTO response_cache (cache_key, provider, model, cost_usd, created_at,"
                " status) VALUES (:k, 'p', 'm', 0, :t, CAST(:s AS cache_entry_status))"
            ),
            {
                "k": f"e{i}",
                "t": dt.datetime(2026, 1, 1, i, tzinfo=dt.UTC),
                "s": "flagged" if i % 2 == 0 else "active",
            },
        )
    await db.commit()

    first = await client.get(ENTRIES, params={"limit": 2}, headers=ingest_headers)
    assert first.status_code == 200
    assert [e["cache_key"] for e in first.json()["items"]] == ["e4", "e3"]
    cursor = first.json()["next_cursor"]
    second = await client.get(
        ENTRIES, params={"limit": 2, "cursor": cursor}, headers=ingest_headers
    )
    assert [e["cache_key"] for e in second.json()["items"]] == ["e2", "e1"]
    third = await client.get(
        ENTRIES, params={"limit": 2, "cursor": second.json()["next_cursor"]}, headers=ingest_headers
    )
    assert [e["cache_key"] for e in third.json()["items"]] == ["e0"]
    assert third.json()["next_cursor"] is None

    flagged = await client.get(ENTRIES, params={"status": "flagged"}, headers=ingest_headers)
    assert [e["cache_key"] for e in flagged.json()["items"]] == ["e4", "e2", "e0"]
    assert all(e["status"] == "flagged" for e in flagged.json()["items"])

    bad = await client.get(ENTRIES, params={"status": "evil"}, headers=ingest_headers)
    assert bad.status_code == 422
    bad_cursor = await client.get(ENTRIES, params={"cursor": "bm9wZQ"}, headers=ingest_headers)
    assert bad_cursor.status_code == 422
    assert (await client.get(ENTRIES)).status_code == 401


async def test_a_retried_hit_with_the_same_idempotency_key_counts_once(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], make_entry: EntryMaker
) -> None:
    await make_entry("k-retry")
    headers = {**ingest_headers, "Idempotency-Key": "hit-0001"}
    first = await client.post(f"{ENTRIES}/k-retry/hits", headers=headers)
    again = await client.post(f"{ENTRIES}/k-retry/hits", headers=headers)
    assert (first.status_code, again.status_code) == (204, 204)
    assert again.headers.get("idempotent-replayed") == "true"
    entry = (await client.get(f"{ENTRIES}/k-retry", headers=ingest_headers)).json()
    assert entry["hit_count"] == 1
