"""Query parameters shared by list and analytics routes: keyset pagination and time windows."""

from __future__ import annotations

import base64
import datetime as dt
import enum
import json
import re
from collections.abc import Callable
from typing import Annotated, Any, Generic, TypeVar

import sqlalchemy as sa
from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import UnprocessableEntity

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    """One page of a list; pass `next_cursor` back as `?cursor=` for the next one."""

    items: list[T] = Field(description="This page's items, in the list's order.", examples=[[]])
    next_cursor: str | None = Field(
        default=None, description="Null on the last page.", examples=["WzAuNDUsICI5YjJlIl0"]
    )


class Pagination(BaseModel):
    limit: int
    cursor: list[Any] | None


def encode_cursor(values: list[Any]) -> str:
    """An opaque cursor holding the sort key of the last row returned."""
    raw = json.dumps(values, default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnprocessableEntity("Malformed cursor.", field=["cursor"], location="query") from exc
    if not isinstance(values, list):
        raise UnprocessableEntity("Malformed cursor.", field=["cursor"], location="query")
    return values


def cursor_datetime(value: Any) -> dt.datetime:
    """A timestamp out of a cursor: ISO-8601 with offset, within the accepted range."""
    return utc_in_range(dt.datetime.fromisoformat(str(value)), "cursor")


def parse_cursor(cursor: list[Any] | None, *parsers: Callable[[Any], Any]) -> list[Any] | None:
    """Check a decoded cursor's shape and convert each value; a forged one is a 422."""
    if cursor is None:
        return None
    if len(cursor) != len(parsers):
        raise UnprocessableEntity("Malformed cursor.", field=["cursor"], location="query")
    try:
        return [parse(value) for parse, value in zip(parsers, cursor, strict=True)]
    except (TypeError, ValueError, OverflowError) as exc:
        raise UnprocessableEntity("Malformed cursor.", field=["cursor"], location="query") from exc


async def fetch_page(
    session: AsyncSession,
    stmt: sa.Select[Any],
    page: Pagination,
    *,
    build: Callable[[RowMapping], T],
    cursor_of: Callable[[T], list[Any]],
) -> Page[T]:
    """One page of `stmt` (already filtered past the cursor and ordered): fetch one row
    more than `limit` to learn whether a next page exists, whose cursor is the sort key of
    the last item returned."""
    rows = (await session.execute(stmt.limit(page.limit + 1))).mappings().all()
    items = [build(row) for row in rows[: page.limit]]
    next_cursor = encode_cursor(cursor_of(items[-1])) if len(rows) > page.limit else None
    return Page[T](items=items, next_cursor=next_cursor)


def pagination(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=1000, description="`next_cursor` of the previous page.")
    ] = None,
) -> Pagination:
    return Pagination(limit=limit, cursor=decode_cursor(cursor) if cursor else None)


PaginationDep = Annotated[Pagination, Depends(pagination)]


class Bucket(enum.StrEnum):
    hour = "hour"
    day = "day"
    week = "week"


# --- time windows: one rule for every endpoint (and CLI command) that takes from/to ------
#
# `[from, to)` in UTC. `to` defaults to now and `from` to `to` minus DEFAULT_SPAN. Each
# bound is ISO-8601 with an offset, or a bare date meaning 00:00 UTC. Bounds lie within
# 1970..9000 (so date arithmetic on them can never overflow), `to` after `from`, and a
# series holds at most MAX_BUCKETS buckets. Every violation is a 422 naming the parameter.

DEFAULT_SPAN = dt.timedelta(days=30)
MAX_BUCKETS = 1000
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)

STEP: dict[Bucket, dt.timedelta] = {
    Bucket.hour: dt.timedelta(hours=1),
    Bucket.day: dt.timedelta(days=1),
    Bucket.week: dt.timedelta(weeks=1),
}

WINDOW_RULE = (
    "Time window `[from, to)`: ISO-8601 with an offset, or a bare date meaning 00:00 UTC; "
    f"`to` defaults to now, `from` to `to` minus {DEFAULT_SPAN.days} days."
)


