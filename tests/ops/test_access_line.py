"""The access line rendered once by `RequestContext` (JSON logs) is the line the structlog
chain renders: the same keys in the same order, the same values, the same redaction."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app import observability
from app.main import create_app
from app.observability import configure_logging
from tests.conftest import make_settings


@pytest.fixture
async def json_app(database_url: str) -> AsyncIterator[FastAPI]:
    app = create_app(make_settings(database_url, log_json=True))
    async with app.router.lifespan_context(app):
        yield app
    configure_logging(make_settings(database_url))


async def _access_lines(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch, *, chain: bool, requests: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    buffer = io.StringIO()
    configure_logging(app.state.settings, stream=buffer)
    if chain:  # what the structlog processors render
        monkeypatch.setattr(observability, "_access_json", False)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            for request in requests:
                await http.request(**request)
    finally:
        monkeypatch.undo()
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    return [line for line in lines if line.get("event") == "request"]


REQUESTS: list[dict[str, Any]] = [
    {"method": "GET", "url": "/healthz", "headers": {"X-Request-ID": "req-1"}},
    {"method": "GET", "url": "/healthz"},  # a generated id
    # A client-chosen id that looks like an e-mail is redacted by both.
    {"method": "GET", "url": "/healthz", "headers": {"X-Request-ID": "ana@example.com"}},
    {"method": "GET", "url": "/api/v1/whoami"},  # 401: warning level
    {"method": "GET", "url": "/no/such/path"},  # unmatched
    {"method": "POST", "url": "/api/v1/feedback", "json": {"conversation_id": "c", "vote": "x"}},
]


async def test_the_access_line_is_the_structlog_line(
    json_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = await _access_lines(json_app, monkeypatch, chain=False, requests=REQUESTS)
    chain = await _access_lines(json_app, monkeypatch, chain=True, requests=REQUESTS)
    assert len(fast) == len(chain) == len(REQUESTS)
    for request, ours, theirs in zip(REQUESTS, fast, chain, strict=True):
        assert list(ours) == list(theirs)
        assert ours["timestamp"].endswith("Z")
        assert isinstance(ours["duration_ms"], float)
        volatile = {"duration_ms", "timestamp"}
        if "headers" not in request:  # each side generated its own id
            volatile.add("request_id")
        assert {k: v for k, v in ours.items() if k not in volatile} == {
            k: v for k, v in theirs.items() if k not in volatile
        }
    assert [line["level"] for line in fast] == [
        "info",
        "info",
        "info",
        "warning",
        "info",
        "warning",
    ]
    assert fast[2]["request_id"] == "[redacted]"
