"""The pure trust rule (app/experts/trust.py): unit and property tests, and the SQL rendering
the service uses agrees with it."""

from __future__ import annotations

import math

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from app.experts import trust
from app.experts.trust import Evidence, accuracy_sql, trust_sql

counts = st.integers(min_value=0, max_value=10_000)
evidence = st.builds(Evidence, counts, counts, counts, counts)
few = st.integers(min_value=0, max_value=9)


def test_prior_is_half_and_verified_credential_raises_it() -> None:
    assert trust.trust_score(Evidence()) == 0.5
    assert trust.trust_score(Evidence(), verified=True) == pytest.approx(6 / 11)


def test_hand_computed_values() -> None:
    # (a0 + approved + agreements / 2) / (a0 + b0 + approved + rejected + (agr + dis) / 2)
    assert trust.trust_score(Evidence(approved=3, rejected=1)) == pytest.approx(8 / 14)
    assert trust.trust_score(Evidence(agreements=4, disagreements=2)) == pytest.approx(7 / 13)
    assert trust.trust_score(Evidence(approved=60), verified=True) == pytest.approx(66 / 71)
    assert trust.accuracy_rate(Evidence()) is None
    assert trust.accuracy_rate(Evidence(approved=1, rejected=1, agreements=2)) == 0.75


def test_minimum_evidence_to_reach_auto_approval() -> None:
    assert trust.min_successes_for(0.9) == pytest.approx(40)
    assert trust.min_successes_for(0.9, verified=True) == pytest.approx(39)
    assert trust.trust_score(Evidence(approved=40)) == pytest.approx(0.9)
    assert trust.trust_score(Evidence(approved=39)) < 0.9
    assert trust.trust_score(Evidence(approved=38), verified=True) < 0.9
    assert trust.trust_score(Evidence(approved=39), verified=True) >= 0.9 - 1e-12
    assert trust.trust_score(Evidence(agreements=79)) < 0.9  # agreements weigh half


@given(evidence, st.booleans())
def test_bounded(e: Evidence, verified: bool) -> None:
    value = trust.trust_score(e, verified=verified)
    assert 0.0 < value < 1.0
    rate = trust.accuracy_rate(e)
    assert rate is None or 0.0 <= rate <= 1.0


@given(evidence, st.booleans(), st.integers(min_value=1, max_value=100))
def test_monotone_in_approvals_and_rejections(e: Evidence, verified: bool, k: int) -> None:
    base = trust.trust_score(e, verified=verified)
    more_approved = Evidence(e.approved + k, e.rejected, e.agreements, e.disagreements)
    more_rejected = Evidence(e.approved, e.rejected + k, e.agreements, e.disagreements)
    more_agreed = Evidence(e.approved, e.rejected, e.agreements + k, e.disagreements)
    more_disagreed = Evidence(e.approved, e.rejected, e.agreements, e.disagreements + k)
    assert trust.trust_score(more_approved, verified=verified) > base
    assert trust.trust_score(more_agreed, verified=verified) > base
    assert trust.trust_score(more_rejected, verified=verified) < base
    assert trust.trust_score(more_disagreed, verified=verified) < base


@given(few, few, few, few, st.booleans())
def test_little_evidence_stays_near_prior(
    approved: int, rejected: int, agreements: int, disagreements: int, verified: bool
) -> None:
    e = Evidence(approved, rejected, agreements, disagreements)
    a0, b0 = trust.prior(verified)
    n = e.successes + e.failures
    assert abs(trust.trust_score(e, verified=verified) - a0 / (a0 + b0)) <= n / (a0 + b0 + n)


@given(
    st.integers(min_value=0, max_value=38),
    counts,
    counts,
    counts,
    st.booleans(),
)
def test_under_39_approvals_and_few_agreements_cannot_reach_threshold(
    approved: int, rejected: int, agreements: int, disagreements: int, verified: bool
) -> None:
    # Fewer weighted successes than min_successes_for(0.9) can never reach 0.9.
    agreements = min(agreements, 1)
    e = Evidence(approved, rejected, agreements, disagreements)
    assert trust.trust_score(e, verified=verified) < 0.9


@given(st.floats(0, 1), st.floats(0, 1))
def test_candidate_weight_is_trust_times_confidence(t: float, c: float) -> None:
    assert trust.candidate_weight(t, c) == pytest.approx(t * c)
    assert 0.0 <= trust.candidate_weight(t, c) <= 1.0


@settings(max_examples=50)
@given(st.floats(0.01, 0.99), st.booleans(), st.integers(0, 50))
def test_min_successes_is_tight(threshold: float, verified: bool, failures: int) -> None:
    need = trust.min_successes_for(threshold, verified=verified, failures=failures)
    enough = Evidence(approved=math.ceil(need) + 1, rejected=failures)
    assert trust.trust_score(enough, verified=verified) >= threshold
    if need >= 1:
        # One whole approval fewer than needed (the 1e-9 absorbs float noise in `need`).
        short = Evidence(approved=math.ceil(need - 1e-9) - 1, rejected=failures)
        assert trust.trust_score(short, verified=verified) < threshold


async def test_sql_rendering_matches_python(db: AsyncSession) -> None:
    grid = [
        Evidence(0, 0, 0, 0),
        Evidence(1, 0, 0, 0),
        Evidence(0, 1, 0, 0),
        Evidence(3, 1, 4, 2),
        Evidence(60, 0, 1, 0),
        Evidence(0, 9, 0, 17),
        Evidence(10_000, 3, 7, 9_999),
    ]
    for e in grid:
        for verified in (False, True):
            kwargs = {
                "approved": sa.literal(e.approved),
                "rejected": sa.literal(e.rejected),
                "agreements": sa.literal(e.agreements),
                "disagreements": sa.literal(e.disagreements),
            }
            row = (
                await db.execute(
                    sa.select(
                        trust_sql(**kwargs, verified=sa.literal(verified)), accuracy_sql(**kwargs)
                    )
                )
            ).one()
            assert row[0] == pytest.approx(trust.trust_score(e, verified=verified), abs=1e-12)
            expected_rate = trust.accuracy_rate(e)
            if expected_rate is None:
                assert row[1] is None
            else:
                assert row[1] == pytest.approx(expected_rate, abs=1e-12)
