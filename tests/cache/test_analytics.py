"""GET /api/v1/analytics/cache against a hand-computed dataset."""

import datetime as dt
from decimal import Decimal

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

URL = "/api/v1/analytics/cache"

# key, cost_usd, created_at, status, flagged_at
ENTRIES = [
    ("A", "0.01", "2026-01-01T10:00Z", "active", None),
    ("B", "0.5", "2026-01-02T10:00Z", "active", None),
    ("C", "2.0", "2026-01-05T00:00Z", "flagged", "2026-01-05T12:00Z"),
    ("D", "0", "2026-01-03T00:00Z", "flagged", "2026-01-10T00:00Z"),
]
HIT_DAYS = [
    ("A", "2026-01-01", 10),
    ("A", "2026-01-02", 5),
    ("A", "2026-01-06", 100),
    ("B", "2026-01-02", 4),
    ("B", "2026-01-04", 1),
    ("C", "2026-01-05", 3),
    ("D", "2026-01-03", 1000),
]
RATINGS = [
    ("A", 5, "2026-01-02T01:00Z"),
    ("A", 4, "2026-01-03T00:00Z"),
    ("A", 1, "2026-01-01T00:00Z"),
    ("B", 2, "2026-01-04T00:00Z"),
    ("B", 2, "2026-01-04T08:00Z"),
    ("B", 3, "2026-01-05T23:59Z"),
    ("C", 1, "2026-01-05T01:00Z"),
    ("C", 1, "2026-01-05T02:00Z"),
    ("C", 5, "2026-01-06T00:00Z"),  # the window's `to` is exclusive
]


def ts(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value is not None else None


@pytest.fixture
async def dataset(db: AsyncSession) -> None:
    for key, cost, created, status, flagged in ENTRIES:
        await db.execute(
            sa.text(
                "INSERT INTO response_cache"
                " (cache_key, provider, model, cost_usd, created_at, status, flagged_at,"
                "  hit_count)"
                " VALUES (:k, 'p', 'm', :c, :t, CAST(:s AS cache_entry_status), :f, 0)"
            ),
            {"k": key, "c": Decimal(cost), "t": ts(created), "s": status, "f": ts(flagged)},
        )
    for key, day, hits in HIT_DAYS:
        await db.execute(
            sa.text("INSERT INTO cache_hit_days (cache_key, day, hits) VALUES (:k, :d, :h)"),
            {"k": key, "d": dt.date.fromisoformat(day), "h": hits},
        )
    for key, rating, created in RATINGS:
        await db.execute(
            sa.text(
                "INSERT INTO cache_feedback (cache_key, rating, created_at) VALUES (:k, :r, :t)"
            ),
            {"k": key, "r": rating, "t": ts(created)},
        )
    await db.commit()


async def test_default_window_is_the_last_thirty_days(
    client: httpx.AsyncClient, admin_headers: dict[str, str], dataset: None
) -> None:
    # Every row of the dataset is from January 2026, long before the default window.
    body = (await client.get(URL, headers=admin_headers)).json()
    assert (body["entries"], body["hits"], body["rating_count"]) == (0, 0, 0)


async def test_whole_history(
    client: httpx.AsyncClient, admin_headers: dict[str, str], dataset: None
) -> None:
    params = {"from": "2025-12-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}
    response = await client.get(URL, params=params, headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["entries"] == 4
    assert body["hits"] == 10 + 5 + 100 + 4 + 1 + 3 + 1000
    # A: 115 * 0.01 + B: 5 * 0.5 + C: 3 * 2.0 + D: 1000 * 0
    assert body["cost_saved_usd"] == pytest.approx(1.15 + 2.5 + 6.0)
    assert body["ratings"] == {"1": 3, "2": 2, "3": 1, "4": 1, "5": 2}
    assert body["rating_count"] == 9
    assert body["avg_rating"] == pytest.approx(24 / 9)
    assert body["satisfaction"] == pytest.approx(3 / 9)
    assert body["flagged"] == ["D", "C"]  # newest flag first
    assert body["flagged_count"] == 2


async def test_midnight_aligned_window(
    client: httpx.AsyncClient, admin_headers: dict[str, str], dataset: None
) -> None:
    params = {"from": "2026-01-02T00:00:00Z", "to": "2026-01-06T00:00:00Z"}
    body = (await client.get(URL, params=params, headers=admin_headers)).json()
    assert body["entries"] == 3  # B, D, C
    # days 01-02 .. 01-05: A 5, B 4 + 1, C 3, D 1000
    assert body["hits"] == 1013
    assert body["cost_saved_usd"] == pytest.approx(5 * 0.01 + 5 * 0.5 + 3 * 2.0)
    assert body["ratings"] == {"1": 2, "2": 2, "3": 1, "4": 1, "5": 1}
    assert body["rating_count"] == 7
    assert body["avg_rating"] == pytest.approx(18 / 7)
    assert body["satisfaction"] == pytest.approx(2 / 7)
    assert body["flagged"] == ["C"]  # D's flag was raised after the window
    assert body["flagged_count"] == 1


async def test_partial_days_count_whole_days_they_touch(
    client: httpx.AsyncClient, admin_headers: dict[str, str], dataset: None
) -> None:
    params = {"from": "2026-01-02T12:00:00+00:00", "to": "2026-01-04T06:00:00+00:00"}
    body = (await client.get(URL, params=params, headers=admin_headers)).json()
    # days 01-02, 01-03, 01-04: A 5, B 4 + 1, D 1000
    assert body["hits"] == 1010
    assert body["cost_saved_usd"] == pytest.approx(0.05 + 2.5)
    assert body["entries"] == 1  # D (B was created 01-02T10:00, before `from`)
    # ratings are exact timestamps: A 4 (01-03), B 2 (01-04T00:00)
    assert body["ratings"] == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 0}


async def test_empty_window(
    client: httpx.AsyncClient, admin_headers: dict[str, str], dataset: None
) -> None:
    params = {"from": "2030-01-01T00:00:00Z", "to": "2031-01-01T00:00:00Z"}
    body = (await client.get(URL, params=params, headers=admin_headers)).json()
    assert body == {
        "entries": 0,
        "hits": 0,
        "cost_saved_usd": 0.0,
        "ratings": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
        "rating_count": 0,
        "avg_rating": None,
        "satisfaction": None,
        "flagged": [],
        "flagged_count": 0,
    }


async def test_hits_through_the_api_feed_cost_saved(
    client: httpx.AsyncClient, admin_headers: dict[str, str], ingest_headers: dict[str, str]
) -> None:
    body = {"cache_key": "live", "provider": "p", "model": "m", "cost_usd": 0.125}
    await client.post("/api/v1/cache/entries", json=body, headers=ingest_headers)
    for _ in range(4):
        await client.post("/api/v1/cache/entries/live/hits", headers=ingest_headers)
    analytics = (await client.get(URL, headers=admin_headers)).json()
    assert analytics["hits"] == 4
    assert analytics["cost_saved_usd"] == pytest.approx(0.5)


async def test_auth_and_bad_window(
    client: httpx.AsyncClient, admin_headers: dict[str, str], ingest_headers: dict[str, str]
) -> None:
    assert (await client.get(URL)).status_code == 401
    assert (await client.get(URL, headers=ingest_headers)).status_code == 403
    params = {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    response = await client.get(URL, params=params, headers=admin_headers)
    assert response.status_code == 422
    assert (
        await client.get(URL, params={"from": "nope"}, headers=admin_headers)
    ).status_code == 422
