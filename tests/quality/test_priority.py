"""The pure review priority (app/quality/priority.py): hand-computed values, properties
with hypothesis, and the database's quality_priority() agreeing with it."""

from __future__ import annotations

import math

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from app.quality import priority
from app.quality.priority import REASON_WEIGHT

votes = st.integers(min_value=0, max_value=100_000)
positive = st.integers(min_value=1, max_value=100_000)
traffic = st.one_of(st.none(), st.integers(min_value=0, max_value=10**12))


def test_hand_computed_values() -> None:
    assert priority.priority(0, 0) == 0.0
    assert priority.priority(1, 0) == pytest.approx(2 / 3)
    assert priority.priority(1, 0, 1) == pytest.approx(1.5 * 2 / 3)
    assert priority.priority(3, 1) == pytest.approx(3 * 4 / 6)
    assert priority.priority(2, 4) == pytest.approx(2 * 3 / 8)
    assert priority.priority(1, 0, traffic=10) == pytest.approx(2 / 3 * (1 + math.log(11)))
    assert priority.priority(2, 0, 5) == priority.priority(2, 0, 2)  # reasoned ≤ down


def test_reason_helpers() -> None:
    down = [["outdated", "outdated", "vague"], [], ["vague"]]
    assert priority.reasoned_down(down) == 2
    assert priority.reason_counts(down) == {"outdated": 1, "vague": 2}
    assert priority.ranked_reasons({"b": 1, "a": 1, "c": 3}) == [("c", 3), ("a", 1), ("b", 1)]


@given(votes, st.integers(min_value=0, max_value=100_000), traffic)
def test_zero_without_down_votes(up: int, reasoned: int, t: int | None) -> None:
    assert priority.priority(0, up, reasoned, t) == 0.0


@given(positive, votes, votes, traffic)
def test_positive_and_bounded_with_down_votes(
    down: int, up: int, reasoned: int, t: int | None
) -> None:
    value = priority.priority(down, up, reasoned, t)
    reach = 1 + math.log(1 + (t or 0))
    assert 0 < value <= (1 + REASON_WEIGHT) * down * reach * (1 + 1e-12)


@given(votes, votes, votes, traffic, st.integers(min_value=1, max_value=1000))
def test_strictly_increasing_in_down(
    down: int, up: int, reasoned: int, t: int | None, k: int
) -> None:
    reasoned = min(reasoned, down)
    assert priority.priority(down + k, up, reasoned, t) > priority.priority(down, up, reasoned, t)


@given(positive, votes, votes, traffic, st.integers(min_value=1, max_value=1000))
def test_strictly_decreasing_in_up(
    down: int, up: int, reasoned: int, t: int | None, k: int
) -> None:
    assert priority.priority(down, up + k, reasoned, t) < priority.priority(down, up, reasoned, t)


@given(positive, votes, votes, traffic, st.integers(min_value=1, max_value=1000))
def test_non_decreasing_in_reasons(
    down: int, up: int, reasoned: int, t: int | None, k: int
) -> None:
    more = priority.priority(down, up, reasoned + k, t)
    assert more >= priority.priority(down, up, reasoned, t)
    if reasoned < down:
        assert more > priority.priority(down, up, reasoned, t)


@given(positive, votes, votes, st.integers(min_value=0, max_value=10**9), positive)
def test_strictly_increasing_in_traffic(down: int, up: int, reasoned: int, t: int, k: int) -> None:
    assert priority.priority(down, up, reasoned, t + k) > priority.priority(down, up, reasoned, t)
    assert priority.priority(down, up, reasoned, None) == priority.priority(down, up, reasoned, 0)


async def test_sql_function_matches_python(db: AsyncSession) -> None:
    # The function the migration created (the one the triggers call), not a re-rendering.
    grid = [
        (0, 0, 0, 0),
        (0, 5, 0, 100),
        (1, 0, 0, 0),
        (1, 0, 1, 0),
        (3, 1, 2, 0),
        (2, 4, 0, 7),
        (7, 0, 9, 0),
        (1, 100_000, 1, 10**9),
        (100_000, 3, 50_000, 0),
        (12, 12, 12, 1),
    ]
    for down, up, reasoned, t in grid:
        sql = await db.scalar(
            sa.text("SELECT quality_priority(:d, :u, :r, :t)"),
            {"d": down, "u": up, "r": reasoned, "t": t},
        )
        assert sql == pytest.approx(priority.priority(down, up, reasoned, t), rel=1e-13, abs=0)
    assert await db.scalar(sa.text("SELECT quality_priority(3, 1, 2, NULL)")) == pytest.approx(
        priority.priority(3, 1, 2, None), rel=1e-13
    )
