"""The FAQ approval queue: listing, approve/reject rules, and their effect on trust."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import Scope
from tests.conftest import KeyMaker, bearer
from tests.experts.conftest import NewExpert, Review, SetProfile

URL = "/api/v1/faq-candidates"


async def _pending(review: Review, expert_id: str, **overrides: Any) -> str:
    response = await review(expert_id, **overrides)
    assert response.status_code == 201, response.text
    candidate_id: str = response.json()["faq_candidate"]["id"]
    return candidate_id


async def _expert(client: httpx.AsyncClient, headers: dict[str, str], expert_id: str) -> Any:
    return (await client.get(f"/api/v1/experts/{expert_id}", headers=headers)).json()


async def test_queue_lists_pending_by_priority_with_keyset_pages(
    client: httpx.AsyncClient, admin_headers: dict[str, str], new_expert: NewExpert, review: Review
) -> None:
    expert = await new_expert()
    # trust 0.5 for each: priority = 0.5 x confidence
    ids = {c: await _pending(review, expert["id"], confidence_score=c) for c in (0.2, 0.9, 0.5)}
    page1 = await client.get(URL, params={"limit": 2}, headers=admin_headers)
    assert page1.status_code == 200
    data = page1.json()
    assert [c["id"] for c in data["items"]] == [ids[0.9], ids[0.5]]
    assert [c["priority_score"] for c in data["items"]] == pytest.approx([0.45, 0.25])
    assert data["items"][0]["approval_status"] == "pending"
    page2 = await client.get(
        URL, params={"limit": 2, "cursor": data["next_cursor"]}, headers=admin_headers
    )
    assert [c["id"] for c in page2.json()["items"]] == [ids[0.2]]
    assert page2.json()["next_cursor"] is None
    approved = await client.get(URL, params={"status": "approved"}, headers=admin_headers)
    assert approved.json() == {"items": [], "next_cursor": None}
    bad = await client.get(URL, params={"status": "maybe"}, headers=admin_headers)
    assert bad.status_code == 422


async def test_approve_records_decider_and_raises_author_trust(
    client: httpx.AsyncClient,
    make_key: KeyMaker,
    new_expert: NewExpert,
    review: Review,
    db: AsyncSession,
) -> None:
    operator = bearer(await make_key(Scope.admin, user_id=5150, name="operator"))
    expert = await new_expert()
    candidate_id = await _pending(review, expert["id"])
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    response = await client.post(f"{URL}/{candidate_id}/approve", headers=operator)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["id"] == candidate_id
    assert data["approval_status"] == "approved"
    assert data["approved_by"] == 5150
    assert dt.datetime.fromisoformat(data["approved_at"]) >= before
    # The audit trail names the deciding key (as `keys list` shows it), and when.
    keys = await db.execute(sa.text("SELECT id FROM api_keys WHERE name = 'operator'"))
    assert data["decided_by_key_id"] == str(keys.scalar_one())
    assert data["decided_at"] == data["approved_at"]
    profile = await _expert(client, operator, expert["id"])
    assert profile["approved_count"] == 1
    assert profile["trust_score"] == pytest.approx(6 / 11)  # Beta(5, 5) + 1 success
    assert profile["trust_score"] > 0.5
    assert profile["feedback_accuracy_rate"] == 1.0

    twice = await client.post(f"{URL}/{candidate_id}/approve", headers=operator)
    assert twice.status_code == 409
    reject_after = await client.post(
        f"{URL}/{candidate_id}/reject", json={"reason": "no"}, headers=operator
    )
    assert reject_after.status_code == 409
    # The 409s changed nothing.
    assert (await _expert(client, operator, expert["id"]))["approved_count"] == 1
    listed = await client.get(URL, params={"status": "approved"}, headers=operator)
    assert [c["id"] for c in listed.json()["items"]] == [candidate_id]


async def test_reject_needs_a_reason_and_lowers_author_trust(
    client: httpx.AsyncClient, admin_headers: dict[str, str], new_expert: NewExpert, review: Review
) -> None:
    expert = await new_expert()
    candidate_id = await _pending(review, expert["id"])
    url = f"{URL}/{candidate_id}/reject"
    for body in (None, {}, {"reason": ""}, {"reason": "   "}, {"reason": "a\u0000"}):
        response = await client.post(url, json=body, headers=admin_headers)
        assert response.status_code == 422, body
    response = await client.post(url, json={"reason": "Norma citata errata"}, headers=admin_headers)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["approval_status"] == "rejected"
    assert data["rejection_reason"] == "Norma citata errata"
    assert data["approved_by"] is None  # the test admin key has no operator user
    assert data["approved_at"] is None  # a rejection is not an approval
    assert data["decided_at"] is not None
    assert data["decided_by_key_id"] is not None
    profile = await _expert(client, admin_headers, expert["id"])
    assert profile["rejected_count"] == 1
    assert profile["trust_score"] == pytest.approx(5 / 11)  # Beta(5, 5) + 1 failure
    assert profile["trust_score"] < 0.5
    assert profile["feedback_accuracy_rate"] == 0.0
    again = await client.post(url, json={"reason": "ancora"}, headers=admin_headers)
    assert again.status_code == 409
    approve_after = await client.post(f"{URL}/{candidate_id}/approve", headers=admin_headers)
    assert approve_after.status_code == 409


async def test_trust_moves_with_each_decision(
    client: httpx.AsyncClient, admin_headers: dict[str, str], new_expert: NewExpert, review: Review
) -> None:
    expert = await new_expert()
    trusts = [0.5]
    for decision in ("approve", "approve", "reject", "approve"):
        candidate_id = await _pending(review, expert["id"])
        body = {"reason": "no"} if decision == "reject" else None
        response = await client.post(
            f"{URL}/{candidate_id}/{decision}", json=body, headers=admin_headers
        )
        assert response.status_code == 200
        trusts.append((await _expert(client, admin_headers, expert["id"]))["trust_score"])
    # 0.5 -> 6/11 -> 7/12 -> 7/13 -> 8/14
    assert trusts == pytest.approx([0.5, 6 / 11, 7 / 12, 7 / 13, 8 / 14])


async def test_unknown_candidate_is_404_and_auto_approved_cannot_be_decided(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    new_expert: NewExpert,
    review: Review,
    set_profile: SetProfile,
) -> None:
    missing = uuid.uuid4()
    assert (await client.post(f"{URL}/{missing}/approve", headers=admin_headers)).status_code == 404
    rejected = await client.post(
        f"{URL}/{missing}/reject", json={"reason": "x"}, headers=admin_headers
    )
    assert rejected.status_code == 404
    expert = await new_expert()
    await client.patch(
        f"/api/v1/experts/{expert['id']}", json={"is_verified": True}, headers=admin_headers
    )
    await set_profile(expert["id"], trust_score=0.95)
    response = await review(expert["id"])
    ref = response.json()["faq_candidate"]
    assert ref["approval_status"] == "auto_approved"
    conflict = await client.post(f"{URL}/{ref['id']}/approve", headers=admin_headers)
    assert conflict.status_code == 409
    listed = await client.get(URL, params={"status": "auto_approved"}, headers=admin_headers)
    assert [c["id"] for c in listed.json()["items"]] == [ref["id"]]


async def test_a_published_query_is_never_auto_approved_twice(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    new_expert: NewExpert,
    review: Review,
    set_profile: SetProfile,
) -> None:
    statuses = []
    query_id = str(uuid.uuid4())
    for _ in range(2):
        expert = await new_expert()
        await client.patch(
            f"/api/v1/experts/{expert['id']}", json={"is_verified": True}, headers=admin_headers
        )
        await set_profile(expert["id"], trust_score=0.95)
        response = await review(expert["id"], query_id=query_id)
        statuses.append(response.json()["faq_candidate"]["approval_status"])
    # The second trusted correction changes a published answer: a human decides.
    assert statuses == ["auto_approved", "pending"]