class WindowError(UnprocessableEntity):
    """A window that cannot be used; `field` names the query parameter at fault."""

    def __init__(self, message: str, field: str, *, location: str = "query") -> None:
        super().__init__(message, field=[field], location=location)
        self.parameter = field


class TimeWindow(BaseModel):
    """`[start, end)` in UTC, both bounds resolved."""

    start: dt.datetime
    end: dt.datetime


_BARE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def utc_in_range(value: dt.datetime, name: str, *, location: str = "query") -> dt.datetime:
    """`value` in UTC, or 422 when it has no offset or lies outside 1970..9000."""
    if value.tzinfo is None:
        raise WindowError(
            f"`{name}` needs a UTC offset (e.g. 2026-01-01T00:00:00Z) or a bare date.",
            name,
            location=location,
        )
    try:
        utc = value.astimezone(dt.UTC)
    except OverflowError:
        utc = EARLIEST - dt.timedelta(days=1)
    if not EARLIEST <= utc < LATEST:
        raise WindowError(f"`{name}` must lie between 1970 and 9000.", name, location=location)
    return utc


def parse_instant(value: str, name: str) -> dt.datetime:
    """A window bound as the API and the CLI accept it (see WINDOW_RULE)."""
    text = value.strip()
    try:
        if _BARE_DATE.match(text):
            parsed = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC)
        else:
            parsed = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise WindowError(
            f"`{name}` is not an ISO-8601 date or timestamp (e.g. 2026-11-01 or "
            "2026-11-01T09:30:00Z).",
            name,
        ) from None
    return utc_in_range(parsed, name)


def resolve_window(
    start: dt.datetime | None,
    end: dt.datetime | None,
    *,
    now: dt.datetime | None = None,
    default_span: dt.timedelta = DEFAULT_SPAN,
) -> TimeWindow:
    """`[start, end)` with defaults: `to` = now, `from` = `to` minus `default_span`."""
    resolved_end = end if end is not None else (now or dt.datetime.now(dt.UTC))
    resolved_start = start if start is not None else max(EARLIEST, resolved_end - default_span)
    if resolved_end <= resolved_start:
        raise WindowError("`to` must be after `from` (`to` defaults to now).", "to")
    return TimeWindow(start=resolved_start.astimezone(dt.UTC), end=resolved_end.astimezone(dt.UTC))


def time_window(
    from_: Annotated[
        str | None,
        Query(
            alias="from",
            max_length=64,
            description="Start (inclusive): ISO-8601 with offset, or a bare date (00:00 UTC). "
            f"Default: `to` minus {DEFAULT_SPAN.days} days.",
            examples=["2026-11-01"],
        ),
    ] = None,
    to: Annotated[
        str | None,
        Query(
            max_length=64,
            description="End (exclusive): ISO-8601 with offset, or a bare date (00:00 UTC). "
            "Default: now.",
            examples=["2026-12-01T00:00:00Z"],
        ),
    ] = None,
) -> TimeWindow:
    return resolve_window(
        None if from_ is None else parse_instant(from_, "from"),
        None if to is None else parse_instant(to, "to"),
    )


TimeWindowDep = Annotated[TimeWindow, Depends(time_window)]


def window_conditions(column: Any, start: Any, end: Any) -> list[Any]:
    """SQL conditions putting `column` inside `[start, end)`; a None side is open."""
    conditions = []
    if start is not None:
        conditions.append(column >= start)
    if end is not None:
        conditions.append(column < end)
    return conditions


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
    """The series length, or 422 (`bucket`) when it exceeds `MAX_BUCKETS`."""
    count = bucket_count(start, end, bucket)
    if count > MAX_BUCKETS:
        raise WindowError(
            f"The window holds {count} {bucket.value} buckets; at most {MAX_BUCKETS} are "
            "allowed. Narrow `from`/`to` or use a coarser `bucket`.",
            "bucket",
        )
    return count
