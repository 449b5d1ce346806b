"""Real commits: simultaneous corrections of one query by several experts."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import sqlalchemy as sa

from app.auth import service as auth_service
from app.auth.models import Scope
from app.experts.models import ExpertFaqCandidate, ExpertProfile
from tests.conftest import bearer
from tests.experts.conftest import review_body

N = 6


async def test_simultaneous_corrections_make_one_candidate_and_count_every_agreement(
    committed_app: Any,
) -> None:
    async with committed_app.state.sessionmaker() as session:
        _, admin = await auth_service.create_key(session, scope=Scope.admin, name="admin")
        await session.commit()
    transport = httpx.ASGITransport(app=committed_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        experts = []
        for user_id in range(1, N + 1):
            response = await client.post(
                "/api/v1/experts",
                json={"user_id": user_id, "credential_types": ["revisore_legale"]},
                headers=bearer(admin),
            )
            assert response.status_code == 201
            experts.append(response.json()["id"])
        query_id = str(uuid.uuid4())

        async def correct(expert_id: str, i: int) -> httpx.Response:
            body = review_body(
                query_id=query_id,
                expert_id=expert_id,
                expert_answer=f"Risposta {i}",
                time_spent_seconds=10 * (i + 1),
            )
            return await client.post("/api/v1/expert-feedback", json=body, headers=bearer(admin))

        responses = await asyncio.gather(*(correct(e, i) for i, e in enumerate(experts)))

    assert [r.status_code for r in responses] == [201] * N, [r.text for r in responses]
    candidate_ids = {r.json()["faq_candidate"]["id"] for r in responses}
    assert len(candidate_ids) == 1
    c, p = ExpertFaqCandidate.__table__.c, ExpertProfile.__table__.c
    async with committed_app.state.sessionmaker() as session:
        rows = (
            await session.execute(
                sa.select(c.approval_status, c.supporting_count).where(
                    c.query_id == uuid.UUID(query_id)
                )
            )
        ).all()
        assert [(status.value, count) for status, count in rows] == [("pending", N)]
        counts = (
            await session.execute(
                sa.select(p.agreement_count, p.disagreement_count, p.feedback_count)
            )
        ).all()
    # Every pair of experts compared exactly once, counted on both sides.
    assert sorted(counts) == [(N - 1, 0, 1)] * N
