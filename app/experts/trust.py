"""Expert trust: a Beta-posterior mean over the evidence an expert has earned.

Model
-----
Each verdict an expert gives is treated as a Bernoulli trial "this expert is right".
Before any evidence the belief is a prior ``Beta(a0, b0)`` centred at 0.5 with strength
``a0 + b0 = PRIOR_STRENGTH`` (10 pseudo-observations). A verified professional credential
adds ``VERIFIED_PRIOR_BONUS`` (1) pseudo-success, so a verified expert with no evidence
starts at 6/11 ≈ 0.545 instead of 0.5.

Evidence (counters on ``expert_profiles``):

* successes ``s = approved + AGREEMENT_WEIGHT * agreements``
* failures  ``f = rejected + AGREEMENT_WEIGHT * disagreements``

``approved`` / ``rejected`` are the expert's FAQ candidates decided by an admin (an
``auto_approved`` candidate is *not* evidence: it was granted on the trust it would
confirm). ``agreements`` / ``disagreements`` count the other experts whose verdict
(``feedback_type``) on the same ``query_id`` matched / differed. Peer agreement weighs half
an admin decision (``AGREEMENT_WEIGHT = 0.5``): it is weaker, gameable evidence.

Trust is the posterior mean::

    trust = (a0 + s) / (a0 + b0 + s + f)

Properties (tested with hypothesis in ``tests/experts/test_trust.py``):

* bounded: ``0 < trust < 1`` for any non-negative evidence;
* monotone: strictly increasing in approvals/agreements, strictly decreasing in
  rejections/disagreements (d trust / d s = (b0 + f) / n² > 0);
* little evidence stays near the prior: with ``n = s + f`` observations,
  ``|trust - prior| <= n / (PRIOR_STRENGTH + n)``;
* an expert with little evidence cannot reach the auto-approval threshold ``t``: even with
  no failures, ``trust >= t`` needs ``s >= (t * (a0 + b0) - a0) / (1 - t)``, i.e. at
  ``t = 0.9`` at least **40** weighted successes (39 if verified) — 40 approved
  candidates, or 80 peer agreements. See :func:`min_successes_for`.

``feedback_accuracy_rate`` (a display figure, not used for decisions) is the raw share of
confirmed verdicts ``(approved + agreements) / (approved + rejected + agreements +
disagreements)``, ``None`` without evidence.

The service computes the same formulas in SQL inside the one ``UPDATE`` that changes the
counters (no read-modify-write); ``test_sql_rendering_matches_python`` in
``tests/experts/test_trust.py`` checks both agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

PRIOR_MEAN = 0.5
PRIOR_STRENGTH = 10.0
VERIFIED_PRIOR_BONUS = 1.0
AGREEMENT_WEIGHT = 0.5


@dataclass(frozen=True)
class Evidence:
    """The counters trust is computed from."""

    approved: int = 0
    rejected: int = 0
    agreements: int = 0
    disagreements: int = 0

    @property
    def successes(self) -> float:
        return self.approved + AGREEMENT_WEIGHT * self.agreements

    @property
    def failures(self) -> float:
        return self.rejected + AGREEMENT_WEIGHT * self.disagreements


def prior(verified: bool) -> tuple[float, float]:
    """``(a0, b0)``: pseudo-successes and pseudo-failures before any evidence."""
    a0 = PRIOR_MEAN * PRIOR_STRENGTH + (VERIFIED_PRIOR_BONUS if verified else 0.0)
    b0 = (1.0 - PRIOR_MEAN) * PRIOR_STRENGTH
    return a0, b0


def trust_score(evidence: Evidence, *, verified: bool = False) -> float:
    """Posterior mean of Beta(a0 + successes, b0 + failures), in (0, 1)."""
    a0, b0 = prior(verified)
    s, f = evidence.successes, evidence.failures
    value = (a0 + s) / (a0 + b0 + s + f)
    return min(1.0, max(0.0, value))


def accuracy_rate(evidence: Evidence) -> float | None:
    """Share of the expert's checked verdicts that were confirmed; None without evidence."""
    confirmed = evidence.approved + evidence.agreements
    total = confirmed + evidence.rejected + evidence.disagreements
    return confirmed / total if total else None


def min_successes_for(threshold: float, *, verified: bool = False, failures: float = 0.0) -> float:
    """The weighted successes needed for ``trust >= threshold`` (given ``failures``)."""
    if threshold >= 1.0:
        return float("inf")
    a0, b0 = prior(verified)
    return max(0.0, (threshold * (a0 + b0 + failures) - a0) / (1.0 - threshold))


def candidate_weight(trust: float, confidence: float) -> float:
    """What one correction adds to its FAQ candidate's ``priority_score``.

    A candidate's priority is the sum of ``trust * confidence`` over the corrections that
    support it: a second expert correcting the same query raises it, and a confident,
    trusted expert counts more than a hesitant newcomer.
    """
    return max(0.0, trust) * max(0.0, min(1.0, confidence))


# --- the same rules as SQL expressions (a test proves SQL == Python) --------------------


def sql_float(value: float) -> sa.ColumnElement[float]:
    return sa.literal(value, sa.Float)


def as_float(expr: Any) -> sa.ColumnElement[float]:
    return sa.cast(expr, sa.Float)


def trust_sql(
    *, approved: Any, rejected: Any, agreements: Any, disagreements: Any, verified: Any
) -> sa.ColumnElement[float]:
    """`trust_score` rendered in SQL over (new) counter expressions."""
    a0_plain, b0 = prior(False)
    a0_verified, _ = prior(True)
    a0 = sa.case((verified, sql_float(a0_verified)), else_=sql_float(a0_plain))
    successes = as_float(approved) + sql_float(AGREEMENT_WEIGHT) * as_float(agreements)
    failures = as_float(rejected) + sql_float(AGREEMENT_WEIGHT) * as_float(disagreements)
    value = (a0 + successes) / (a0 + sql_float(b0) + successes + failures)
    return sa.func.least(sql_float(1.0), sa.func.greatest(sql_float(0.0), value))


def accuracy_sql(
    *, approved: Any, rejected: Any, agreements: Any, disagreements: Any
) -> sa.ColumnElement[float]:
    """`accuracy_rate` in SQL (NULL without evidence)."""
    confirmed = as_float(approved) + as_float(agreements)
    total = confirmed + as_float(rejected) + as_float(disagreements)
    return confirmed / sa.func.nullif(total, sql_float(0.0))


def candidate_weight_sql(trust: Any, confidence: Any) -> sa.ColumnElement[float]:
    """`candidate_weight` in SQL (demo data builds priorities with it)."""
    return sa.func.greatest(sql_float(0.0), as_float(trust)) * sa.func.least(
        sql_float(1.0), sa.func.greatest(sql_float(0.0), as_float(confidence))
    )
