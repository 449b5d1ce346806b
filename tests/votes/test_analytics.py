"""GET /api/v1/analytics/votes against a hand-computed dataset, and its query plan."""

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics.triggers import SLOT_SETTING
from app.query_params import MAX_BUCKETS, Bucket, bucket_count
from app.votes.models import Vote
from app.votes.service import analytics_statement
from tests.votes.conftest import TokenMaker

URL = "/api/v1/analytics/votes"
UTC = dt.UTC


def t(day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, second, micro, tzinfo=UTC)


# March 2026: the 2nd is a Monday. Each tuple: conversation, vote, created_at, reasons[, id].
# A conversation's current vote is its newest vote overall; it counts once, in the bucket of
# the time it was cast, if that time is inside the window.
DATASET: list[tuple[Any, ...]] = [
    # A switched inside the window: up (Mon) then down (Tue) -> counts once, as down on Tue.
    ("A", "up", t(2, 10), ["helpful"]),
    ("A", "down", t(3, 9), ["slow"]),
    # B: a down vote before the window, an up inside it -> up on Mon.
    ("B", "down", t(1, 23, 59, 59), ["before"]),
    ("B", "up", t(2, 8), []),
    # C: votes only outside [Mar 2, Mar 6): before, and exactly at `to` (exclusive).
    ("C", "up", t(1, 12), ["outside"]),
    ("C", "down", t(6), ["outside"]),
    # D: down at the last microsecond of Wed; a repeated reason counts once for the vote.
    ("D", "down", t(4, 23, 59, 59, 999999), ["wrong", "slow", "slow"]),
    # E: up exactly at `from` (inclusive).
    ("E", "up", t(2), ["fast"]),
    # F: down inside (Tue), then up after the window -> its current vote (up, Mar 7) is
    # outside [Mar 2, Mar 6), so F does not count there at all.
    ("F", "down", t(3, 12), ["wrong"]),
    ("F", "up", t(7), []),
    # G: two votes with the same timestamp: the higher id (up) is current.
    ("G", "down", t(4, 10), ["tie-loser"], uuid.UUID(int=1)),
    ("G", "up", t(4, 10), [], uuid.UUID(int=2)),
]


def _dataset_rows() -> list[dict[str, Any]]:
    rows = []
    for item in DATASET:
        row = {
            "conversation_id": item[0],
            "vote": item[1],
            "created_at": item[2],
            "reasons": item[3],
        }
        if len(item) == 5:
            row["id"] = item[4]
        rows.append(row)
    return rows


@pytest.fixture
async def dataset(db: AsyncSession) -> None:
    await db.execute(sa.insert(Vote), _dataset_rows())


def window(
    start: dt.datetime, end: dt.datetime, bucket: str = "day", **extra: Any
) -> dict[str, Any]:
    return {"from": start.isoformat(), "to": end.isoformat(), "bucket": bucket, **extra}


def point(day: int, up: int, down: int, sat: float | None) -> dict[str, Any]:
    return {"bucket_start": t(day), "up": up, "down": down, "satisfaction": sat}


def parsed_series(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {**p, "bucket_start": dt.datetime.fromisoformat(p["bucket_start"])} for p in body["series"]
    ]


