"""After erasure, feedback tokens bound to the erased user and minted before it are refused
and cannot re-create the user; a token minted afterwards works. The erasure record holds a
keyed hash of the id, never the id."""

from __future__ import annotations

import sqlalchemy as sa

from app.auth.tokens import TokenSigner
from tests.conftest import TOKEN_SECRET, bearer

USER = 990_002_001
TOKENS = "/api/v1/feedback-tokens"


async def _mint(client, headers, **body) -> dict[str, str]:
    minted = await client.post(TOKENS, headers=headers, json=body)
    assert minted.status_code == 201, minted.text
    return bearer(minted.json()["token"])


async def test_tokens_minted_before_erasure_are_refused(
    client, connection, ingest_headers, admin_headers
) -> None:
    vote_token = await _mint(client, ingest_headers, conversation_id="c-erase", user_id=USER)
    vote = {"conversation_id": "c-erase", "vote": "down", "comment": "mine"}
    assert (await client.post("/api/v1/feedback", json=vote, headers=vote_token)).status_code == 201
    erased = await client.delete(f"/api/v1/users/{USER}", headers=admin_headers)
    assert erased.status_code == 200, erased.text

    again = await client.post("/api/v1/feedback", json=vote, headers=vote_token)
    assert again.status_code == 401
    assert "erased" in again.json()["detail"]
    users = await connection.scalar(sa.text(f"SELECT count(*) FROM users WHERE id = {USER}"))
    assert users == 0
    votes = await connection.scalar(
        sa.text("SELECT count(*) FROM votes WHERE conversation_id = 'c-erase'")
    )
    assert votes == 0

    fresh = await _mint(client, ingest_headers, conversation_id="c-erase", user_id=USER)
    assert (await client.post("/api/v1/feedback", json=vote, headers=fresh)).status_code == 201


async def test_cache_tokens_of_an_erased_user_are_refused(
    client, ingest_headers, admin_headers
) -> None:
    entry = {"cache_key": "k-erase", "provider": "p", "model": "m", "cost_usd": 0.01}
    assert (
        await client.post("/api/v1/cache/entries", json=entry, headers=ingest_headers)
    ).is_success
    token = await _mint(client, ingest_headers, cache_key="k-erase", user_id=USER)
    rate = {"rating": 2}
    url = "/api/v1/cache/entries/k-erase/feedback"
    assert (await client.post(url, json=rate, headers=token)).status_code == 201
    assert (await client.delete(f"/api/v1/users/{USER}", headers=admin_headers)).status_code == 200
    assert (await client.post(url, json=rate, headers=token)).status_code == 401


async def test_erasure_record_is_a_keyed_hash_not_the_id(
    client, connection, ingest_headers, admin_headers
) -> None:
    await connection.execute(sa.text(f"INSERT INTO users (id) VALUES ({USER})"))
    assert (await client.delete(f"/api/v1/users/{USER}", headers=admin_headers)).status_code == 200
    [stored] = (await connection.execute(sa.text("SELECT user_hash FROM user_erasures"))).scalars()
    assert str(USER) not in stored
    assert stored == TokenSigner(TOKEN_SECRET).erasure_hash(USER)
    assert stored != TokenSigner("another-secret-of-at-least-32-bytes!").erasure_hash(USER)
