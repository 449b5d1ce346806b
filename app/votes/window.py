"""Analytics windows and UTC buckets: pure arithmetic, no database.

The series SQL (`generate_series` over `date_trunc` in UTC) produces exactly the buckets
`bucket_starts` describes; this module decides the defaults and the size cap before the
query runs.
"""

from __future__ import annotations

import datetime as dt

from app.query_params import Bucket

DEFAULT_SPAN = dt.timedelta(days=30)
MAX_BUCKETS = 1000

STEP: dict[Bucket, dt.timedelta] = {
    Bucket.hour: dt.timedelta(hours=1),
    Bucket.day: dt.timedelta(days=1),
    Bucket.week: dt.timedelta(weeks=1),
}


class WindowError(ValueError):
    """A window that cannot be analysed; `field` names the query parameter at fault."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def resolve_window(
    start: dt.datetime | None,
    end: dt.datetime | None,
    *,
    now: dt.datetime,
    default_span: dt.timedelta = DEFAULT_SPAN,
) -> tuple[dt.datetime, dt.datetime]:
    """`[start, end)` with defaults: `to` = now, `from` = `to` minus `default_span`."""
    resolved_end = end if end is not None else now
    resolved_start = start if start is not None else resolved_end - default_span
    if resolved_end <= resolved_start:
        raise WindowError("`to` must be after `from` (`to` defaults to now).", "to")
    return resolved_start.astimezone(dt.UTC), resolved_end.astimezone(dt.UTC)


def bucket_floor(moment: dt.datetime, bucket: Bucket) -> dt.datetime:
    """The start of the UTC bucket holding `moment` (weeks start on Monday, as ISO)."""
    utc = moment.astimezone(dt.UTC)
    if bucket is Bucket.hour:
        return utc.replace(minute=0, second=0, microsecond=0)
    day = utc.replace(hour=0, minute=0, second=0, microsecond=0)
    if bucket is Bucket.day:
        return day
    return day - dt.timedelta(days=day.weekday())


def bucket_count(start: dt.datetime, end: dt.datetime, bucket: Bucket) -> int:
    """How many buckets start in `[bucket_floor(start), end)`: the length of the series."""
    first = bucket_floor(start, bucket)
    # Integer ceiling division of timedeltas: exact, unlike a float quotient.
    return max(0, -((first - end) // STEP[bucket]))


def bucket_starts(start: dt.datetime, end: dt.datetime, bucket: Bucket) -> list[dt.datetime]:
    """Every bucket start of the series, oldest first (for tests and small windows)."""
    first = bucket_floor(start, bucket)
    return [first + i * STEP[bucket] for i in range(bucket_count(start, end, bucket))]


def check_bucket_count(start: dt.datetime, end: dt.datetime, bucket: Bucket) -> int:
    """The series length, or `WindowError` when it exceeds `MAX_BUCKETS`."""
    count = bucket_count(start, end, bucket)
    if count > MAX_BUCKETS:
        raise WindowError(
            f"The window holds {count} {bucket.value} buckets; at most {MAX_BUCKETS} are "
            "allowed. Narrow `from`/`to` or use a coarser `bucket`.",
            "bucket",
        )
    return count


def satisfaction(up: int, down: int) -> float | None:
    """up / (up + down); None when there are no votes."""
    total = up + down
    return None if total == 0 else up / total
