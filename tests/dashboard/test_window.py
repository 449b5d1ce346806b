"""The picker's window rule (pure): defaults, bare dates, offsets, buckets, refusals."""

from __future__ import annotations

import datetime as dt

import pytest

from app.dashboard.window import WindowInputError, auto_bucket, parse_moment, resolve
from app.query_params import Bucket

NOW = dt.datetime(2026, 12, 1, 15, 30, tzinfo=dt.UTC)


def test_defaults_are_now_and_thirty_days_before() -> None:
    window = resolve(None, "", now=NOW)
    assert (window.start, window.end) == (NOW - dt.timedelta(days=30), NOW)


def test_from_defaults_to_thirty_days_before_to() -> None:
    window = resolve(None, "2026-11-10", now=NOW)
    assert window.end == dt.datetime(2026, 11, 10, tzinfo=dt.UTC)
    assert window.start == dt.datetime(2026, 10, 11, tzinfo=dt.UTC)


def test_bare_date_is_midnight_utc_and_offsets_convert() -> None:
    assert parse_moment("2026-11-01", "from") == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert parse_moment("2026-11-01T10:00:00+02:00", "from") == dt.datetime(
        2026, 11, 1, 8, tzinfo=dt.UTC
    )
    assert parse_moment("2026-11-01T10:00:00Z", "from") == dt.datetime(
        2026, 11, 1, 10, tzinfo=dt.UTC
    )
    assert parse_moment("  ", "from") is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("yesterday", "not an ISO-8601"),
        ("2026-11-01T10:00", "UTC offset"),
        ("1900-01-01", "between 1970 and 9000"),
        ("2026-02-30", "not an ISO-8601"),
    ],
)
def test_bad_moments_name_the_field(raw: str, message: str) -> None:
    with pytest.raises(WindowInputError, match=message) as info:
        parse_moment(raw, "from")
    assert info.value.field == "from"


def test_to_before_from_is_refused() -> None:
    with pytest.raises(WindowInputError) as info:
        resolve("2026-11-05", "2026-11-01", now=NOW)
    assert info.value.field == "to"


def test_buckets_auto_and_chosen() -> None:
    assert auto_bucket(NOW - dt.timedelta(days=2), NOW) is Bucket.hour
    assert auto_bucket(NOW - dt.timedelta(days=30), NOW) is Bucket.day
    assert auto_bucket(NOW - dt.timedelta(days=400), NOW) is Bucket.week
    assert resolve(None, None, "week", now=NOW).bucket is Bucket.week
    with pytest.raises(WindowInputError, match="hour, day or week"):
        resolve(None, None, "month", now=NOW)
    with pytest.raises(WindowInputError, match="buckets") as info:
        resolve("2020-01-01", "2026-01-01", "hour", now=NOW)
    assert info.value.field == "bucket"
