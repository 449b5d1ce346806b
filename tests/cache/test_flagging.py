"""The flagging rule: Wilson upper bound of the share of good ratings, at least N ratings."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.cache.flagging import Z_95, FlagRule, wilson_upper_bound

RULE = FlagRule(min_ratings=5, good_share_upper_bound=0.5)


def test_z_is_the_two_sided_95_percent_quantile() -> None:
    assert abs(Z_95 - 1.959964) < 1e-6


def test_wilson_upper_bound_hand_computed() -> None:
    # 0 good of 5: z²/(n + z²)
    assert wilson_upper_bound(0, 5) == pytest.approx(Z_95**2 / (5 + Z_95**2))
    assert wilson_upper_bound(0, 5) == pytest.approx(0.43448, abs=1e-5)
    # 1 good of 5: (0.2 + z²/10 + z·sqrt(0.16/5 + z²/100)) / (1 + z²/5)
    z2 = Z_95**2
    expected = (0.2 + z2 / 10 + Z_95 * math.sqrt(0.16 / 5 + z2 / 100)) / (1 + z2 / 5)
    assert wilson_upper_bound(1, 5) == pytest.approx(expected)
    assert wilson_upper_bound(1, 5) == pytest.approx(0.62447, abs=1e-5)
    # all good: the bound is 1
    assert wilson_upper_bound(10, 10) == pytest.approx(1.0)
    assert wilson_upper_bound(0, 0) == 1.0


def test_wilson_upper_bound_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError):
        wilson_upper_bound(3, 2)
    with pytest.raises(ValueError):
        wilson_upper_bound(-1, 2)


def test_boundary_with_defaults() -> None:
    assert not RULE.should_flag(ratings=4, good=0)  # N-1 bad ratings: not enough evidence
    assert RULE.should_flag(ratings=5, good=0)  # the N-th bad rating tips it
    assert not RULE.should_flag(ratings=5, good=1)  # upper bound 0.62 ≥ 0.5
    assert not RULE.should_flag(ratings=7, good=1)  # ≈ 0.513
    assert RULE.should_flag(ratings=8, good=1)  # ≈ 0.471: one good rating among eight
    assert not RULE.should_flag(ratings=100, good=50)


counts = st.integers(min_value=0, max_value=5000).flatmap(
    lambda total: st.tuples(st.integers(min_value=0, max_value=total), st.just(total))
)
rules = st.builds(
    FlagRule,
    min_ratings=st.integers(min_value=1, max_value=50),
    good_share_upper_bound=st.floats(min_value=0.01, max_value=0.99),
)


@given(counts)
def test_bound_is_a_share(good_total: tuple[int, int]) -> None:
    good, total = good_total
    bound = wilson_upper_bound(good, total)
    assert 0.0 <= bound <= 1.0
    if total:
        assert bound >= good / total - 1e-12


@given(rules, counts, st.integers(min_value=1, max_value=200))
def test_more_bad_ratings_never_unflag(
    rule: FlagRule, good_total: tuple[int, int], extra_bad: int
) -> None:
    good, total = good_total
    if rule.should_flag(ratings=total, good=good):
        assert rule.should_flag(ratings=total + extra_bad, good=good)
    assert wilson_upper_bound(good, total + extra_bad) <= wilson_upper_bound(good, total)


@given(rules, counts)
def test_fewer_than_min_ratings_never_flag(rule: FlagRule, good_total: tuple[int, int]) -> None:
    good, total = good_total
    if total < rule.min_ratings:
        assert not rule.should_flag(ratings=total, good=good)


@given(rules, st.integers(min_value=1, max_value=5000))
def test_all_good_ratings_never_flag(rule: FlagRule, total: int) -> None:
    assert not rule.should_flag(ratings=total, good=total)
