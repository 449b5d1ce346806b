"""GET /api/v1/export/{dataset}: CSV/NDJSON, window filters, auth, and flat memory."""

from __future__ import annotations

import asyncio
import csv
import gc
import io
import json
import os
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from app.auth import service as auth_service
from app.auth.models import Scope
from app.main import create_app
from tests.conftest import bearer, committed_key, make_settings

VOTES = """
INSERT INTO votes (conversation_id, vote, reasons, comment, email, created_at) VALUES
 ('c-1', 'up', '{}', NULL, NULL, '2026-01-01T10:00:00+00'),
 ('c-2', 'down', ARRAY['inaccurate', 'say "why"'], 'troppo, vago', 'a@example.com',
  '2026-01-02T23:30:00+01'),
 ('c-3', 'up', ARRAY['helpful'], 'ok', NULL, '2026-01-05T00:00:00+00')
"""


@pytest.fixture(scope="module")
async def export_app(databases) -> AsyncIterator[tuple[FastAPI, dict[str, str]]]:
    """Export reads on its own connection, so the rows must be committed."""
    url = await databases.migrated()
    app = create_app(make_settings(url))
    async with app.router.lifespan_context(app):
        async with app.state.engine.begin() as conn:
            await conn.execute(sa.text(VOTES))
        yield app, bearer(await committed_key(app, Scope.admin))


@pytest.fixture
async def http(export_app) -> AsyncIterator[httpx.AsyncClient]:
    app, _ = export_app
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        yield client


async def test_csv_has_a_header_utc_timestamps_and_json_arrays(http, export_app) -> None:
    _, admin = export_app
    # The window defaults to the last 30 days; these rows are older.
    response = await http.get("/api/v1/export/votes?from=2000-01-01", headers=admin)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="votes-' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0].keys()) == [
        "id",
        "conversation_id",
        "vote",
        "query_id",
        "user_id",
        "email",
        "expert_ids",
        "reasons",
        "comment",
        "created_at",
    ]
    assert [r["conversation_id"] for r in rows] == ["c-1", "c-2", "c-3"]  # oldest first
    second = rows[1]
    assert second["created_at"] == "2026-01-02T22:30:00Z"  # converted to UTC
    assert json.loads(second["reasons"]) == ["inaccurate", 'say "why"']
    assert second["comment"] == "troppo, vago"
    assert second["vote"] == "down"
    assert rows[0]["reasons"] == "[]"
    assert rows[0]["comment"] == ""  # NULL


