"""The window split: parts cover `[start, end)` exactly, without overlap, aligned to their
grain, and raw parts are at most an hour each (so raw reads stay bounded)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from app.analytics.window import DAY, HOUR, split

moments = st.datetimes(
    min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2027, 1, 1), timezones=st.just(dt.UTC)
)


def _covered(
    ranges: list[tuple[dt.datetime, dt.datetime]],
) -> list[tuple[dt.datetime, dt.datetime]]:
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for lo, hi in sorted(r for r in ranges if r[0] < r[1]):
        assert not merged or merged[-1][1] <= lo, "parts overlap"
        if merged and merged[-1][1] == lo:
            merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


@given(moments, moments, st.booleans())
def test_parts_tile_the_window(a: dt.datetime, b: dt.datetime, days: bool) -> None:
    start, end = min(a, b), max(a, b)
    if start == end:
        return
    parts = split(start, end, days=days)
    ranges = [*parts.raw, *parts.hours, parts.days]
    assert _covered(list(ranges)) == [(start, end)]
    for lo, hi in parts.raw:
        assert hi - lo <= HOUR
    for lo, hi in parts.hours:
        if lo < hi:
            assert lo.minute == lo.second == lo.microsecond == 0
            assert hi.minute == hi.second == hi.microsecond == 0
    lo, hi = parts.days
    if lo < hi:
        assert days
        assert lo.hour == hi.hour == 0
        assert lo.minute == hi.minute == 0
        assert (hi - lo) % DAY == dt.timedelta(0)


def test_a_thirty_day_window_reads_days_and_at_most_two_partial_days_of_hours() -> None:
    start = dt.datetime(2026, 3, 1, 7, 45, 12, tzinfo=dt.UTC)
    parts = split(start, start + dt.timedelta(days=30))
    assert parts.raw == (
        (start, dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)),
        (dt.datetime(2026, 3, 31, 7, tzinfo=dt.UTC), start + dt.timedelta(days=30)),
    )
    assert parts.hours == (
        (dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC), dt.datetime(2026, 3, 2, tzinfo=dt.UTC)),
        (dt.datetime(2026, 3, 31, tzinfo=dt.UTC), dt.datetime(2026, 3, 31, 7, tzinfo=dt.UTC)),
    )
    assert parts.days == (
        dt.datetime(2026, 3, 2, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 31, tzinfo=dt.UTC),
    )
