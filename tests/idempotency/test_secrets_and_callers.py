"""Idempotency-Key never stores a secret, is scoped by the resolved caller (not the raw
header), and records the users its request registered so erasure finds it by index."""

import sqlalchemy as sa

from app.auth.models import Scope
from tests.conftest import bearer


async def _stored_text(connection) -> str:
    rows = (
        await connection.execute(
            sa.text("SELECT caller, key, request_fingerprint, response_body FROM idempotency_keys")
        )
    ).all()
    return "\n".join(" ".join(str(value) for value in row) for row in rows)


async def test_secrets_in_responses_are_never_stored(
    client, connection, admin_headers, ingest_headers
) -> None:
    expert = await client.post(
        "/api/v1/experts",
        headers={**admin_headers, "Idempotency-Key": "expert-1"},
        json={"user_id": 730001, "credential_types": ["revisore_legale"]},
    )
    assert expert.status_code == 201
    key = await client.post(
        f"/api/v1/experts/{expert.json()['id']}/keys",
        headers={**admin_headers, "Idempotency-Key": "key-1"},
    )
    token = await client.post(
        "/api/v1/feedback-tokens",
        headers={**ingest_headers, "Idempotency-Key": "token-1"},
        json={"conversation_id": "conv-secret"},
    )
    assert key.status_code == token.status_code == 201
    secret_key, secret_token = key.json()["key"], token.json()["token"]
    stored = await _stored_text(connection)
    assert secret_key not in stored
    assert secret_key.split("_", 2)[2] not in stored  # not even the secret part
    assert secret_token not in stored
    # Both calls were remembered (a retry must not mint a second secret) ...
    count = await connection.scalar(
        sa.text("SELECT count(*) FROM idempotency_keys WHERE NOT replayable")
    )
    assert count == 2
    # ... and a retry says why it cannot replay, creating nothing.
    retry = await client.post(
        f"/api/v1/experts/{expert.json()['id']}/keys",
        headers={**admin_headers, "Idempotency-Key": "key-1"},
    )
    assert retry.status_code == 409
    assert "shown once" in retry.json()["detail"]
    keys = await connection.scalar(
        sa.text("SELECT count(*) FROM api_keys WHERE expert_id = :e"), {"e": expert.json()["id"]}
    )
    assert keys == 1


async def test_one_key_is_one_caller_whatever_the_header_spelling(
    client, connection, make_key
) -> None:
    key = await make_key(Scope.ingest)
    body = {"conversation_id": "conv-spelling", "vote": "up"}
    codes = []
    for authorization in (f"Bearer {key}", f"bearer {key}", f"BEARER  {key}"):
        response = await client.post(
            "/api/v1/feedback",
            headers={"Authorization": authorization, "Idempotency-Key": "one-vote"},
            json=body,
        )
        codes.append(response.status_code)
    assert codes == [201, 201, 201]
    votes = await connection.scalar(
        sa.text("SELECT count(*) FROM votes WHERE conversation_id = 'conv-spelling'")
    )
    assert votes == 1


async def test_tokens_are_callers_of_their_own(client, connection, ingest_headers) -> None:
    """Two tokens for one conversation do not share Idempotency-Keys."""
    tokens = []
    for ttl in (600, 601):  # different expiries: two different tokens
        minted = await client.post(
            "/api/v1/feedback-tokens",
            headers=ingest_headers,
            json={"conversation_id": "conv-t", "ttl_seconds": ttl},
        )
        tokens.append(minted.json()["token"])
    body = {"conversation_id": "conv-t", "vote": "down"}
    for token in (*tokens, tokens[0]):
        await client.post(
            "/api/v1/feedback", headers={**bearer(token), "Idempotency-Key": "k"}, json=body
        )
    votes = await connection.scalar(
        sa.text("SELECT count(*) FROM votes WHERE conversation_id = 'conv-t'")
    )
    assert votes == 2


async def test_records_name_the_users_their_request_registered(
    client, connection, ingest_headers, admin_headers
) -> None:
    sent = await client.post(
        "/api/v1/feedback",
        headers={**ingest_headers, "Idempotency-Key": "owned"},
        json={"conversation_id": "conv-owned", "vote": "up", "user_id": 730002},
    )
    assert sent.status_code == 201
    owners = await connection.scalar(
        sa.text("SELECT owner_user_ids FROM idempotency_keys WHERE key = 'owned'")
    )
    assert owners == [730002]
    erased = await client.delete("/api/v1/users/730002", headers=admin_headers)
    assert erased.json()["deleted"]["idempotency_keys"] == 1
    left = await connection.scalar(
        sa.text("SELECT count(*) FROM idempotency_keys WHERE key = 'owned'")
    )
    assert left == 0
