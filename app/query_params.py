"""Query parameters shared by list and analytics routes: keyset pagination and time windows."""

from __future__ import annotations

import base64
import datetime as dt
import enum
import json
from collections.abc import Callable
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field

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


class TimeWindow(BaseModel):
    """`[start, end)` in UTC; either side may be open."""

    start: dt.datetime | None
    end: dt.datetime | None


# Window bounds are kept far from datetime's limits so that date arithmetic on them
# (defaults, bucket ends, whole days) can never overflow.
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)


def utc_in_range(value: dt.datetime, name: str, *, location: str = "query") -> dt.datetime:
    """`value` in UTC, or 422 when it has no offset or lies outside 1970..9000."""
    if value.tzinfo is None:
        raise UnprocessableEntity(
            f"`{name}` needs a UTC offset, e.g. 2026-01-01T00:00:00Z.",
            field=[name],
            location=location,
        )
    try:
        utc = value.astimezone(dt.UTC)
    except OverflowError:
        utc = EARLIEST - dt.timedelta(days=1)
    if not EARLIEST <= utc < LATEST:
        raise UnprocessableEntity(
            f"`{name}` must lie between 1970 and 9000.", field=[name], location=location
        )
    return utc


def _utc(value: dt.datetime | None, name: str) -> dt.datetime | None:
    return None if value is None else utc_in_range(value, name)


def time_window(
    from_: Annotated[
        dt.datetime | None, Query(alias="from", description="Start (inclusive), ISO-8601.")
    ] = None,
    to: Annotated[dt.datetime | None, Query(description="End (exclusive), ISO-8601.")] = None,
) -> TimeWindow:
    start, end = _utc(from_, "from"), _utc(to, "to")
    if start is not None and end is not None and end <= start:
        raise UnprocessableEntity("`to` must be after `from`.", field=["to"], location="query")
    return TimeWindow(start=start, end=end)


TimeWindowDep = Annotated[TimeWindow, Depends(time_window)]


def window_conditions(column: Any, start: Any, end: Any) -> list[Any]:
    """SQL conditions putting `column` inside `[start, end)`; a None side is open."""
    conditions = []
    if start is not None:
        conditions.append(column >= start)
    if end is not None:
        conditions.append(column < end)
    return conditions
