"""Mass assignment: a server-owned field in any request body is refused (422 naming the
field) and nothing is stored, on every operation that takes a JSON body."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

import app.models  # noqa: F401  (every table on the metadata)
from tests.hostile.test_hostile_input import OPERATIONS, _body_schema, _example_body, _url

pytestmark = pytest.mark.hostile

SERVER_OWNED: dict[str, Any] = {
    "id": "00000000-0000-4000-8000-000000000001",
    "created_at": "2020-01-01T00:00:00Z",
    "trust_score": 1.0,
    "approval_status": "approved",
    "cost_savings": 1000,
    "hit_count": 1000000,
}
WITH_BODY = [(m, p, op) for m, p, op in OPERATIONS if _body_schema(op) is not None]


async def _row_counts(db: AsyncSession) -> dict[str, int]:
    counts = {}
    for table in SQLModel.metadata.sorted_tables:
        counts[table.name] = int(
            await db.scalar(sa.select(sa.func.count()).select_from(table)) or 0
        )
    return counts


def _fields(response: httpx.Response) -> set[str]:
    return {e["field"] for e in response.json().get("errors") or []}


def test_every_body_operation_is_covered() -> None:
    assert {(m, p) for m, p, _ in WITH_BODY} >= {
        ("POST", "/api/v1/feedback"),
        ("POST", "/api/v1/routing/metrics"),
        ("POST", "/api/v1/cache/entries"),
        ("POST", "/api/v1/experts"),
        ("PATCH", "/api/v1/experts/{expert_id}"),
        ("POST", "/api/v1/expert-feedback"),
    }


@pytest.mark.parametrize(
    ("method", "path", "op"), WITH_BODY, ids=[f"{m} {p}" for m, p, _ in WITH_BODY]
)
async def test_server_owned_fields_are_refused_and_never_stored(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    db: AsyncSession,
    method: str,
    path: str,
    op: Any,
) -> None:
    before = await _row_counts(db)
    base = _example_body(_body_schema(op))
    outcome = {}
    for field, value in SERVER_OWNED.items():
        response = await client.request(
            method,
            _url(path, {}),
            headers={**admin_headers, "Content-Type": "application/json"},
            content=json.dumps({**base, field: value}),
        )
        outcome[field] = (response.status_code, field in _fields(response))
    assert outcome == {field: (422, True) for field in SERVER_OWNED}
    assert await _row_counts(db) == before
