"""Helpers for the cache tests: create entries and mint feedback tokens over HTTP."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.conftest import TokenMinter

EntryMaker = Callable[..., Awaitable[dict[str, Any]]]
TokenMaker = Callable[..., Awaitable[str]]


@pytest.fixture
def make_entry(client: httpx.AsyncClient, ingest_headers: dict[str, str]) -> EntryMaker:
    """POST an entry (defaults filled in) and return the response body."""

    async def make(cache_key: str = "key-1", **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "cache_key": cache_key,
            "provider": "openai",
            "model": "gpt-4o-mini",
            "cost_usd": 0.0042,
            **fields,
        }
        response = await client.post("/api/v1/cache/entries", json=body, headers=ingest_headers)
        assert response.status_code in (200, 201), response.text
        result: dict[str, Any] = response.json()
        return result

    return make


@pytest.fixture
def cache_token(mint_token: TokenMinter) -> TokenMaker:
    """Mint a feedback token for a cache key (optionally bound to a user)."""

    async def mint(cache_key: str, **fields: Any) -> str:
        return await mint_token(cache_key=cache_key, **fields)

    return mint
