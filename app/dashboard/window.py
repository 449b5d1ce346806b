"""The time-window picker: the API's one window rule (`app/query_params.py`) applied to
the picker's text fields, plus the bucket a page picks when the picker names none.

The resolved window is always passed to the services explicitly, so a page and an API
call with the same `from`/`to` answer the same numbers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.query_params import (
    STEP,
    Bucket,
    WindowError,
    check_bucket_count,
    parse_instant,
    resolve_window,
)

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
    """'' → None; otherwise the API's rule (a bare date → 00:00 UTC; ISO-8601 with an
    offset → UTC; 1970..9000)."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        return parse_instant(text.replace(" ", "T", 1), name)
    except WindowError as exc:
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
        window = resolve_window(start_in, end_in, now=now)
    except WindowError as exc:
        raise WindowInputError(exc.detail, exc.parameter) from None
    bucket_text = (bucket_raw or "").strip()
    if bucket_text:
        try:
            bucket = Bucket(bucket_text)
        except ValueError:
            raise WindowInputError("`bucket` must be hour, day or week.", "bucket") from None
    else:
        bucket = auto_bucket(window.start, window.end)
    try:
        check_bucket_count(window.start, window.end, bucket)
    except WindowError as exc:
        raise WindowInputError(exc.detail, exc.parameter) from None
    return Window(
        start=window.start,
        end=window.end,
        bucket=bucket,
        from_input=(from_raw or "").strip(),
        to_input=(to_raw or "").strip(),
        bucket_input=bucket_text,
    )
