"""Helpers for the quality-loop tests: votes and reviews through HTTP, and a full recount
from `votes` / `expert_feedback` that the trigger-kept tables must always equal."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.quality import priority
from tests.experts.conftest import new_expert, review  # noqa: F401  (fixtures reused here)

Cast = Callable[..., Awaitable[dict[str, Any]]]
Reviewed = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def cast(client: httpx.AsyncClient, ingest_headers: dict[str, str]) -> Cast:
    """POST one vote as the gateway would; returns the 201 body."""

    async def post(
        conversation_id: str, vote: str, query_id: uuid.UUID | None, **fields: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"conversation_id": conversation_id, "vote": vote, **fields}
        if query_id is not None:
            body["query_id"] = str(query_id)
        response = await client.post("/api/v1/feedback", json=body, headers=ingest_headers)
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()
        return data

    return post


@pytest.fixture
def reviewed(new_expert: Any, review: Any) -> Reviewed:  # noqa: F811
    """Record an expert verdict on `query_id` (a new expert unless `expert_id` is given)."""

    async def post(query_id: uuid.UUID, feedback_type: str = "incorrect", **kw: Any) -> Any:
        expert_id = kw.pop("expert_id", None) or (await new_expert())["id"]
        overrides: dict[str, Any] = {"query_id": str(query_id), "feedback_type": feedback_type}
        if feedback_type == "correct":
            overrides |= {"category": ..., "expert_answer": ...}
        elif feedback_type == "incomplete":
            overrides |= {"expert_answer": ...}
        response = await review(expert_id, **overrides, **kw)
        assert response.status_code == 201, response.text
        return {**response.json(), "expert_id": expert_id}

    return post


_CURRENT_SQL = """
SELECT DISTINCT ON (query_id, conversation_id)
       query_id, conversation_id, id, vote::text AS vote, reasons, created_at
FROM votes WHERE query_id IS NOT NULL
ORDER BY query_id, conversation_id, created_at DESC, id DESC
"""


async def recount(conn: AsyncSession | AsyncConnection) -> dict[uuid.UUID, dict[str, Any]]:
    """What `query_signals` must hold, recomputed from scratch (the slow way)."""
    current = (await conn.execute(sa.text(_CURRENT_SQL))).mappings().all()
    reviews = (
        await conn.execute(
            sa.text("SELECT query_id, min(created_at) AS first FROM expert_feedback GROUP BY 1")
        )
    ).all()
    out: dict[uuid.UUID, dict[str, Any]] = {}
    for row in current:
        entry = out.setdefault(row["query_id"], {"down": [], "up": 0, "reviewed": False})
        if row["vote"] == "down":
            entry["down"].append(list(row["reasons"]))
        else:
            entry["up"] += 1
    for query_id, _ in reviews:
        out.setdefault(query_id, {"down": [], "up": 0, "reviewed": False})["reviewed"] = True
    return {
        q: {
            "down_votes": len(e["down"]),
            "up_votes": e["up"],
            "reasoned_down_votes": priority.reasoned_down(e["down"]),
            "reasons": priority.reason_counts(e["down"]),
            "priority": priority.priority(
                len(e["down"]), e["up"], priority.reasoned_down(e["down"])
            ),
            "reviewed": e["reviewed"],
        }
        for q, e in out.items()
    }


async def stored(conn: AsyncSession | AsyncConnection) -> dict[uuid.UUID, dict[str, Any]]:
    """What the triggers keep in `query_signals`."""
    rows = (
        await conn.execute(
            sa.text(
                "SELECT query_id, down_votes, up_votes, reasoned_down_votes, reasons, priority, "
                "first_reviewed_at IS NOT NULL AS reviewed FROM query_signals"
            )
        )
    ).mappings()
    return {r["query_id"]: {k: v for k, v in r.items() if k != "query_id"} for r in rows}


async def assert_consistent(conn: AsyncSession | AsyncConnection) -> None:
    """Both trigger-kept tables equal a full recount."""
    expected = await recount(conn)
    actual = await stored(conn)
    assert actual.keys() == expected.keys()
    for query_id, want in expected.items():
        got = actual[query_id]
        assert got["priority"] == pytest.approx(want.pop("priority"), rel=1e-12, abs=1e-12)
        got.pop("priority")
        assert got == want, query_id
    current = {
        (r.query_id, r.conversation_id): r.id
        for r in (await conn.execute(sa.text(_CURRENT_SQL))).all()
    }
    kept = {
        (r.query_id, r.conversation_id): r.vote_id
        for r in (
            await conn.execute(
                sa.text("SELECT query_id, conversation_id, vote_id FROM query_current_votes")
            )
        ).all()
    }
    assert kept == current
