"""Liveness, readiness and the problem+json rendering of framework errors."""

import uuid
from typing import Any

import httpx

from app.main import create_app
from tests.conftest import make_settings


async def test_healthz_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_head_revision(client: httpx.AsyncClient) -> None:
    from app import migrate

    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["revision"] == sorted(migrate.head_revisions())


async def test_readyz_503_when_schema_behind(databases) -> None:
    url = await databases.empty()  # never migrated
    # Started anyway (the lifespan refuses this schema by default): what /readyz says then.
    app = create_app(make_settings(url, require_schema_at_head=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "alembic upgrade head" in response.json()["detail"]
    assert response.headers["retry-after"]


async def test_database_down_gives_503_with_retry_after(tmp_path) -> None:
    # A socket directory with no server behind it: asyncpg raises a bare OSError.
    url = f"postgresql+asyncpg://postgres@/postgres?host={tmp_path}"
    app = create_app(make_settings(url, db_pool_timeout_seconds=1))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            ready = await http.get("/readyz")
            # The caller is resolved before routing (a token's minting key is checked
            # too), so even a wrong method answers 503 while the database is away.
            token, _ = app.state.auth.signer.mint(
                conversation_id="c1",
                cache_key=None,
                user_id=None,
                ttl_seconds=60,
                key_id=uuid.uuid4(),
            )
            api = await http.get(
                "/api/v1/feedback-tokens", headers={"Authorization": f"Bearer {token}"}
            )
            write = await http.post(
                "/api/v1/feedback-tokens",
                headers={"Authorization": "Bearer fbk_abc_def"},
                json={"conversation_id": "c1"},
            )
    assert ready.status_code == 503
    assert write.status_code == 503, write.text
    assert write.headers["retry-after"]
    assert write.headers["content-type"] == "application/problem+json"
    assert "Traceback" not in write.text
    assert "SELECT" not in write.text
    assert api.status_code == 503
    assert api.headers["retry-after"]


async def test_unknown_route_is_problem_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/nope")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 404
    assert body["title"] == "Not Found"
    assert {"type", "title", "status", "detail"} <= body.keys()


async def test_wrong_method_is_problem_json(client: httpx.AsyncClient) -> None:
    response = await client.delete("/healthz")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"


async def test_validation_error_names_the_field(client, ingest_headers) -> None:
    response = await client.post(
        "/api/v1/feedback-tokens", headers=ingest_headers, json={"conversation_id": ""}
    )
    assert response.status_code == 422
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in body["errors"]] == ["conversation_id"]


async def test_nul_byte_is_refused_with_422(client, ingest_headers) -> None:
    response = await client.post(
        "/api/v1/feedback-tokens", headers=ingest_headers, json={"conversation_id": "a\u0000b"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "conversation_id"


async def test_body_over_one_mib_is_413(client, ingest_headers) -> None:
    big = "x" * (1024 * 1024 + 1)
    response = await client.post(
        "/api/v1/feedback-tokens",
        headers={**ingest_headers, "content-type": "application/json"},
        content=big,
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


async def test_pgbouncer_mode_caches_no_statements(database_url) -> None:
    """With DB_STATEMENT_CACHE_SIZE=0 queries still work and nothing is cached across
    transactions (the transaction-mode PgBouncer requirement)."""
    import sqlalchemy as sa

    from app.db import create_engine

    engine = create_engine(make_settings(database_url, db_statement_cache_size=0), database_url)
    try:
        for _ in range(3):
            async with engine.connect() as conn:
                assert await conn.scalar(sa.text("SELECT count(*) FROM users")) is not None
                raw = await conn.get_raw_connection()
                driver: Any = raw.driver_connection  # asyncpg's own connection
                adapted: Any = raw.dbapi_connection  # SQLAlchemy's adapter around it
                assert driver._stmt_cache.get_max_size() == 0
                assert adapted._prepared_statement_cache is None
    finally:
        await engine.dispose()
