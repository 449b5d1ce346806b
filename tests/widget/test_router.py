"""`/widget/*` over HTTP (in process): caching headers, versioned URL, the demo switch."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlmodel import col

from app.auth import service as auth_service
from app.auth.models import ApiKey, Scope
from app.auth.tokens import TokenSigner
from app.config import Settings
from app.main import create_app
from app.widget import assets
from app.widget.demo import DEMO_KEY_NAME
from app.widget.router import demo_enabled
from tests.conftest import TOKEN_SECRET, DatabaseFactory, make_settings


async def test_plain_url_serves_the_module_with_etag_and_short_revalidated_cache(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/widget/feedback.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.content == assets.widget().body
    assert response.headers["etag"] == f'"{assets.widget().version}"'
    assert response.headers["cache-control"] == "public, max-age=300, must-revalidate"
    assert response.headers["access-control-allow-origin"] == "*"
    assert f"/widget/{assets.widget().version}/feedback.js" in response.headers["link"]


async def test_if_none_match_with_the_current_etag_gets_304_without_a_body(
    client: httpx.AsyncClient,
) -> None:
    etag = (await client.get("/widget/feedback.js")).headers["etag"]
    for header in (etag, f'"other", W/{etag}', "*"):
        response = await client.get("/widget/feedback.js", headers={"If-None-Match": header})
        assert response.status_code == 304, header
        assert response.content == b""
        assert response.headers["etag"] == etag
    stale = await client.get("/widget/feedback.js", headers={"If-None-Match": '"stale"'})
    assert stale.status_code == 200


async def test_versioned_url_is_immutable_and_an_old_version_is_404(
    client: httpx.AsyncClient,
) -> None:
    version = assets.widget().version
    response = await client.get(f"/widget/{version}/feedback.js")
    assert response.status_code == 200
    assert response.content == assets.widget().body
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    revalidated = await client.get(
        f"/widget/{version}/feedback.js", headers={"If-None-Match": response.headers["etag"]}
    )
    assert revalidated.status_code == 304
    old = await client.get("/widget/0123456789abcdef/feedback.js")
    assert old.status_code == 404
    assert old.headers["content-type"] == "application/problem+json"


async def test_demo_is_off_by_default_with_an_external_database(
    client: httpx.AsyncClient,
) -> None:
    # The test app has DATABASE_URL set and WIDGET_DEMO_ENABLED unset.
    for method, path in [
        ("GET", "/widget/demo"),
        ("GET", "/widget/demo.js"),
        ("GET", "/widget/demo.css"),
        ("POST", "/widget/demo/token"),
        ("GET", "/widget/demo/votes?conversation_id=widget-demo-0123456789ab"),
    ]:
        response = await client.request(method, path)
        assert response.status_code == 404, path


def test_demo_defaults_to_on_only_with_the_embedded_database() -> None:
    embedded = Settings.model_validate({"database_url": None})
    external = Settings.model_validate({"database_url": "postgresql+asyncpg://db/x"})
    assert demo_enabled(embedded) is True
    assert demo_enabled(external) is False
    assert demo_enabled(external.model_copy(update={"widget_demo_enabled": True})) is True
    assert demo_enabled(embedded.model_copy(update={"widget_demo_enabled": False})) is False


@pytest.fixture
async def demo_app(databases: DatabaseFactory) -> AsyncIterator[FastAPI]:
    """An app with the demo switched on, on its own database (the demo commits a key)."""
    url = await databases.migrated()
    app = create_app(make_settings(url, widget_demo_enabled=True))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def demo_client(demo_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=demo_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def test_demo_makes_one_ingest_key_per_process_and_revokes_stale_ones(
    demo_app: FastAPI, demo_client: httpx.AsyncClient
) -> None:
    async with demo_app.state.sessionmaker() as session:
        old, _ = await auth_service.create_key(session, scope=Scope.ingest, name=DEMO_KEY_NAME)
        recent, _ = await auth_service.create_key(session, scope=Scope.ingest, name=DEMO_KEY_NAME)
        await session.execute(
            sa.update(ApiKey)
            .where(col(ApiKey.id) == old.id)
            .values(created_at=sa.func.now() - sa.text("interval '2 days'"))
        )
        await session.commit()

    for _ in range(2):
        assert (await demo_client.get("/widget/demo")).status_code == 200

    async with demo_app.state.sessionmaker() as session:
        keys = (
            await session.scalars(sa.select(ApiKey).where(col(ApiKey.name) == DEMO_KEY_NAME))
        ).all()
    live = {k.id for k in keys if k.revoked_at is None}
    assert old.id not in live
    assert recent.id in live  # another process's key, still in use
    assert len(live) == 2  # recent + the one this process made, once
    assert all(k.scope is Scope.ingest for k in keys)


async def test_demo_page_holds_feedback_tokens_only_and_a_strict_csp(
    demo_client: httpx.AsyncClient,
) -> None:
    response = await demo_client.get("/widget/demo")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "style-src 'self';" in csp
    assert "fbk_" not in response.text
    assert "<script>" not in response.text  # nothing inline
    assert f"/widget/{assets.widget().version}/feedback.js" in response.text
    assert response.text.count('token="fbt_') == 2


async def test_demo_token_is_minted_for_demo_conversations_only(
    demo_client: httpx.AsyncClient,
) -> None:
    ok = await demo_client.post("/widget/demo/token?conversation_id=widget-demo-0123456789ab")
    assert ok.status_code == 201
    token = TokenSigner(TOKEN_SECRET).verify(ok.json()["token"])
    assert token.conversation_id == "widget-demo-0123456789ab"
    cache = await demo_client.post("/widget/demo/token")
    assert TokenSigner(TOKEN_SECRET).verify(cache.json()["token"]).cache_key == "widget-demo"
    for conversation in ("conv-8f14e45f", "widget-demo-0123456789ab-x", ""):
        refused = await demo_client.post(
            "/widget/demo/token", params={"conversation_id": conversation}
        )
        assert refused.status_code == 404, conversation
        votes = await demo_client.get(
            "/widget/demo/votes", params={"conversation_id": conversation}
        )
        assert votes.status_code == 404, conversation
