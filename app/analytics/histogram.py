"""Latency histogram with log-spaced bins: mergeable, with a bounded relative error.

A latency of `x` ms goes to bin 0 when `x < 1`, else to bin `1 + floor(ln(x) / ln(GAMMA))`,
which covers `[GAMMA**(k-1), GAMMA**k)`. Histograms of any buckets and groups merge by
adding counts per bin, so percentiles over a window come from rollup rows.

A percentile is the nearest-rank sample (the `ceil(q·n)`-th smallest latency), reported
as its bin's representative value `2·GAMMA**k / (GAMMA + 1)` (0 for bin 0). Every value of
bin `k` lies within `RELATIVE_ERROR = (GAMMA - 1) / (GAMMA + 1)` of it, so the reported
percentile is within 5 % of the true nearest-rank percentile (bin 0: latencies below 1 ms
are reported as 0).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

RELATIVE_ERROR = 0.05
GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
_LN_GAMMA = math.log(GAMMA)


def bin_of(latency_ms: float) -> int:
    """The bin of one latency (ms)."""
    if latency_ms < 1:
        return 0
    return 1 + math.floor(math.log(latency_ms) / _LN_GAMMA)


def bin_sql(column: str) -> str:
    """The same function in SQL (a test proves SQL == Python); NULL stays NULL."""
    return (
        f"(CASE WHEN {column} < 1 THEN 0 "
        f"ELSE 1 + floor(ln(CAST({column} AS double precision)) / {_LN_GAMMA!r}) END)"
    )


def representative(bin_: int) -> float:
    """The value reported for a bin: within `RELATIVE_ERROR` of every value in it."""
    if bin_ <= 0:
        return 0.0
    return 2 * GAMMA**bin_ / (GAMMA + 1)


def percentile(counts: Mapping[int, int], q: float) -> float | None:
    """The nearest-rank `q`-percentile (0 < q ≤ 1) of a merged histogram; None if empty."""
    total = sum(counts.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for bin_ in sorted(counts):
        seen += counts[bin_]
        if seen >= rank:
            return representative(bin_)
    raise AssertionError("unreachable: rank <= total")


def merge(rows: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Add (bin, count) pairs into one histogram."""
    out: dict[int, int] = {}
    for bin_, n in rows:
        out[bin_] = out.get(bin_, 0) + n
    return out
