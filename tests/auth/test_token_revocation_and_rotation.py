"""Feedback tokens name their minting key (refused once it is revoked), are signed with
HMAC-SHA256 under secrets of at least 32 bytes, and survive a secret rotation."""

from __future__ import annotations

import base64
import uuid

import httpx
import pydantic
import pytest
import sqlalchemy as sa

from app.auth import service as auth_service
from app.auth.models import ApiKey, Scope
from app.auth.tokens import TokenInvalid, TokenSigner
from app.config import Settings
from app.main import create_app
from tests.conftest import TOKEN_SECRET, bearer, committed_key, make_settings

TOKENS = "/api/v1/feedback-tokens"
NEW_SECRET = "n" * 40
OLD_SECRET = "o" * 40


async def _mint(client: httpx.AsyncClient, key: str, conversation: str = "c-rev") -> str:
    minted = await client.post(TOKENS, headers=bearer(key), json={"conversation_id": conversation})
    assert minted.status_code == 201, minted.text
    token: str = minted.json()["token"]
    return token


async def _vote(client: httpx.AsyncClient, token: str, conversation: str = "c-rev"):
    return await client.post(
        "/api/v1/feedback",
        headers=bearer(token),
        json={"conversation_id": conversation, "vote": "up"},
    )


async def test_token_names_its_minting_key(client, make_key, db) -> None:
    key = await make_key(Scope.ingest)
    token = TokenSigner(TOKEN_SECRET).verify(await _mint(client, key))
    row = await db.scalar(sa.select(ApiKey).where(ApiKey.public_id == key.split("_")[1]))
    assert row is not None
    assert token.key_id == row.id
    assert token.issued_at is not None
    assert token.token_id


async def test_tokens_of_a_revoked_key_are_refused(client, make_key, db) -> None:
    key = await make_key(Scope.ingest)
    token = await _mint(client, key)
    await auth_service.revoke_key(db, key.split("_")[1])
    await db.commit()
    response = await _vote(client, token)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert response.headers["content-type"] == "application/problem+json"


async def test_revocation_reaches_tokens_within_the_key_cache_bound(databases) -> None:
    """With no caching (bound 0 s), a token that just worked is refused at once."""
    app = create_app(make_settings(await databases.migrated(), api_key_cache_seconds=0))
    async with app.router.lifespan_context(app):
        key = await committed_key(app, Scope.ingest)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            token = await _mint(http, key)
            assert (await _vote(http, token)).status_code == 201
            async with app.state.sessionmaker() as session:
                await auth_service.revoke_key(session, key.split("_")[1])
                await session.commit()
            assert (await _vote(http, token)).status_code == 401


async def test_a_deleted_minting_key_counts_as_revoked(client) -> None:
    token, _ = TokenSigner(TOKEN_SECRET).mint(
        conversation_id="c-rev", cache_key=None, user_id=None, ttl_seconds=60, key_id=uuid.uuid4()
    )
    response = await _vote(client, token)
    assert response.status_code == 401


def test_signature_is_hmac_sha256() -> None:
    token, _ = TokenSigner(NEW_SECRET).mint(
        conversation_id="c", cache_key=None, user_id=None, ttl_seconds=60, key_id=uuid.uuid4()
    )
    signature = token.rsplit(".", 1)[1]
    assert len(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))) == 32


@pytest.mark.parametrize("secret", ["short", "x" * 31, f"{'a' * 40},tooshort"])
def test_secrets_shorter_than_32_bytes_are_refused(secret: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="32 bytes"):
        Settings.model_validate({"feedback_token_secret": secret})
    assert Settings.model_validate({"feedback_token_secret": "x" * 32}).feedback_token_secret


def test_rotation_signs_with_the_first_secret_and_verifies_with_any() -> None:
    old_token, _ = TokenSigner(OLD_SECRET).mint(
        conversation_id="c", cache_key=None, user_id=None, ttl_seconds=60, key_id=uuid.uuid4()
    )
    rotated = TokenSigner(f"{NEW_SECRET},{OLD_SECRET}")
    assert rotated.verify(old_token).conversation_id == "c"
    new_token, _ = rotated.mint(
        conversation_id="c", cache_key=None, user_id=None, ttl_seconds=60, key_id=uuid.uuid4()
    )
    assert TokenSigner(NEW_SECRET).verify(new_token).conversation_id == "c"
    with pytest.raises(TokenInvalid):
        TokenSigner(OLD_SECRET).verify(new_token)


async def test_rotation_over_http_keeps_old_tokens_working(databases) -> None:
    url = await databases.migrated()
    before = create_app(make_settings(url, feedback_token_secret=OLD_SECRET))
    async with before.router.lifespan_context(before):
        key = await committed_key(before, Scope.ingest)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=before), base_url="http://t"
        ) as http:
            old_token = await _mint(http, key)
    after = create_app(make_settings(url, feedback_token_secret=f"{NEW_SECRET},{OLD_SECRET}"))
    async with (
        after.router.lifespan_context(after),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=after), base_url="http://t") as http,
    ):
        assert (await _vote(http, old_token)).status_code == 201
        new_token = await _mint(http, key)
        assert (await _vote(http, new_token)).status_code == 201
    assert TokenSigner(NEW_SECRET).verify(new_token)
