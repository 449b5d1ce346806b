"""Logs (request id, access line, redaction, renderers) and /metrics, by capturing output."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import AsyncIterator

import httpx
import pytest
import structlog
from fastapi import FastAPI

from app.main import create_app
from app.observability import configure_logging, valid_request_id
from tests.conftest import make_settings

SECRET_KEY = "fbk_0123456789ab_SuperSecretValue-xyz"
TOKEN = "fbt_eyJjb252ZXJzYXRpb24iOiJjMSJ9.c2lnbmF0dXJl"
EMAIL = "mario.rossi@example.it"
COMMENT = "la mia risposta era sbagliata, chiamatemi"


@pytest.fixture
async def log_app(database_url: str) -> AsyncIterator[FastAPI]:
    """An app (no lifespan needed) with a route that logs the way application code does."""
    settings = make_settings(database_url, log_json=True)
    app = create_app(settings)

    @app.get("/probe/{item_id}")
    async def probe(item_id: str) -> dict[str, str]:
        structlog.stdlib.get_logger("probe").info("structlog line", email=EMAIL, comment=COMMENT)
        logging.getLogger("probe.stdlib").warning("stdlib line with %s and %s", TOKEN, EMAIL)
        return {"ok": item_id}

    async with app.router.lifespan_context(app):
        yield app
    configure_logging(make_settings(database_url))


@pytest.fixture
async def captured(log_app: FastAPI) -> AsyncIterator[tuple[httpx.AsyncClient, io.StringIO]]:
    buffer = io.StringIO()
    configure_logging(log_app.state.settings, stream=buffer)
    transport = httpx.ASGITransport(app=log_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http, buffer


def _lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


async def test_request_id_is_echoed_and_on_every_line_of_the_request(captured) -> None:
    http, buffer = captured
    response = await http.get("/probe/42", headers={"X-Request-ID": "req-abc.123"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "req-abc.123"
    lines = _lines(buffer)
    assert [line["event"] for line in lines] == [
        "structlog line",
        "stdlib line with [redacted] and [redacted]",
        "request",
    ]
    assert all(line["request_id"] == "req-abc.123" for line in lines)
    access = lines[-1]
    assert access["method"] == "GET"
    assert access["route"] == "/probe/{item_id}"  # the template, never the raw path
    assert access["status"] == 200
    assert isinstance(access["duration_ms"], float)
    assert access["level"] == "info"
    assert str(access["timestamp"]).endswith("Z")


async def test_a_missing_or_unsafe_request_id_is_replaced(captured) -> None:
    http, buffer = captured
    generated = await http.get("/probe/1")
    unsafe = await http.get("/probe/2", headers={"X-Request-ID": "bad id\twith spaces"})
    too_long = await http.get("/probe/3", headers={"X-Request-ID": "a" * 129})
    ids = [r.headers["X-Request-ID"] for r in (generated, unsafe, too_long)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == 3
    by_request = {line["request_id"] for line in _lines(buffer)}
    assert by_request == set(ids)  # lines of different requests never share an id


def test_request_id_validation() -> None:
    assert valid_request_id("a" * 128) == "a" * 128
    assert valid_request_id("a" * 129) is None
    assert valid_request_id("") is None
    assert valid_request_id(None) is None
    assert valid_request_id("x\ny") is None
    assert valid_request_id("7b0e6f1c-2d7a-4b8e-9a51-0c1d2e3f4a5b") is not None


async def test_no_secrets_emails_or_comments_in_logs(captured) -> None:
    http, buffer = captured
    await http.get(
        "/probe/7",
        headers={"Authorization": f"Bearer {SECRET_KEY}", "Idempotency-Key": "k-1"},
        params={"email": EMAIL},
    )
    # An error path too: a 401 from an /api/v1 route with a bogus bearer key.
    await http.get(
        f"/api/v1/export/votes?x={EMAIL}", headers={"Authorization": f"Bearer {SECRET_KEY}"}
    )
    text = buffer.getvalue()
    for secret in (SECRET_KEY, "SuperSecretValue", TOKEN, EMAIL, COMMENT, "Bearer"):
        assert secret not in text
    assert "[redacted]" in text
    routes = [line["route"] for line in _lines(buffer) if line["event"] == "request"]
    assert routes == ["/probe/{item_id}", "/api/v1/export/{dataset}"]


async def test_console_renderer_when_not_json(database_url: str) -> None:
    app = create_app(make_settings(database_url, log_json=False))
    buffer = io.StringIO()
    configure_logging(app.state.settings, stream=buffer)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as http:
            await http.get("/healthz", headers={"X-Request-ID": "console-1"})
    finally:
        configure_logging(make_settings(database_url))
    line = buffer.getvalue().strip().splitlines()[-1]
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)
    assert "request" in line
    assert "request_id=console-1" in line
    assert "route=/healthz" in line


async def test_json_is_the_default_when_stdout_is_not_a_terminal(database_url: str) -> None:
    buffer = io.StringIO()  # isatty() is False
    configure_logging(make_settings(database_url, log_json=None), stream=buffer)
    try:
        structlog.stdlib.get_logger("t").info("hello")
    finally:
        configure_logging(make_settings(database_url))
    assert json.loads(buffer.getvalue().strip())["event"] == "hello"


async def test_metrics_by_route_template_status_and_pool(client, admin_headers) -> None:
    await client.get("/healthz")
    await client.delete("/api/v1/users/123456789", headers=admin_headers)  # 404: no such user
    await client.delete("/api/v1/users/123456789")  # 401
    await client.get("/no/such/path/987654")  # unmatched: grouped, never the raw path
    await client.get("/api/v1/cache/entries/a/b%3Ac", headers=admin_headers)  # 404
    response = await client.get("/metrics")  # no credentials needed
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert re.search(
        r'http_requests_total\{handler="/api/v1/users/\{user_id\}",method="DELETE",'
        r'status="404"\} [1-9]',
        text,
    )
    assert re.search(
        r'http_requests_total\{handler="/api/v1/users/\{user_id\}".*status="401"', text
    )
    assert re.search(
        r'http_request_duration_seconds_bucket\{handler="/healthz",le="0\.005",method="GET",'
        r'status="200"\}',
        text,
    ) or re.search(
        r'http_request_duration_seconds_bucket\{.*handler="/healthz".*status="200"', text
    )
    assert "123456789" not in text  # templates, not raw paths
    # The OpenAPI template, not Starlette's `{cache_key:path}`.
    assert 'handler="/api/v1/cache/entries/{cache_key}"' in text
    assert ":path}" not in text
    assert "987654" not in text
    assert re.search(r'http_requests_total\{handler="unmatched",method="GET",status="404"\}', text)
    for gauge in ("db_pool_connections_in_use", "db_pool_connections_idle", "db_pool_size"):
        assert re.search(gauge + r'\{pool="primary"\} \d', text), gauge
    assert 'db_pool_size{pool="primary"} 15.0' in text
    assert '"/metrics"' not in text  # the scrape itself is not counted


async def test_metrics_not_in_openapi(client) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/metrics" not in paths
    assert "/api/v1/export/{dataset}" in paths
