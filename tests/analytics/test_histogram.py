"""The latency histogram: SQL and Python bin alike, and percentiles within the documented
relative error of the exact nearest-rank percentile."""

from __future__ import annotations

import math

import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics import histogram

latencies = st.integers(min_value=0, max_value=10_000_000)


@given(st.lists(latencies, min_size=1, max_size=200), st.sampled_from([0.5, 0.95, 0.99]))
def test_percentile_is_within_the_relative_error(values: list[int], q: float) -> None:
    counts = histogram.merge((histogram.bin_of(v), 1) for v in values)
    exact = sorted(values)[max(1, math.ceil(q * len(values))) - 1]
    reported = histogram.percentile(counts, q)
    assert reported is not None
    if exact == 0:
        assert reported == 0
    else:
        assert abs(reported - exact) <= histogram.RELATIVE_ERROR * exact + 1e-9


def test_empty_histogram_has_no_percentile() -> None:
    assert histogram.percentile({}, 0.5) is None


async def test_sql_bins_equal_python_bins(db: AsyncSession) -> None:
    values = [0, 1, 2, 3, 10, 99, 100, 101, 1000, 1105, 1221, 65_535, 2_147_483_647]
    values += [round(histogram.GAMMA**k) for k in range(0, 200)]
    rows = await db.execute(
        sa.text(f"SELECT v, {histogram.bin_sql('v')} FROM unnest(CAST(:v AS integer[])) AS v"),
        {"v": values},
    )
    assert {int(v): int(b) for v, b in rows} == {v: histogram.bin_of(v) for v in values}
