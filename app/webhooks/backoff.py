"""When to try a failed delivery again (pure, no I/O).

The default schedule (`WEBHOOK_RETRY_SCHEDULE_SECONDS`) waits 5 s, 5 min, 30 min, 2 h, 5 h,
10 h, 14 h, 20 h and 20 h after the 1st..9th failed attempt: ten attempts over about three
days. Each wait is jittered by ± 20 % so receivers recovering from an outage are not hit by
every retry at once. A `Retry-After` from the receiver (on any failed attempt) is honoured
when it asks for longer, capped at the schedule's longest wait. After the last wait is used
up the delivery fails for good.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
from collections.abc import Sequence

JITTER = 0.2


def retry_delay(
    failed_attempts: int,
    schedule: Sequence[float],
    *,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds to wait after the `failed_attempts`-th failure of the current schedule, or
    None when the schedule is exhausted."""
    if failed_attempts < 1:
        raise ValueError("failed_attempts starts at 1")
    if failed_attempts > len(schedule):
        return None
    base = float(schedule[failed_attempts - 1])
    delay = base * (1 + (rng or random).uniform(-JITTER, JITTER))
    if retry_after is not None and retry_after > delay:
        delay = min(retry_after, float(max(schedule)))
    return max(0.0, delay)


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds asked for by a `Retry-After` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())