async def test_daily_analytics_match_the_hand_computed_numbers(
    client: httpx.AsyncClient, admin_headers: dict[str, str], dataset: None
) -> None:
    response = await client.get(URL, params=window(t(2), t(6)), headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    # Current votes cast in [Mar 2, Mar 6): A down, B up, D down, E up, G up (C's and F's
    # current votes were cast on Mar 6 and Mar 7).
    assert body["totals"] == {"up": 3, "down": 2, "satisfaction": 0.6}
    assert parsed_series(body) == [
        point(2, 2, 0, 1.0),  # B up, E up (A's up was replaced by its down on Tue)
        point(3, 0, 1, 0.0),  # A down (F's down was replaced by its later up)
        point(4, 1, 1, 0.5),  # G up (tie broken by id), D down
        point(5, 0, 0, None),  # empty bucket present with zeros
    ]
    # Reasons of current votes only: slow (A, D), fast (E), wrong (D).
    assert body["top_reasons"] == [
        {"reason": "slow", "count": 2},
        {"reason": "fast", "count": 1},
        {"reason": "wrong", "count": 1},
    ]
    assert dt.datetime.fromisoformat(body["from"]) == t(2)
    assert dt.datetime.fromisoformat(body["to"]) == t(6)
    assert body["bucket"] == "day"


async def test_votes_written_in_several_writer_slots_add_up(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    # As two group-commit loops write them: each batch adds to its own slot's rollup rows.
    rows = _dataset_rows()
    for slot, part in ((1, rows[::2]), (2, rows[1::2])):
        await db.execute(
            sa.text("SELECT set_config(:name, :slot, true)"),
            {"name": SLOT_SETTING, "slot": str(slot)},
        )
        await db.execute(sa.insert(Vote), part)
    slots = await db.scalar(sa.text("SELECT count(DISTINCT slot) FROM vote_rollups"))
    assert slots == 2
    response = await client.get(URL, params=window(t(2), t(6)), headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    # The same answers as the dataset written by one writer (the test above).
    assert body["totals"] == {"up": 3, "down": 2, "satisfaction": 0.6}
    assert parsed_series(body) == [
        point(2, 2, 0, 1.0),
        point(3, 0, 1, 0.0),
        point(4, 1, 1, 0.5),
        point(5, 0, 0, None),
    ]
    assert body["top_reasons"] == [
        {"reason": "slow", "count": 2},
        {"reason": "fast", "count": 1},
        {"reason": "wrong", "count": 1},
    ]


async def test_top_limits_the_reasons(
    client: httpx.AsyncClient, admin_headers: dict[str, str], dataset: None
) -> None:
    response = await client.get(URL, params=window(t(2), t(6), top=2), headers=admin_headers)
    assert [r["reason"] for r in response.json()["top_reasons"]] == ["slow", "fast"]


async def test_weekly_buckets_start_on_monday_and_the_window_decides_the_current_vote(
    client: httpx.AsyncClient, admin_headers: dict[str, str], dataset: None
) -> None:
    # [Wed Mar 4, Tue Mar 10): D down, G up, C down (Mar 6), F up (Mar 7); A, B and E cast
    # their current votes before Mar 4. Buckets: the weeks of Mon Mar 2 and Mon Mar 9.
    response = await client.get(URL, params=window(t(4), t(10), "week"), headers=admin_headers)
    body = response.json()
    assert body["totals"] == {"up": 2, "down": 2, "satisfaction": 0.5}
    assert parsed_series(body) == [point(2, 2, 2, 0.5), point(9, 0, 0, None)]
    assert body["top_reasons"] == [
        {"reason": "outside", "count": 1},
        {"reason": "slow", "count": 1},
        {"reason": "wrong", "count": 1},
    ]


async def test_hourly_buckets_and_a_window_offset_from_utc(
    client: httpx.AsyncClient, admin_headers: dict[str, str], dataset: None
) -> None:
    # 01:00+01:00 .. 04:00+01:00 is 00:00..03:00 UTC on Mar 2: only E's up at 00:00.
    plus_one = dt.timezone(dt.timedelta(hours=1))
    start = dt.datetime(2026, 3, 2, 1, tzinfo=plus_one)
    response = await client.get(
        URL, params=window(start, start + dt.timedelta(hours=3), "hour"), headers=admin_headers
    )
    body = response.json()
    assert body["totals"] == {"up": 1, "down": 0, "satisfaction": 1.0}
    assert [
        (dt.datetime.fromisoformat(p["bucket_start"]), p["up"], p["down"]) for p in body["series"]
    ] == [(t(2, 0), 1, 0), (t(2, 1), 0, 0), (t(2, 2), 0, 0)]


async def test_empty_window_has_null_satisfaction(
    client: httpx.AsyncClient, admin_headers: dict[str, str], dataset: None
) -> None:
    response = await client.get(URL, params=window(t(20), t(22)), headers=admin_headers)
    body = response.json()
    assert body["totals"] == {"up": 0, "down": 0, "satisfaction": None}
    assert parsed_series(body) == [point(20, 0, 0, None), point(21, 0, 0, None)]
    assert body["top_reasons"] == []


@pytest.mark.parametrize(
    ("start", "end", "bucket"),
    [
        (t(2, 5, 30), t(4, 1), "day"),
        (t(2, 5, 30), t(2, 9, 0, 0, 1), "hour"),
        (t(1), t(31), "week"),
        (t(3, 23), t(4), "day"),
    ],
)
async def test_series_length_matches_the_pure_bucket_count(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    start: dt.datetime,
    end: dt.datetime,
    bucket: str,
) -> None:
    response = await client.get(URL, params=window(start, end, bucket), headers=admin_headers)
    assert response.status_code == 200, response.text
    assert len(response.json()["series"]) == bucket_count(start, end, Bucket(bucket))


async def test_default_window_is_the_last_thirty_days(
    client: httpx.AsyncClient, admin_headers: dict[str, str], ingest_headers: dict[str, str]
) -> None:
    await client.post(
        "/api/v1/feedback", json={"conversation_id": "now", "vote": "up"}, headers=ingest_headers
    )
    response = await client.get(URL, headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    start, end = (dt.datetime.fromisoformat(body[k]) for k in ("from", "to"))
    assert end - start == dt.timedelta(days=30)
    assert abs(dt.datetime.now(UTC) - end) < dt.timedelta(minutes=1)
    assert len(body["series"]) == bucket_count(start, end, Bucket.day)
    assert body["totals"]["up"] >= 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        # 60 days of hours = 1440 buckets > MAX_BUCKETS.
        (
            {"from": "2026-01-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "bucket": "hour"},
            "bucket",
        ),
        ({"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "to"),
        ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "to"),
        ({"from": "2026-01-01T00:00:00"}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"bucket": "month"}, "bucket"),
        ({"top": "0"}, "top"),
        ({"top": "101"}, "top"),
        # Only `from`, in the future: `to` defaults to now, which is before it.
        ({"from": "2999-01-01T00:00:00Z"}, "to"),
    ],
)
async def test_bad_windows_are_422_on_their_parameter(
    client: httpx.AsyncClient, admin_headers: dict[str, str], params: dict[str, str], field: str
) -> None:
    response = await client.get(URL, params=params, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}


async def test_bucket_cap_boundary_is_accepted(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    start = t(1)
    end = start + dt.timedelta(hours=MAX_BUCKETS)
    response = await client.get(URL, params=window(start, end, "hour"), headers=admin_headers)
    assert response.status_code == 200, response.text
    assert len(response.json()["series"]) == MAX_BUCKETS


async def test_analytics_is_admin_only(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], token_headers: TokenMaker
) -> None:
    assert (await client.get(URL)).status_code == 401
    assert (await client.get(URL, headers=ingest_headers)).status_code == 403
    token = await token_headers(conversation_id="conv-a")
    assert (await client.get(URL, headers=token)).status_code == 403


async def test_analytics_reads_rollups_never_the_votes_table(db: AsyncSession) -> None:
    # 6000 votes, one every 3 hours over ~2 years, 1500 conversations; then fresh
    # statistics so the planner sees the real distribution.
    await db.execute(
        sa.text(
            """
            INSERT INTO votes (conversation_id, vote, created_at, reasons)
            SELECT 'plan-' || (g % 1500),
                   CASE WHEN g % 3 = 0 THEN 'down' ELSE 'up' END::vote_direction,
                   timestamptz '2025-01-01 00:00+00' + g * interval '3 hours',
                   CASE WHEN g % 3 = 0 THEN ARRAY['slow'] ELSE '{}'::text[] END
            FROM generate_series(1, 6000) AS g
            """
        )
    )
    await db.execute(sa.text("ANALYZE votes, vote_current, vote_rollups, vote_reason_rollups"))
    start = dt.datetime(2026, 1, 5, 7, 30, tzinfo=UTC)
    stmt = analytics_statement(
        start=start, end=start + dt.timedelta(days=7), bucket=Bucket.day, top=10, explain=True
    )
    plan = "\n".join(row[0] for row in (await db.execute(stmt)).all())
    assert "vote_rollups" in plan, plan
    assert "vote_current" in plan, plan
    assert " on votes " not in plan, plan
    assert "Seq Scan on vote_current" not in plan, plan
