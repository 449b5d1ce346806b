"""POST /api/v1/expert-feedback: validation, who may submit, counters, agreement, FAQ
candidates (creation, strengthening, auto-approval boundary)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.experts.models import ExpertFaqCandidate
from tests.experts.conftest import (
    ExpertHeaders,
    NewExpert,
    Review,
    SetProfile,
    review_body,
)

URL = "/api/v1/expert-feedback"
candidates = ExpertFaqCandidate.__table__


async def _candidate(db: AsyncSession, candidate_id: str) -> dict[str, Any]:
    row = (
        (await db.execute(sa.select(candidates).where(candidates.c.id == uuid.UUID(candidate_id))))
        .mappings()
        .one()
    )
    return dict(row)


async def _profile(client: httpx.AsyncClient, headers: dict[str, str], expert_id: str) -> Any:
    response = await client.get(f"/api/v1/experts/{expert_id}", headers=headers)
    assert response.status_code == 200
    return response.json()


async def test_correct_review_is_stored_without_candidate(
    new_expert: NewExpert, review: Review
) -> None:
    expert = await new_expert()
    response = await review(expert["id"], feedback_type="correct", category=..., expert_answer=...)
    assert response.status_code == 201, response.text
    data = response.json()
    uuid.UUID(data["id"])
    assert data["faq_candidate"] is None
    assert data["expert_id"] == expert["id"]


async def test_correction_creates_pending_candidate_from_the_review(
    new_expert: NewExpert, review: Review, db: AsyncSession
) -> None:
    expert = await new_expert()
    query_id = str(uuid.uuid4())
    response = await review(expert["id"], query_id=query_id, confidence_score=0.8)
    assert response.status_code == 201, response.text
    data = response.json()
    ref = data["faq_candidate"]
    assert ref["approval_status"] == "pending"
    row = await _candidate(db, ref["id"])
    body = review_body()
    assert str(row["query_id"]) == query_id
    assert row["question"] == body["query_text"]
    assert row["answer"] == body["expert_answer"]
    assert row["suggested_category"].value == "normativa_obsoleta"
    assert row["regulatory_references"] == ["DPR 633/1972 art. 16"]
    assert row["expert_trust_score"] == 0.5
    assert str(row["expert_id"]) == expert["id"]
    assert str(row["source_feedback_id"]) == data["id"]
    assert row["supporting_count"] == 1
    # priority = trust x confidence = 0.5 x 0.8
    assert row["priority_score"] == pytest.approx(0.4)
    assert row["approved_at"] is None


async def test_incomplete_makes_candidate_only_with_an_answer(
    new_expert: NewExpert, review: Review
) -> None:
    expert = await new_expert()
    without = await review(
        expert["id"], feedback_type="incomplete", category="caso_mancante", expert_answer=...
    )
    assert without.status_code == 201, without.text
    assert without.json()["faq_candidate"] is None
    with_answer = await review(
        expert["id"], feedback_type="incomplete", category="caso_mancante", expert_answer="X"
    )
    assert with_answer.status_code == 201
    assert with_answer.json()["faq_candidate"]["approval_status"] == "pending"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"feedback_type": "incorrect", "category": ...}, "category"),
        ({"feedback_type": "incomplete", "category": None}, "category"),
        ({"feedback_type": "incorrect", "expert_answer": ...}, "expert_answer"),
        ({"feedback_type": "incorrect", "expert_answer": None}, "expert_answer"),
        ({"feedback_type": "wrong"}, "feedback_type"),
        ({"category": "sbagliato"}, "category"),
        ({"confidence_score": 1.01}, "confidence_score"),
        ({"confidence_score": -0.01}, "confidence_score"),
        ({"time_spent_seconds": 0}, "time_spent_seconds"),
        ({"time_spent_seconds": -5}, "time_spent_seconds"),
        ({"complexity_rating": 0}, "complexity_rating"),
        ({"complexity_rating": 6}, "complexity_rating"),
        ({"query_id": "q-123"}, "query_id"),
        ({"query_id": ...}, "query_id"),
        ({"query_text": "a\u0000b"}, "query_text"),
        ({"query_text": ""}, "query_text"),
        ({"original_answer": ...}, "original_answer"),
        ({"regulatory_references": ["ok", "x\u0000"]}, "regulatory_references.1"),
        ({"confidence_score": ...}, "confidence_score"),
        ({"unknown_field": 1}, "unknown_field"),
    ],
)
async def test_validation_rules_are_422_with_the_field(
    new_expert: NewExpert, review: Review, overrides: dict[str, Any], field: str
) -> None:
    expert = await new_expert()
    response = await review(expert["id"], **overrides)
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}, response.text


async def test_correct_needs_no_category_and_incomplete_no_answer(
    new_expert: NewExpert, review: Review
) -> None:
    expert = await new_expert()
    ok = await review(expert["id"], feedback_type="correct", category=None, expert_answer=None)
    assert ok.status_code == 201, ok.text
    boundaries = await review(
        expert["id"], confidence_score=0, time_spent_seconds=1, complexity_rating=5
    )
    assert boundaries.status_code == 201, boundaries.text


async def test_admin_must_name_the_expert(review: Review) -> None:
    response = await review(None)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "expert_id"


async def test_unknown_expert_is_404_and_inactive_is_403(
    new_expert: NewExpert,
    review: Review,
    expert_headers: ExpertHeaders,
    set_profile: SetProfile,
) -> None:
    assert (await review(str(uuid.uuid4()))).status_code == 404
    expert = await new_expert()
    await set_profile(expert["id"], is_active=False)
    assert (await review(expert["id"])).status_code == 403
    own_key = await expert_headers(expert["id"])
    assert (await review(headers=own_key)).status_code == 403


async def test_expert_key_acts_only_for_its_own_profile(
    new_expert: NewExpert,
    review: Review,
    expert_headers: ExpertHeaders,
    ingest_headers: dict[str, str],
) -> None:
    mine, other = await new_expert(), await new_expert()
    headers = await expert_headers(mine["id"])
    implicit = await review(headers=headers)
    assert implicit.status_code == 201, implicit.text
    assert implicit.json()["expert_id"] == mine["id"]
    explicit = await review(mine["id"], headers=headers)
    assert explicit.status_code == 201
    forbidden = await review(other["id"], headers=headers)
    assert forbidden.status_code == 403
    assert (await review(mine["id"], headers=ingest_headers)).status_code == 403


async def test_profile_counters_running_mean(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    new_expert: NewExpert,
    review: Review,
) -> None:
    expert = await new_expert()
    for seconds in (100, 200, 60):
        response = await review(expert["id"], time_spent_seconds=seconds)
        assert response.status_code == 201
    profile = await _profile(client, admin_headers, expert["id"])
    assert profile["feedback_count"] == 3
    assert profile["average_response_time_seconds"] == pytest.approx(120.0)
    # Different queries: nothing to agree with, trust and accuracy untouched.
    assert profile["trust_score"] == 0.5
    assert profile["feedback_accuracy_rate"] is None


async def test_agreement_and_disagreement_move_everyones_trust(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    new_expert: NewExpert,
    review: Review,
) -> None:
    a, b, c = await new_expert(), await new_expert(), await new_expert()
    query_id = str(uuid.uuid4())
    assert (await review(a["id"], query_id=query_id)).status_code == 201
    assert (await review(b["id"], query_id=query_id)).status_code == 201

    pa, pb = [await _profile(client, admin_headers, e["id"]) for e in (a, b)]
    for p in (pa, pb):
        assert (p["agreement_count"], p["disagreement_count"]) == (1, 0)
        # Beta(5, 5) + 0.5 success (an agreement weighs half): 5.5 / 10.5
        assert p["trust_score"] == pytest.approx(5.5 / 10.5)
        assert p["feedback_accuracy_rate"] == 1.0

    assert (
        await review(
            c["id"], query_id=query_id, feedback_type="correct", category=None, expert_answer=None
        )
    ).status_code == 201
    pc = await _profile(client, admin_headers, c["id"])
    assert (pc["agreement_count"], pc["disagreement_count"]) == (0, 2)
    assert pc["trust_score"] == pytest.approx(5 / 11)
    assert pc["feedback_accuracy_rate"] == 0.0
    pa = await _profile(client, admin_headers, a["id"])
    assert (pa["agreement_count"], pa["disagreement_count"]) == (1, 1)
    assert pa["trust_score"] == pytest.approx(5.5 / 11)
    assert pa["feedback_accuracy_rate"] == 0.5

    # A second review of the same query by the same expert is not compared again.
    assert (await review(c["id"], query_id=query_id)).status_code == 201
    pc2 = await _profile(client, admin_headers, c["id"])
    assert (pc2["agreement_count"], pc2["disagreement_count"]) == (0, 2)
    assert pc2["feedback_count"] == 2
    pb2 = await _profile(client, admin_headers, b["id"])
    assert (pb2["agreement_count"], pb2["disagreement_count"]) == (1, 1)


async def test_second_correction_strengthens_the_pending_candidate(
    new_expert: NewExpert, review: Review, set_profile: SetProfile, db: AsyncSession
) -> None:
    first, trusted, doubtful = await new_expert(), await new_expert(), await new_expert()
    # Evidence the trust is computed from (direct trust would be recomputed on agreement).
    await set_profile(trusted["id"], approved_count=10)
    await set_profile(doubtful["id"], rejected_count=10)
    query_id = str(uuid.uuid4())

    one = (await review(first["id"], query_id=query_id, confidence_score=0.8)).json()
    two = (
        await review(
            trusted["id"],
            query_id=query_id,
            confidence_score=0.5,
            expert_answer="Risposta migliore",
            category="interpretazione_errata",
            regulatory_references=["TUIR art. 51"],
        )
    ).json()
    assert two["faq_candidate"]["id"] == one["faq_candidate"]["id"]
    row = await _candidate(db, one["faq_candidate"]["id"])
    trusted_trust = (5 + 10 + 0.5) / (10 + 10 + 0.5)  # 10 approvals + 1 agreement
    assert row["supporting_count"] == 2
    assert row["priority_score"] == pytest.approx(0.5 * 0.8 + trusted_trust * 0.5)
    # The more trusted expert's answer replaces the first one, with its author data.
    assert row["answer"] == "Risposta migliore"
    assert row["suggested_category"].value == "interpretazione_errata"
    assert row["regulatory_references"] == ["TUIR art. 51"]
    assert str(row["expert_id"]) == trusted["id"]
    assert str(row["source_feedback_id"]) == two["id"]
    assert row["expert_trust_score"] == pytest.approx(trusted_trust)

    three = (
        await review(doubtful["id"], query_id=query_id, confidence_score=1.0, expert_answer="Altro")
    ).json()
    assert three["faq_candidate"]["id"] == one["faq_candidate"]["id"]
    row = await _candidate(db, one["faq_candidate"]["id"])
    doubtful_trust = (5 + 1.0) / (10 + 10 + 1.0)  # 10 rejections + 2 agreements
    assert row["supporting_count"] == 3
    assert row["priority_score"] == pytest.approx(0.4 + trusted_trust * 0.5 + doubtful_trust)
    assert row["answer"] == "Risposta migliore"
    assert str(row["expert_id"]) == trusted["id"]
    count = await db.scalar(
        sa.select(sa.func.count())
        .select_from(candidates)
        .where(candidates.c.query_id == uuid.UUID(query_id))
    )
    assert count == 1


async def test_a_decided_candidate_lets_a_new_one_open(
    client: httpx.AsyncClient, admin_headers: dict[str, str], new_expert: NewExpert, review: Review
) -> None:
    expert = await new_expert()
    query_id = str(uuid.uuid4())
    first = (await review(expert["id"], query_id=query_id)).json()["faq_candidate"]
    rejected = await client.post(
        f"/api/v1/faq-candidates/{first['id']}/reject",
        json={"reason": "imprecisa"},
        headers=admin_headers,
    )
    assert rejected.status_code == 200
    second = (await review(expert["id"], query_id=query_id)).json()["faq_candidate"]
    assert second["approval_status"] == "pending"
    assert second["id"] != first["id"]


async def _verified(
    client: httpx.AsyncClient, admin_headers: dict[str, str], new_expert: NewExpert
) -> dict[str, Any]:
    expert = await new_expert()
    response = await client.patch(
        f"/api/v1/experts/{expert['id']}", json={"is_verified": True}, headers=admin_headers
    )
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


async def test_auto_approval_at_the_threshold(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    new_expert: NewExpert,
    review: Review,
    set_profile: SetProfile,
    db: AsyncSession,
) -> None:
    expert = await _verified(client, admin_headers, new_expert)
    await set_profile(expert["id"], trust_score=0.9)
    response = await review(expert["id"])
    assert response.status_code == 201
    ref = response.json()["faq_candidate"]
    assert ref["approval_status"] == "auto_approved"
    row = await _candidate(db, ref["id"])
    assert row["approved_at"] is not None
    assert row["approved_by"] is None
    assert row["expert_trust_score"] == 0.9
    # Auto-approval is not evidence: the counters do not move.
    profile = await _profile(client, admin_headers, expert["id"])
    assert profile["approved_count"] == 0
    assert profile["trust_score"] == 0.9


async def test_just_below_the_threshold_stays_pending(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    new_expert: NewExpert,
    review: Review,
    set_profile: SetProfile,
) -> None:
    expert = await _verified(client, admin_headers, new_expert)
    await set_profile(expert["id"], trust_score=0.8999)
    ref = (await review(expert["id"])).json()["faq_candidate"]
    assert ref["approval_status"] == "pending"


async def test_unverified_expert_stays_pending_even_at_high_trust(
    new_expert: NewExpert, review: Review, set_profile: SetProfile
) -> None:
    expert = await new_expert()
    await set_profile(expert["id"], trust_score=0.99)
    ref = (await review(expert["id"])).json()["faq_candidate"]
    assert ref["approval_status"] == "pending"


async def test_threshold_comes_from_settings(
    app: Any,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    new_expert: NewExpert,
    review: Review,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expert = await _verified(client, admin_headers, new_expert)  # trust 6/11 ≈ 0.545
    monkeypatch.setattr(app.state.settings, "expert_auto_approval_threshold", 0.5)
    ref = (await review(expert["id"])).json()["faq_candidate"]
    assert ref["approval_status"] == "auto_approved"


async def test_trusted_expert_takes_over_a_pending_candidate(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    new_expert: NewExpert,
    review: Review,
    set_profile: SetProfile,
    db: AsyncSession,
) -> None:
    newcomer = await new_expert()
    senior = await _verified(client, admin_headers, new_expert)
    # 60 approvals: (6 + 60 + 0.5) / (11 + 60 + 0.5) ≈ 0.93 after agreeing with the newcomer.
    await set_profile(senior["id"], approved_count=60)
    query_id = str(uuid.uuid4())
    pending = (await review(newcomer["id"], query_id=query_id)).json()["faq_candidate"]
    taken = (
        await review(senior["id"], query_id=query_id, expert_answer="Risposta del senior")
    ).json()["faq_candidate"]
    assert taken == {"id": pending["id"], "approval_status": "auto_approved"}
    row = await _candidate(db, pending["id"])
    assert row["answer"] == "Risposta del senior"
    assert str(row["expert_id"]) == senior["id"]
    assert row["supporting_count"] == 2
    assert row["expert_trust_score"] == pytest.approx(66.5 / 71.5)
