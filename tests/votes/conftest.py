"""Helpers shared by the votes tests."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.conftest import bearer

TokenMaker = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture
def token_headers(client: httpx.AsyncClient, ingest_headers: dict[str, str]) -> TokenMaker:
    """Mint a feedback token (as a browser would receive it) and return its headers."""

    async def mint(**body: Any) -> dict[str, str]:
        response = await client.post("/api/v1/feedback-tokens", json=body, headers=ingest_headers)
        assert response.status_code == 201, response.text
        return bearer(response.json()["token"])

    return mint
