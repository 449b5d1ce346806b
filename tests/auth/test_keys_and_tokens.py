"""API keys, scopes and feedback tokens: 401 vs 403, revocation, token binding, secrets."""

import datetime as dt
import logging
import os
import stat
import uuid

import httpx
import pytest
import sqlalchemy as sa

from app.auth import service as auth_service
from app.auth.models import ApiKey, Scope
from app.auth.principal import Principal
from app.auth.tokens import FeedbackToken, TokenSigner, load_secret
from app.config import Settings
from app.errors import Forbidden
from app.main import create_app
from tests.conftest import TOKEN_SECRET, bearer, make_settings

TOKENS = "/api/v1/feedback-tokens"


async def test_missing_credentials_401_with_www_authenticate(client: httpx.AsyncClient) -> None:
    response = await client.post(TOKENS, json={"conversation_id": "c1"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "credential",
    ["fbk_000000000000_notakey", "fbk_malformed", "garbage", "fbt_not.a.token"],
)
async def test_unknown_or_malformed_credentials_401(client, credential: str) -> None:
    response = await client.post(TOKENS, headers=bearer(credential), json={"conversation_id": "c"})
    assert response.status_code == 401


async def test_right_public_id_with_wrong_secret_is_401(client, make_key) -> None:
    key = await make_key(Scope.ingest)
    public_id = key.split("_")[1]
    forged = f"fbk_{public_id}_{'x' * 43}"
    response = await client.post(TOKENS, headers=bearer(forged), json={"conversation_id": "c"})
    assert response.status_code == 401


async def test_revoked_key_is_401(client, make_key, db) -> None:
    key = await make_key(Scope.ingest)
    await auth_service.revoke_key(db, key.split("_")[1])
    await db.commit()
    response = await client.post(TOKENS, headers=bearer(key), json={"conversation_id": "c"})
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


async def test_expert_key_cannot_mint_tokens_403(client, make_key, db) -> None:
    await db.execute(sa.text("INSERT INTO users (id) VALUES (77001)"))
    expert_id = await db.scalar(
        sa.text("INSERT INTO expert_profiles (user_id) VALUES (77001) RETURNING id")
    )
    key = await make_key(Scope.expert, expert_id=expert_id)
    response = await client.post(TOKENS, headers=bearer(key), json={"conversation_id": "c"})
    assert response.status_code == 403


async def test_expert_key_needs_an_existing_expert(db, client, admin_headers) -> None:
    from app.errors import UnprocessableEntity

    with pytest.raises(UnprocessableEntity):
        await auth_service.create_key(db, scope=Scope.expert)
    # The foreign key refuses an unknown expert; the API answers 404, creating nothing.
    unknown = await client.post(f"/api/v1/experts/{uuid.UUID(int=0)}/keys", headers=admin_headers)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"


async def test_mint_token_for_conversation(client, ingest_headers) -> None:
    response = await client.post(
        TOKENS, headers=ingest_headers, json={"conversation_id": "conv-1", "ttl_seconds": 600}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["token"].startswith("fbt_")
    expires = dt.datetime.fromisoformat(body["expires_at"])
    remaining = (expires - dt.datetime.now(dt.UTC)).total_seconds()
    assert 590 <= remaining <= 600
    token = TokenSigner(TOKEN_SECRET).verify(body["token"])
    assert token.conversation_id == "conv-1"
    assert token.cache_key is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"conversation_id": "c", "cache_key": "k"}, "body"),
        ({"conversation_id": "c", "ttl_seconds": 86401}, "ttl_seconds"),
        ({"conversation_id": "c", "ttl_seconds": 0}, "ttl_seconds"),
        ({"conversation_id": "c", "user_id": "abc"}, "user_id"),
    ],
)
async def test_mint_token_validation(client, ingest_headers, body, field) -> None:
    response = await client.post(TOKENS, headers=ingest_headers, json=body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_token_is_never_accepted_on_key_routes(client, ingest_headers) -> None:
    minted = await client.post(TOKENS, headers=ingest_headers, json={"conversation_id": "c"})
    token = minted.json()["token"]
    response = await client.post(TOKENS, headers=bearer(token), json={"conversation_id": "c"})
    assert response.status_code == 403


def test_tampered_and_expired_tokens_are_rejected() -> None:
    from app.auth.tokens import TokenInvalid

    signer = TokenSigner("secret-a")
    token, _ = signer.mint(
        conversation_id="c", cache_key=None, user_id=None, ttl_seconds=60, key_id=uuid.uuid4()
    )
    with pytest.raises(TokenInvalid):
        TokenSigner("secret-b").verify(token)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(TokenInvalid):
        signer.verify(tampered)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    old, _ = signer.mint(
        conversation_id="c",
        cache_key=None,
        user_id=None,
        ttl_seconds=60,
        key_id=uuid.uuid4(),
        now=past,
    )
    with pytest.raises(TokenInvalid, match="expired"):
        signer.verify(old)


async def test_expired_token_is_401_over_http(client) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    old, _ = TokenSigner(TOKEN_SECRET).mint(
        conversation_id="c",
        cache_key=None,
        user_id=None,
        ttl_seconds=60,
        key_id=uuid.uuid4(),
        now=past,
    )
    response = await client.post(TOKENS, headers=bearer(old), json={"conversation_id": "c"})
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def _token_principal(conversation: str | None, cache_key: str | None, user: int | None):
    token = FeedbackToken(conversation, cache_key, user, dt.datetime.now(dt.UTC))
    return Principal(scope=None, user_id=user, token=token)


def test_token_binding_rules() -> None:
    unbound = _token_principal("c1", None, None)
    assert unbound.user_for_conversation("c1", None) is None
    with pytest.raises(Forbidden):
        unbound.user_for_conversation("c2", None)  # another conversation
    with pytest.raises(Forbidden):
        unbound.user_for_conversation("c1", 5)  # a browser cannot claim a user
    with pytest.raises(Forbidden):
        unbound.user_for_cache_key("k1")  # a conversation token is not a cache token

    bound = _token_principal("c1", None, 42)
    assert bound.user_for_conversation("c1", None) == 42
    assert bound.user_for_conversation("c1", 42) == 42
    with pytest.raises(Forbidden):
        bound.user_for_conversation("c1", 43)

    cache = _token_principal(None, "k1", None)
    assert cache.user_for_cache_key("k1") is None
    with pytest.raises(Forbidden):
        cache.user_for_cache_key("k2")

    key = Principal(scope=Scope.ingest)
    assert key.user_for_conversation("anything", 7) == 7


def test_expert_key_acts_only_for_its_profile() -> None:

    mine, other = uuid.uuid4(), uuid.uuid4()
    expert = Principal(scope=Scope.expert, expert_id=mine)
    assert expert.acting_expert(None) == mine
    assert expert.acting_expert(mine) == mine
    with pytest.raises(Forbidden):
        expert.acting_expert(other)
    assert Principal(scope=Scope.admin).acting_expert(other) == other


async def test_secrets_never_reach_the_logs(client, make_key, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    key = await make_key(Scope.ingest, name="log probe")
    minted = await client.post(TOKENS, headers=bearer(key), json={"conversation_id": "c"})
    token = minted.json()["token"]
    await client.post(TOKENS, headers=bearer(token), json={"conversation_id": "c"})
    await client.post(TOKENS, headers=bearer(key + "x"), json={"conversation_id": "c"})
    secret_part = key.split("_", 2)[2]
    assert secret_part not in caplog.text
    assert token not in caplog.text


async def test_key_rows_hold_only_a_hash(db, make_key) -> None:
    key = await make_key(Scope.admin)
    public_id, secret = key.split("_", 2)[1:]
    row = await db.scalar(sa.select(ApiKey).where(ApiKey.public_id == public_id))
    assert row is not None
    assert secret not in (row.secret_hash, row.name or "", row.public_id)
    assert len(row.secret_hash) == 64


def test_token_secret_required_with_external_database() -> None:
    settings = Settings.model_validate({"database_url": "postgresql+asyncpg://x/y"})
    with pytest.raises(RuntimeError, match="FEEDBACK_TOKEN_SECRET"):
        load_secret(settings)


def test_embedded_token_secret_is_generated_once_with_mode_0600(tmp_path) -> None:
    settings = Settings.model_validate({"feedback_data_dir": tmp_path})
    first = load_secret(settings)
    assert load_secret(settings) == first
    assert len(first) >= 32
    mode = stat.S_IMODE(os.stat(tmp_path / "feedback-token-secret").st_mode)
    assert mode == 0o600


async def test_service_refuses_to_start_without_secret_on_external_db(database_url) -> None:
    app = create_app(make_settings(database_url, feedback_token_secret=None))
    with pytest.raises(RuntimeError, match="FEEDBACK_TOKEN_SECRET"):
        async with app.router.lifespan_context(app):
            pass


async def test_cors_allows_only_listed_origins(database_url) -> None:
    app = create_app(make_settings(database_url, cors_allow_origins=["https://chat.example"]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        preflight = {"access-control-request-method": "POST"}
        ok = await http.options(
            "/api/v1/feedback", headers={"origin": "https://chat.example", **preflight}
        )
        bad = await http.options(
            "/api/v1/feedback", headers={"origin": "https://evil.example", **preflight}
        )
    assert ok.headers["access-control-allow-origin"] == "https://chat.example"
    assert "access-control-allow-origin" not in bad.headers


async def test_idempotency_key_never_replays_a_minted_token(client, ingest_headers) -> None:
    """A token is a secret: it is shown once and not stored, so a retry with the same key
    is a 409 that says so (and mints nothing); another body is the usual reuse 409."""
    headers = {**ingest_headers, "Idempotency-Key": "mint-once"}
    first = await client.post(TOKENS, headers=headers, json={"conversation_id": "c"})
    again = await client.post(TOKENS, headers=headers, json={"conversation_id": "c"})
    other = await client.post(TOKENS, headers=headers, json={"conversation_id": "d"})
    assert first.status_code == 201
    assert again.status_code == 409
    assert "shown once" in again.json()["detail"]
    assert "fbt_" not in again.text
    assert other.status_code == 409
    assert "different request" in other.json()["detail"]
