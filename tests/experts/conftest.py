"""Helpers for the experts tests: profiles, expert keys and reviews through HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import Scope
from app.experts.models import ExpertProfile
from tests.conftest import KeyMaker, bearer

profiles = ExpertProfile.__table__

NewExpert = Callable[..., Awaitable[dict[str, Any]]]
ExpertHeaders = Callable[[str], Awaitable[dict[str, str]]]
Review = Callable[..., Awaitable[httpx.Response]]
SetProfile = Callable[..., Awaitable[None]]


def review_body(**overrides: Any) -> dict[str, Any]:
    """A valid `incorrect` review with an expert answer (a correction)."""
    body: dict[str, Any] = {
        "query_id": str(uuid.uuid4()),
        "feedback_type": "incorrect",
        "category": "normativa_obsoleta",
        "query_text": "Qual è l'aliquota IVA ordinaria?",
        "original_answer": "Il 20%.",
        "expert_answer": "Il 22% (art. 16 DPR 633/1972).",
        "regulatory_references": ["DPR 633/1972 art. 16"],
        "confidence_score": 0.8,
        "time_spent_seconds": 120,
        "complexity_rating": 2,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


@pytest.fixture
def new_expert(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> NewExpert:
    counter = iter(range(900_000, 1_000_000))

    async def make(**fields: Any) -> dict[str, Any]:
        body = {"user_id": next(counter), "credential_types": ["consulente_fiscale"], **fields}
        response = await client.post("/api/v1/experts", json=body, headers=admin_headers)
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()
        return data

    return make


@pytest.fixture
def expert_headers(make_key: KeyMaker) -> ExpertHeaders:
    async def make(expert_id: str) -> dict[str, str]:
        return bearer(await make_key(Scope.expert, expert_id=uuid.UUID(expert_id)))

    return make


@pytest.fixture
def review(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> Review:
    """POST a review as admin for `expert_id` (or with `headers`)."""

    async def post(
        expert_id: str | None = None, headers: dict[str, str] | None = None, **overrides: Any
    ) -> httpx.Response:
        body = review_body(**overrides)
        if expert_id is not None:
            body["expert_id"] = expert_id
        return await client.post(
            "/api/v1/expert-feedback", json=body, headers=headers or admin_headers
        )

    return post


@pytest.fixture
def set_profile(db: AsyncSession) -> SetProfile:
    """Write profile columns directly (e.g. a trust score the evidence has not earned)."""

    async def write(expert_id: str, **values: Any) -> None:
        await db.execute(
            sa.update(profiles).where(profiles.c.id == uuid.UUID(expert_id)).values(**values)
        )
        await db.commit()

    return write
