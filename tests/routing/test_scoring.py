"""The pure scoring math: hand-computed values and hypothesis properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.routing import scoring
from app.routing.scoring import Candidate, ComplexityBand, QualityStats, estimate

unit = st.floats(min_value=0, max_value=1, allow_nan=False)
scores = st.lists(unit, min_size=1, max_size=60)


def stats_with(n: int, mean: float, variance: float) -> QualityStats:
    return QualityStats(n, n * mean, n * (variance + mean * mean))


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (0.0, ComplexityBand.low),
        (0.3299, ComplexityBand.low),
        (0.33, ComplexityBand.medium),
        (0.6599, ComplexityBand.medium),
        (0.66, ComplexityBand.high),
        (1.0, ComplexityBand.high),
    ],
)
def test_complexity_bands(score: float, band: ComplexityBand) -> None:
    assert scoring.complexity_band(score) is band


def test_no_samples_is_the_prior_with_the_widest_bound() -> None:
    e = estimate(QualityStats(0), 0.5)
    # half width = 1.645 · sqrt(0.25 / 5) = 0.367833
    assert e.expected == pytest.approx(0.5)
    assert e.half_width == pytest.approx(0.367833, abs=1e-6)
    assert e.lower_bound == pytest.approx(0.132167, abs=1e-6)


def test_hand_computed_estimate() -> None:
    # scores 1, 1, .5, .5: mean .75, variance .0625; prior .5, k = 5
    # expected = (5·.5 + 3) / 9 = .611111; variance = (5·.25 + 4·.0625) / 9 = .166667
    # half width = 1.645 · sqrt(.166667 / 9) = .223857
    e = estimate(QualityStats.of([1, 1, 0.5, 0.5]), 0.5)
    assert e.expected == pytest.approx(0.611111, abs=1e-6)
    assert e.half_width == pytest.approx(0.223857, abs=1e-6)
    assert e.lower_bound == pytest.approx(0.387254, abs=1e-6)


def test_global_mean() -> None:
    assert scoring.global_mean([]) == 0.5
    assert scoring.global_mean([QualityStats(0)]) == 0.5
    assert scoring.global_mean([QualityStats.of([1, 0]), QualityStats.of([1])]) == pytest.approx(
        2 / 3
    )


def test_one_perfect_sample_vs_500_at_095() -> None:
    perfect = Candidate("a", "tiny", 1, 0.001, QualityStats.of([1.0]))
    proven = Candidate("b", "big", 500, 0.01, stats_with(500, 0.95, 0.0475))
    ranked = scoring.rank([perfect, proven])
    assert [s.candidate.model for s in ranked] == ["big", "tiny"]


def test_rank_ties_break_on_cost_then_samples() -> None:
    same = QualityStats.of([0.8, 0.8])
    ranked = scoring.rank(
        [
            Candidate("p", "no-cost", 2, None, same),
            Candidate("p", "dear", 2, 0.02, same),
            Candidate("p", "cheap", 2, 0.01, same),
        ]
    )
    assert [s.candidate.model for s in ranked] == ["cheap", "dear", "no-cost"]


def test_regret_picks_cheapest_dominating_candidate() -> None:
    good = stats_with(20, 0.9, 0.01)
    candidates = [
        Candidate("p", "dear", 10, 0.05, good),
        Candidate("p", "mid", 4, 0.02, good),
        Candidate("p", "cheap", 6, 0.01, good),
        Candidate("p", "cheapest-but-bad", 3, 0.001, stats_with(20, 0.5, 0.01)),
        Candidate("p", "unproven", 1, 0.0001, stats_with(2, 1.0, 0.0)),
    ]
    found = {r.chosen.candidate.model: r for r in scoring.regret(candidates, min_samples=10)}
    assert set(found) == {"dear", "mid"}
    assert found["dear"].alternative.candidate.model == "cheap"
    assert found["dear"].extra_cost_per_request == pytest.approx(0.04)
    assert found["dear"].extra_cost == pytest.approx(0.4)
    assert found["mid"].extra_cost == pytest.approx(4 * 0.01)


@given(scores, unit)
def test_estimate_bounded(values: list[float], prior: float) -> None:
    e = estimate(QualityStats.of(values), prior)
    assert 0.0 <= e.lower_bound <= e.expected <= 1.0


@given(scores, unit, st.integers(min_value=2, max_value=20))
def test_more_samples_at_same_mean_never_widen_the_bound(
    values: list[float], prior: float, copies: int
) -> None:
    # repeating the data keeps its mean and variance and multiplies n
    few = estimate(QualityStats.of(values), prior)
    many = estimate(QualityStats.of(values * copies), prior)
    assert many.half_width <= few.half_width + 1e-12
    if QualityStats.of(values).total / len(values) >= prior:
        assert many.lower_bound >= few.lower_bound - 1e-12


@given(
    unit,
    st.floats(min_value=0, max_value=0.25),
    unit,
    st.integers(min_value=0, max_value=5000),
    st.integers(min_value=1, max_value=5000),
)
def test_half_width_decreases_with_n(
    mean: float, variance: float, prior: float, n: int, extra: int
) -> None:
    variance = min(variance, mean * (1 - mean))  # feasible for scores in [0, 1]
    a = estimate(stats_with(n, mean, variance), prior)
    b = estimate(stats_with(n + extra, mean, variance), prior)
    assert b.half_width <= a.half_width + 1e-12


@given(unit, st.floats(min_value=0, max_value=0.0475))
def test_one_perfect_sample_never_outranks_500_at_095(prior: float, variance: float) -> None:
    perfect = estimate(QualityStats.of([1.0]), prior)
    proven = estimate(stats_with(500, 0.95, variance), prior)
    assert proven.lower_bound > perfect.lower_bound


@given(st.lists(st.tuples(scores, st.floats(min_value=0, max_value=1)), min_size=1, max_size=6))
def test_rank_is_sorted_by_lower_bound(data: list[tuple[list[float], float]]) -> None:
    candidates = [
        Candidate("p", f"m{i}", len(v), cost, QualityStats.of(v))
        for i, (v, cost) in enumerate(data)
    ]
    bounds = [s.estimate.lower_bound for s in scoring.rank(candidates)]
    assert bounds == sorted(bounds, reverse=True)
    assert all(math.isfinite(b) for b in bounds)
