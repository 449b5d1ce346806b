"""Conservative quality estimates for routing candidates, and the router's regret.

Pure functions, no database: the service aggregates in SQL and hands the sums here.

Quality estimate of one candidate (a provider/model pair) within one scope (a pattern,
optionally narrowed to a complexity band), from its `n` feedback quality scores
`q_1..q_n` (each in [0, 1]) with mean `x̄` and population variance `s² = Σ(q_i - x̄)²/n`:

    expected_quality    = (k·μ0 + n·x̄) / (k + n)
    variance            = (k·v0 + n·s²) / (k + n)
    quality_lower_bound = clamp(expected_quality - z·sqrt(variance / (k + n)), 0, 1)

* `μ0` is the scope's global mean (all feedback of every candidate in the scope; 0.5
  when the scope has no feedback at all): a candidate with little data is shrunk
  towards what the scope typically gets.
* `k = PRIOR_WEIGHT` (5) pseudo-observations of the prior.
* `v0 = PRIOR_VARIANCE` (0.25) is the largest variance a score in [0, 1] can have, so
  the prior is maximally uncertain; since `s² ≤ 0.25 < 2·v0`, the bound's half-width
  `z·sqrt(k·v0 + n·s²)/(k + n)` never grows with `n` at a fixed `s²`.
* `z = Z_ONE_SIDED_95` (1.645): a one-sided 95 % normal bound.

Candidates rank by `quality_lower_bound` (desc), then average cost (asc), then samples
(desc). With these constants one perfect sample (bound ≤ ~0.69 whatever `μ0`) never
outranks 500 samples at 0.95 (bound ≥ ~0.92 whatever `μ0`).

Complexity bands: `low` for scores in [0, 0.33), `medium` for [0.33, 0.66), `high` for
[0.66, 1]. A metric without a complexity score belongs to no band.

Regret (see `regret`): within a scope, a candidate `c` with at least `min_samples`
feedback is *dominated* when another candidate `d`, also with at least `min_samples`
feedback, has a strictly lower average cost and `lower_bound(d) ≥ lower_bound(c)`.
Every request the router sent to a dominated `c` is a regretted request, and its extra
cost is `avg_cost(c) - avg_cost(d*)`, where `d*` is the cheapest dominating candidate
(ties: higher bound, then provider/model). Candidates below `min_samples` are never
dominated nor dominating (not enough evidence), but their requests count in the scope's
total.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

PRIOR_WEIGHT = 5.0
PRIOR_VARIANCE = 0.25
Z_ONE_SIDED_95 = 1.645
NEUTRAL_MEAN = 0.5

LOW_MAX = 0.33
MEDIUM_MAX = 0.66


class ComplexityBand(enum.StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


def complexity_band(score: float) -> ComplexityBand:
    """The band of a complexity score in [0, 1]."""
    if score < LOW_MAX:
        return ComplexityBand.low
    if score < MEDIUM_MAX:
        return ComplexityBand.medium
    return ComplexityBand.high


def band_limits(band: ComplexityBand) -> tuple[float, float | None]:
    """`[lower, upper)` of a band's scores; the top band is closed at 1 (upper None)."""
    return {
        ComplexityBand.low: (0.0, LOW_MAX),
        ComplexityBand.medium: (LOW_MAX, MEDIUM_MAX),
        ComplexityBand.high: (MEDIUM_MAX, None),
    }[band]


@dataclass(frozen=True)
class QualityStats:
    """Sufficient statistics of a candidate's quality scores."""

    n: int
    total: float = 0.0
    total_squares: float = 0.0

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def variance(self) -> float:
        """Population variance, clamped at 0 against rounding."""
        if not self.n:
            return 0.0
        mean = self.total / self.n
        return max(0.0, self.total_squares / self.n - mean * mean)

    @classmethod
    def of(cls, scores: list[float]) -> QualityStats:
        return cls(len(scores), sum(scores), sum(s * s for s in scores))


@dataclass(frozen=True)
class Estimate:
    expected: float
    lower_bound: float
    half_width: float


def global_mean(stats: list[QualityStats]) -> float:
    """Mean of every score in a scope; `NEUTRAL_MEAN` when there is none."""
    n = sum(s.n for s in stats)
    return sum(s.total for s in stats) / n if n else NEUTRAL_MEAN


def estimate(
    stats: QualityStats,
    prior_mean: float,
    *,
    prior_weight: float = PRIOR_WEIGHT,
    prior_variance: float = PRIOR_VARIANCE,
    z: float = Z_ONE_SIDED_95,
) -> Estimate:
    """Shrunk mean and one-sided lower bound of a candidate's quality (module docstring)."""
    weight = prior_weight + stats.n
    expected = (prior_weight * prior_mean + stats.total) / weight
    variance = (prior_weight * prior_variance + stats.n * stats.variance) / weight
    half_width = z * math.sqrt(variance / weight)
    expected = min(1.0, max(0.0, expected))
    return Estimate(
        expected=expected,
        lower_bound=min(1.0, max(0.0, expected - half_width)),
        half_width=half_width,
    )


@dataclass(frozen=True)
class Candidate:
    """One provider/model within a scope: its traffic, cost and feedback."""

    provider: str
    model: str
    requests: int
    avg_cost: float | None
    stats: QualityStats


@dataclass(frozen=True)
class ScoredCandidate:
    candidate: Candidate
    estimate: Estimate


def rank(candidates: list[Candidate]) -> list[ScoredCandidate]:
    """Score every candidate against the scope's global mean; best first."""
    prior = global_mean([c.stats for c in candidates])
    scored = [ScoredCandidate(c, estimate(c.stats, prior)) for c in candidates]
    return sorted(scored, key=_rank_key)


def _rank_key(s: ScoredCandidate) -> tuple[float, float, int, str, str]:
    cost = s.candidate.avg_cost
    return (
        -s.estimate.lower_bound,
        math.inf if cost is None else cost,
        -s.candidate.stats.n,
        s.candidate.provider,
        s.candidate.model,
    )


@dataclass(frozen=True)
class Regret:
    """A dominated candidate, the cheaper alternative that dominates it, and the cost."""

    chosen: ScoredCandidate
    alternative: ScoredCandidate
    extra_cost_per_request: float

    @property
    def extra_cost(self) -> float:
        return self.extra_cost_per_request * self.chosen.candidate.requests


def regret(candidates: list[Candidate], *, min_samples: int) -> list[Regret]:
    """The dominated candidates of one scope (definition in the module docstring)."""
    scored = rank(candidates)
    eligible = [
        s for s in scored if s.candidate.stats.n >= min_samples and s.candidate.avg_cost is not None
    ]
    found: list[Regret] = []
    for chosen in eligible:
        cost = chosen.candidate.avg_cost
        assert cost is not None
        dominators = [
            d
            for d in eligible
            if d is not chosen
            and d.candidate.avg_cost is not None
            and d.candidate.avg_cost < cost
            and d.estimate.lower_bound >= chosen.estimate.lower_bound
        ]
        if not dominators:
            continue
        best = min(
            dominators,
            key=lambda d: (
                d.candidate.avg_cost,
                -d.estimate.lower_bound,
                d.candidate.provider,
                d.candidate.model,
            ),
        )
        assert best.candidate.avg_cost is not None
        found.append(Regret(chosen, best, cost - best.candidate.avg_cost))
    return found
