"""Helpers for the routing tests: metric bodies and posting them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import TokenMinter, bearer

METRICS = "/api/v1/routing/metrics"
FEEDBACK = "/api/v1/routing/feedback"


def metric(request_id: str, **fields: Any) -> dict[str, Any]:
    """A minimal valid metric body."""
    body: dict[str, Any] = {
        "request_id": request_id,
        "strategy_used": "hybrid",
        "selected_provider": "openai",
        "selected_model": "gpt-4o-mini",
    }
    body.update(fields)
    return body


async def post_metrics(
    client: httpx.AsyncClient, headers: dict[str, str], items: list[dict[str, Any]]
) -> list[str]:
    response = await client.post(METRICS, json={"items": items}, headers=headers)
    assert response.status_code == 201, response.text
    ids: list[str] = response.json()["ids"]
    return ids


async def post_feedback(
    client: httpx.AsyncClient, headers: dict[str, str], request_id: str, **fields: Any
) -> str:
    response = await client.post(
        FEEDBACK, json={"request_id": request_id, **fields}, headers=headers
    )
    assert response.status_code == 201, response.text
    feedback_id: str = response.json()["id"]
    return feedback_id


@pytest.fixture
async def conversation_token_headers(mint_token: TokenMinter) -> dict[str, str]:
    """A browser feedback token (valid, but never allowed on routing routes)."""
    return bearer(await mint_token(conversation_id="conv-1"))
