"""Split an analytics window into the parts rollups can answer exactly.

`[start, end)` becomes whole UTC days (read from day rollups), whole hours at the edges
(hour rollups) and the partial hours at the very edges (raw rows). The raw parts are at
most one hour each, so the cost of a query depends on the window's buckets, not its rows.
Every part is a half-open range; unused parts are empty ranges (lo == hi), so each query
has the same shape and parameters whatever the window.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)

Range = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class WindowParts:
    raw: tuple[Range, Range]
    hours: tuple[Range, Range]
    days: Range

    def params(self) -> dict[str, dt.datetime]:
        """Bind parameters for `rollup_sql`/`raw_sql` predicates."""
        return {
            "raw0_lo": self.raw[0][0],
            "raw0_hi": self.raw[0][1],
            "raw1_lo": self.raw[1][0],
            "raw1_hi": self.raw[1][1],
            "h0_lo": self.hours[0][0],
            "h0_hi": self.hours[0][1],
            "h1_lo": self.hours[1][0],
            "h1_hi": self.hours[1][1],
            "d_lo": self.days[0],
            "d_hi": self.days[1],
        }


def _floor(moment: dt.datetime, step: dt.timedelta) -> dt.datetime:
    utc = moment.astimezone(dt.UTC)
    if step == HOUR:
        return utc.replace(minute=0, second=0, microsecond=0)
    return utc.replace(hour=0, minute=0, second=0, microsecond=0)


def _ceil(moment: dt.datetime, step: dt.timedelta) -> dt.datetime:
    floor = _floor(moment, step)
    return floor if floor == moment else floor + step


def split(start: dt.datetime, end: dt.datetime, *, days: bool = True) -> WindowParts:
    """The parts of `[start, end)`; `days=False` answers from hours and raw rows only (an
    hourly series cannot use day rows)."""
    start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    h0, h1 = _ceil(start, HOUR), _floor(end, HOUR)
    if h0 >= h1:
        return WindowParts(
            raw=((start, end), (end, end)), hours=((h0, h0), (h0, h0)), days=(h0, h0)
        )
    raw = ((start, h0), (h1, end))
    d0, d1 = _ceil(h0, DAY), _floor(h1, DAY)
    if not days or d0 >= d1:
        return WindowParts(raw=raw, hours=((h0, h1), (h1, h1)), days=(h1, h1))
    return WindowParts(raw=raw, hours=((h0, d0), (d1, h1)), days=(d0, d1))


def rollup_sql(alias: str) -> str:
    """SQL predicate selecting the rollup rows of a window's hour and day parts."""
    b = f"{alias}.bucket_start"
    return (
        f"(({alias}.grain = 'd' AND {b} >= :d_lo AND {b} < :d_hi) OR ({alias}.grain = 'h' AND "
        f"(({b} >= :h0_lo AND {b} < :h0_hi) OR ({b} >= :h1_lo AND {b} < :h1_hi))))"
    )


def raw_sql(column: str) -> str:
    """SQL predicate selecting the raw rows of a window's partial hours."""
    return (
        f"(({column} >= :raw0_lo AND {column} < :raw0_hi) OR "
        f"({column} >= :raw1_lo AND {column} < :raw1_hi))"
    )
