"""The time-window picker: the API's window rule applied to the picker's text fields.

`to` defaults to now and `from` to `to` minus 30 days; a bare date means 00:00 UTC. The
resolved window is always passed to the services explicitly, so a page and an API call
with the same `from`/`to` answer the same numbers.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from app.errors import AppError
from app.query_params import Bucket, utc_in_range
from app.votes.window import STEP, WindowError, check_bucket_count, resolve_window

DEFAULT_SPAN = dt.timedelta(days=30)
_BARE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Buckets picked when the picker does not name one: a readable number of points.
_AUTO_BUCKET_MAX_POINTS = 200


class WindowInputError(ValueError):
    """A picker value that cannot be used; `field` names the input at fault."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Window:
    start: dt.datetime
    end: dt.datetime
    bucket: Bucket
    from_input: str
    to_input: str
    bucket_input: str


def parse_moment(raw: str | None, name: str) -> dt.datetime | None:
    """'' → None; a bare date → 00:00 UTC; ISO-8601 with an offset → UTC."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        if _BARE_DATE.match(text):
            value = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(0), dt.UTC)
        else:
            value = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        raise WindowInputError(
            f"`{name}` must be a date (2026-11-01) or an ISO-8601 time with offset.", name
        ) from None
    try:
        return utc_in_range(value, name)
    except AppError as exc:
        raise WindowInputError(exc.detail, name) from None


def auto_bucket(start: dt.datetime, end: dt.datetime) -> Bucket:
    """The finest bucket that keeps the series at most a couple of hundred points."""
    for bucket in (Bucket.hour, Bucket.day):
        if (end - start) / STEP[bucket] <= _AUTO_BUCKET_MAX_POINTS:
            return bucket
    return Bucket.week


def resolve(
    from_raw: str | None,
    to_raw: str | None,
    bucket_raw: str | None = None,
    *,
    now: dt.datetime | None = None,
) -> Window:
    """The window a page shows, or `WindowInputError` naming the field at fault."""
    start_in = parse_moment(from_raw, "from")
    end_in = parse_moment(to_raw, "to")
    try:
        start, end = resolve_window(
            start_in, end_in, now=now or dt.datetime.now(dt.UTC), default_span=DEFAULT_SPAN
        )
    except WindowError as exc:
        raise WindowInputError(str(exc), exc.field) from None
    bucket_text = (bucket_raw or "").strip()
    if bucket_text:
        try:
            bucket = Bucket(bucket_text)
        except ValueError:
            raise WindowInputError("`bucket` must be hour, day or week.", "bucket") from None
    else:
        bucket = auto_bucket(start, end)
    try:
        check_bucket_count(start, end, bucket)
    except WindowError as exc:
        raise WindowInputError(str(exc), exc.field) from None
    return Window(
        start=start,
        end=end,
        bucket=bucket,
        from_input=(from_raw or "").strip(),
        to_input=(to_raw or "").strip(),
        bucket_input=bucket_text,
    )