async def test_ndjson_and_the_time_window(http, export_app) -> None:
    _, admin = export_app
    response = await http.get(
        "/api/v1/export/votes",
        params={"format": "ndjson", "from": "2026-01-02T00:00:00Z", "to": "2026-01-05T00:00:00Z"},
        headers=admin,
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert len(lines) == 1  # `to` is exclusive
    row = lines[0]
    assert row["conversation_id"] == "c-2"
    assert row["reasons"] == ["inaccurate", 'say "why"']
    assert row["created_at"] == "2026-01-02T22:30:00Z"
    assert row["user_id"] is None


@pytest.mark.parametrize(
    "dataset",
    ["routing_metrics", "routing_feedback", "cache_feedback", "expert_feedback"],
)
async def test_every_dataset_exports_a_header_when_empty(http, export_app, dataset) -> None:
    _, admin = export_app
    response = await http.get(f"/api/v1/export/{dataset}", headers=admin)
    assert response.status_code == 200
    lines = response.text.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("id,")
    assert "created_at" in lines[0]


async def test_bad_dataset_format_or_window_is_422_and_auth_is_admin(http, export_app) -> None:
    app, admin = export_app
    assert (await http.get("/api/v1/export/users", headers=admin)).status_code == 422
    bad_format = await http.get("/api/v1/export/votes?format=xml", headers=admin)
    assert bad_format.status_code == 422
    naive = await http.get("/api/v1/export/votes?from=2026-01-01T00:00:00", headers=admin)
    assert naive.status_code == 422
    assert (await http.get("/api/v1/export/votes")).status_code == 401
    async with app.state.sessionmaker() as session:
        _, ingest = await auth_service.create_key(session, scope=Scope.ingest)
        await session.commit()
    assert (await http.get("/api/v1/export/votes", headers=bearer(ingest))).status_code == 403


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def _stream_through_asgi(app: FastAPI, path: str, headers: dict[str, str]) -> dict[str, Any]:
    """Drive the app as a server would, discarding each body chunk once counted: unlike
    httpx's ASGITransport, nothing here holds the body, so RSS measures the app alone."""
    seen: dict[str, Any] = {"status": None, "bytes": 0, "chunks": 0, "peak_rss": _rss_bytes()}
    newlines = 0

    async def receive() -> dict[str, Any]:
        if not seen.get("requested"):
            seen["requested"] = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal newlines
        if message["type"] == "http.response.start":
            seen["status"] = message["status"]
        elif message["type"] == "http.response.body":
            body = message.get("body", b"")
            seen["bytes"] += len(body)
            seen["chunks"] += 1
            newlines += body.count(b"\n")
            seen["peak_rss"] = max(seen["peak_rss"], _rss_bytes())

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path.partition("?")[0],
        "raw_path": path.partition("?")[0].encode(),
        "query_string": path.partition("?")[2].encode(),
        "root_path": "",
        "headers": [(b"host", b"t")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("t", 80),
    }
    await app(scope, receive, send)
    seen["lines"] = newlines
    return seen


ROWS = 200_000


async def test_exporting_200k_rows_keeps_memory_flat(databases) -> None:
    url = await databases.migrated()
    # The bulk insert below is test setup: on two busy cores it can outlast the service's
    # statement and command timeouts, which are not what this test is about.
    app = create_app(make_settings(url, db_statement_timeout_ms=0, db_command_timeout_seconds=600))
    async with app.router.lifespan_context(app):
        async with app.state.engine.begin() as conn:
            # ~200 bytes of CSV per row, 40 MB in all.
            await conn.execute(
                sa.text(
                    "INSERT INTO votes (conversation_id, vote, reasons, comment, created_at) "
                    "SELECT 'conversation-' || g, "
                    "(CASE WHEN g % 3 = 0 THEN 'down' ELSE 'up' END)::vote_direction, "
                    "ARRAY['inaccurate', 'too_long'], repeat('commento ', 8) || g, "
                    "timestamptz '2026-01-01' + g * interval '1 second' "
                    f"FROM generate_series(1, {ROWS}) AS g"
                )
            )
        admin = bearer(await committed_key(app, Scope.admin))
        gc.collect()
        baseline = _rss_bytes()
        seen = await _stream_through_asgi(app, "/api/v1/export/votes?from=2000-01-01", admin)

    assert seen["status"] == 200
    assert seen["lines"] == ROWS + 1  # header + every row
    assert seen["bytes"] > 35 * 1024 * 1024
    assert seen["chunks"] > 50  # streamed in pieces, not one body
    growth = seen["peak_rss"] - baseline
    print(
        f"export: {ROWS} rows, {seen['bytes'] / 1e6:.1f} MB in {seen['chunks']} chunks, "
        f"peak RSS growth {growth / 1e6:.1f} MB"
    )
    assert growth < 50 * 1024 * 1024, f"RSS grew by {growth / 1e6:.1f} MB"


async def test_exports_beyond_the_per_process_limit_get_429(client, admin_headers, app) -> None:
    import asyncio

    app.state.export_slots = asyncio.Semaphore(1)
    await app.state.export_slots.acquire()  # one export already running
    try:
        busy = await client.get("/api/v1/export/votes", headers=admin_headers)
    finally:
        app.state.export_slots.release()
    assert busy.status_code == 429
    assert busy.headers["retry-after"]
    free = await client.get("/api/v1/export/votes", headers=admin_headers)
    assert free.status_code == 200
    assert app.state.export_slots._value == 1  # the finished export gave its slot back
    del app.state.export_slots
