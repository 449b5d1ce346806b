"""The pure window/bucket arithmetic that sizes the analytics series."""

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.query_params import Bucket
from app.votes.window import (
    MAX_BUCKETS,
    STEP,
    WindowError,
    bucket_count,
    bucket_floor,
    bucket_starts,
    check_bucket_count,
    resolve_window,
    satisfaction,
)

UTC = dt.UTC
moments = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(UTC)
)
buckets = st.sampled_from(list(Bucket))


def test_bucket_floor_examples() -> None:
    moment = dt.datetime(2026, 3, 4, 15, 42, 7, 123, tzinfo=UTC)  # a Wednesday
    assert bucket_floor(moment, Bucket.hour) == dt.datetime(2026, 3, 4, 15, tzinfo=UTC)
    assert bucket_floor(moment, Bucket.day) == dt.datetime(2026, 3, 4, tzinfo=UTC)
    assert bucket_floor(moment, Bucket.week) == dt.datetime(2026, 3, 2, tzinfo=UTC)  # Monday


def test_bucket_floor_uses_utc_not_the_given_offset() -> None:
    # 01:30 at +02:00 is 23:30 UTC of the previous day.
    moment = dt.datetime(2026, 3, 4, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert bucket_floor(moment, Bucket.day) == dt.datetime(2026, 3, 3, tzinfo=UTC)


def test_bucket_count_examples() -> None:
    start = dt.datetime(2026, 3, 2, tzinfo=UTC)
    assert bucket_count(start, start + dt.timedelta(days=4), Bucket.day) == 4
    assert bucket_count(start, start + dt.timedelta(days=4, microseconds=1), Bucket.day) == 5
    assert (
        bucket_count(start + dt.timedelta(hours=23), start + dt.timedelta(days=1), Bucket.day) == 1
    )
    # Wednesday..next Tuesday: the weeks starting Mar 2 and Mar 9.
    assert (
        bucket_count(
            dt.datetime(2026, 3, 4, tzinfo=UTC), dt.datetime(2026, 3, 10, tzinfo=UTC), Bucket.week
        )
        == 2
    )


@given(moment=moments, bucket=buckets)
def test_floor_is_the_bucket_holding_the_moment(moment: dt.datetime, bucket: Bucket) -> None:
    floor = bucket_floor(moment, bucket)
    assert floor <= moment < floor + STEP[bucket]
    assert bucket_floor(floor, bucket) == floor
    if bucket is Bucket.week:
        assert floor.weekday() == 0


@given(
    start=moments,
    span=st.timedeltas(min_value=dt.timedelta(microseconds=1), max_value=dt.timedelta(days=60)),
    bucket=buckets,
)
def test_series_covers_the_window_exactly(
    start: dt.datetime, span: dt.timedelta, bucket: Bucket
) -> None:
    end = start + span
    starts = bucket_starts(start, end, bucket)
    assert len(starts) == bucket_count(start, end, bucket) >= 1
    assert starts[0] <= start < starts[0] + STEP[bucket]  # first bucket holds `from`
    assert starts[-1] < end <= starts[-1] + STEP[bucket]  # last bucket starts before `to`
    assert all(b - a == STEP[bucket] for a, b in itertools.pairwise(starts))


def test_cap_on_bucket_count() -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=UTC)
    assert check_bucket_count(start, start + dt.timedelta(hours=MAX_BUCKETS), Bucket.hour) == (
        MAX_BUCKETS
    )
    with pytest.raises(WindowError) as info:
        check_bucket_count(start, start + dt.timedelta(hours=MAX_BUCKETS, seconds=1), Bucket.hour)
    assert info.value.field == "bucket"


def test_resolve_window_defaults() -> None:
    now = dt.datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert resolve_window(None, None, now=now) == (now - dt.timedelta(days=30), now)
    start = dt.datetime(2026, 11, 1, tzinfo=UTC)
    assert resolve_window(start, None, now=now) == (start, now)
    end = dt.datetime(2026, 11, 10, tzinfo=UTC)
    assert resolve_window(None, end, now=now) == (end - dt.timedelta(days=30), end)
    with pytest.raises(WindowError) as info:
        resolve_window(dt.datetime(2026, 12, 1, tzinfo=UTC), None, now=now)
    assert info.value.field == "to"


def test_satisfaction_examples() -> None:
    assert satisfaction(0, 0) is None
    assert satisfaction(3, 1) == 0.75
    assert satisfaction(0, 2) == 0.0


@given(up=st.integers(0, 10**9), down=st.integers(0, 10**9))
def test_satisfaction_is_the_up_share(up: int, down: int) -> None:
    value = satisfaction(up, down)
    if up + down == 0:
        assert value is None
    else:
        assert value is not None
        assert 0.0 <= value <= 1.0
        assert value == pytest.approx(up / (up + down))
        assert (value == 1.0) == (down == 0)
