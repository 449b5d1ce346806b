"""Client input never becomes a 500: extreme dates, forged cursors, chunked oversized
bodies and values the database refuses all map to 4xx problems."""

import base64
import json

import pytest
import sqlalchemy as sa

from app.errors import client_data_status
from app.query_params import encode_cursor


@pytest.mark.parametrize(
    "query",
    [
        "from=0001-01-01T00:00:00%2B14:00",
        "to=0001-01-02T00:00:00Z",
        "to=9999-12-31T12:00:00Z",
        "from=1969-12-31T23:59:59Z",
    ],
)
@pytest.mark.parametrize(
    "path", ["/api/v1/analytics/votes", "/api/v1/analytics/cache", "/api/v1/analytics/routing"]
)
async def test_out_of_range_window_is_422(client, admin_headers, path: str, query: str) -> None:
    response = await client.get(f"{path}?{query}", headers=admin_headers)
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["loc"][0] == "query"
    assert error["field"] in ("from", "to")


@pytest.mark.parametrize(
    "cursor",
    [
        encode_cursor(["0001-01-01T00:00:00+14:00", "x"]),
        encode_cursor(["2026-01-01T00:00:00", "x"]),  # no offset
        encode_cursor(["not a date", "x"]),
        encode_cursor([1]),
        base64.urlsafe_b64encode(json.dumps({"a": 1}).encode()).decode(),
        "%%%",
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/cache/entries", "/api/v1/experts"])
async def test_forged_cursor_is_422(client, admin_headers, path: str, cursor: str) -> None:
    response = await client.get(path, params={"cursor": cursor}, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["query", "cursor"]


async def test_chunked_body_over_the_limit_is_413(client, ingest_headers) -> None:
    async def chunks():
        for _ in range(18):
            yield b"x" * 65536  # 1.125 MiB, no Content-Length

    response = await client.post(
        "/api/v1/feedback",
        headers={**ingest_headers, "content-type": "application/json"},
        content=chunks(),
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


async def test_chunked_body_under_the_limit_still_works(client, ingest_headers) -> None:
    body = json.dumps({"conversation_id": "chunked", "vote": "up"}).encode()

    async def chunks():
        yield body[:10]
        yield body[10:]

    response = await client.post(
        "/api/v1/feedback",
        headers={**ingest_headers, "content-type": "application/json"},
        content=chunks(),
    )
    assert response.status_code == 201, response.text


async def test_database_refusals_are_classified_by_sqlstate(db) -> None:
    statements = {
        "SELECT CAST(1e20 AS numeric(14, 6))": 422,  # 22003 numeric overflow
        "SELECT CAST('x' AS integer)": 422,  # 22P02 invalid text
        # An unknown reference is a 404 (the rule for unknown references); other
        # constraints are conflicts.
        "INSERT INTO routing_feedback (request_id, quality_score) VALUES ('nope', 0.5)": 404,
        "INSERT INTO users (id) VALUES (1), (1)": 409,  # 23505 unique violation
    }
    for sql, expected in statements.items():
        savepoint = await db.begin_nested()
        with pytest.raises(sa.exc.DBAPIError) as caught:
            await db.execute(sa.text(sql))
        await savepoint.rollback()
        assert client_data_status(caught.value) == expected, sql


def test_deadlocks_and_serialization_failures_are_retryable() -> None:
    from app.errors import is_database_unavailable

    class FakePgError(Exception):
        def __init__(self, sqlstate: str) -> None:
            super().__init__(sqlstate)
            self.sqlstate = sqlstate

    for code in ("40P01", "40001", "57P01", "08006"):
        wrapped = sa.exc.DBAPIError("stmt", {}, FakePgError(code))
        assert is_database_unavailable(wrapped), code
    for code in ("22003", "23505", "42601"):
        assert not is_database_unavailable(sa.exc.DBAPIError("s", {}, FakePgError(code))), code
