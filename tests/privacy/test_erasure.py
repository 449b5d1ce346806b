"""DELETE /api/v1/users/{user_id}: afterwards no row anywhere holds the id, e-mail or comments."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.seed import SEED_EMAIL, SEED_QUERY_ID, SEED_USER_ID, seed_every_table

OTHER_USER = 990_000_777
SEED_SESSION = "seed-session-4711"

# Beyond the seed: an e-mail-only vote, an approved FAQ candidate authored by the expert, a
# routing metric sharing the user's session, an idempotency record whose stored response
# names the user, and another user's rows that must survive.
EXTRA = [
    f"INSERT INTO users (id) VALUES ({OTHER_USER})",
    "INSERT INTO votes (conversation_id, vote, email, comment) "
    f"VALUES ('anon-conversation', 'up', '{SEED_EMAIL.upper()}', 'sent without a user id')",
    "INSERT INTO votes (conversation_id, vote, user_id, email, comment) "
    f"VALUES ('other-conversation', 'up', {OTHER_USER}, 'other@example.com', 'keep me')",
    f"UPDATE routing_metrics SET session_id = '{SEED_SESSION}' WHERE user_id = {SEED_USER_ID}",
    "INSERT INTO routing_metrics (request_id, strategy_used, selected_provider, selected_model,"
    " session_id) VALUES ('anon-request', 'learning', 'openai', 'gpt-4o', "
    f"'{SEED_SESSION}')",
    "INSERT INTO routing_feedback (request_id, quality_score, user_id, comment) VALUES "
    f"('seed-request', 0.2, {OTHER_USER}, 'other user keeps this')",
    "INSERT INTO expert_faq_candidates (query_id, question, answer, source_feedback_id, "
    "expert_id, expert_trust_score, approval_status, approved_at) "
    "SELECT gen_random_uuid(), 'Quando scade il 730?', 'Il 30 settembre.', f.id, f.expert_id,"
    " 0.7, 'approved', now() FROM expert_feedback f "
    f"WHERE query_id = '{SEED_QUERY_ID}'",
    # As the app writes it: the request registered the user, so the record names its owner.
    "INSERT INTO idempotency_keys (caller, key, request_fingerprint, status_code, "
    "response_body, owner_user_ids, expires_at) VALUES ('c2', 'k2', repeat('b', 64), 201, "
    f"'{{\"user_id\": {SEED_USER_ID}}}', ARRAY[{SEED_USER_ID}]::bigint[], "
    "now() + interval '1 day')",
    "INSERT INTO api_keys (public_id, secret_hash, name, scope, expert_id) "
    "SELECT 'seedexpert01', repeat('1', 64), 'expert key', 'expert', id "
    f"FROM expert_profiles WHERE user_id = {SEED_USER_ID}",
]

SCANNED_TYPES = (
    "text",
    "character varying",
    "jsonb",
    "json",
    "ARRAY",
    "bigint",
    "integer",
    "USER-DEFINED",
)


async def _scan(conn: AsyncConnection, needles: list[str]) -> list[tuple[str, str, str]]:
    """(table, column, needle) for every column whose text contains a needle."""
    columns = (
        await conn.execute(
            sa.text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND data_type = ANY(:types) "
                "AND table_name <> 'alembic_version' ORDER BY table_name, column_name"
            ),
            {"types": list(SCANNED_TYPES)},
        )
    ).all()
    assert len(columns) > 40  # every table's columns, not a handful
    found = []
    for table, column in columns:
        for needle in needles:
            hit = await conn.scalar(
                sa.text(
                    f'SELECT count(*) FROM "{table}" WHERE lower("{column}"::text) LIKE :pattern'
                ),
                {"pattern": f"%{needle.lower()}%"},
            )
            if hit:
                found.append((table, column, needle))
    return found


async def test_erasure_leaves_no_trace(client, connection, admin_headers) -> None:
    await seed_every_table(connection)
    for statement in EXTRA:
        await connection.execute(sa.text(statement))
    needles = [str(SEED_USER_ID), SEED_EMAIL, SEED_SESSION, "wrong rate", "good routing"]
    before = await _scan(connection, needles)
    assert {(t, c) for t, c, _ in before} >= {
        ("users", "id"),
        ("votes", "user_id"),
        ("votes", "email"),
        ("votes", "comment"),
        ("routing_metrics", "user_id"),
        ("routing_metrics", "session_id"),
        ("routing_feedback", "user_id"),
        ("cache_feedback", "user_id"),
        ("expert_profiles", "user_id"),
        ("expert_faq_candidates", "approved_by"),
        ("api_keys", "user_id"),
        ("idempotency_keys", "response_body"),
        ("webhook_events", "data"),
        ("webhook_events", "user_id"),
    }

    response = await client.delete(f"/api/v1/users/{SEED_USER_ID}", headers=admin_headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["deleted"] == {
        "votes": 2,  # by user id, and by the e-mail with no user id (case-insensitive)
        "routing_feedback": 1,
        "cache_feedback": 1,
        "expert_faq_candidates": 1,  # the pending one
        "expert_feedback": 1,
        "api_keys": 1,  # the expert key
        "expert_profiles": 1,
        "idempotency_keys": 1,  # the stored response naming the user
        "users": 1,
    }
    assert body["anonymised"] == {
        "routing_metrics": 2,  # the user's, and the one sharing the user's session
        "routing_feedback": 0,
        "expert_faq_candidates": 1,  # the approved one keeps its text
        "api_keys": 1,  # the seed admin key's operator link
        "webhook_events": 1,  # the outbox payload naming the user
    }
    assert await _scan(connection, needles) == []

    # What must stay: the approved FAQ text, other users' rows, anonymised metrics.
    faq = (
        await connection.execute(
            sa.text("SELECT answer, expert_id, source_feedback_id FROM expert_faq_candidates")
        )
    ).all()
    assert [(r.answer, r.expert_id, r.source_feedback_id) for r in faq] == [
        ("Il 30 settembre.", None, None)
    ]
    assert await connection.scalar(sa.text("SELECT count(*) FROM routing_metrics")) == 2
    assert (
        await connection.scalar(sa.text(f"SELECT count(*) FROM votes WHERE user_id = {OTHER_USER}"))
        == 1
    )
    assert (
        await connection.scalar(
            sa.text(f"SELECT count(*) FROM routing_feedback WHERE user_id = {OTHER_USER}")
        )
        == 1
    )
    assert (
        await connection.scalar(
            sa.text("SELECT count(*) FROM api_keys WHERE public_id = 'seedkey00001'")
        )
        == 1
    )


async def test_erasing_twice_is_404_and_unknown_user_404(client, connection, admin_headers) -> None:
    await connection.execute(sa.text(f"INSERT INTO users (id) VALUES ({OTHER_USER})"))
    first = await client.delete(f"/api/v1/users/{OTHER_USER}", headers=admin_headers)
    assert first.status_code == 200
    assert first.json()["deleted"]["users"] == 1
    again = await client.delete(f"/api/v1/users/{OTHER_USER}", headers=admin_headers)
    assert again.status_code == 404
    assert again.headers["content-type"] == "application/problem+json"


async def test_erasure_is_admin_only_and_validates_the_id(
    client, ingest_headers, admin_headers
) -> None:
    assert (await client.delete("/api/v1/users/1")).status_code == 401
    assert (await client.delete("/api/v1/users/1", headers=ingest_headers)).status_code == 403
    bad = await client.delete("/api/v1/users/not-a-number", headers=admin_headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "user_id"


async def test_erasure_keeps_other_callers_idempotency_records(
    client, connection, admin_headers
) -> None:
    """Only records of requests that registered the user go (by the indexed owner array);
    a stored body that merely holds the same number (someone's `cost_usd: 2026`) stays."""
    await connection.execute(sa.text("INSERT INTO users (id) VALUES (2026)"))
    rows = {
        "theirs": ('{"id": "x", "user_id": 2026}', [2026]),
        "batch": ('{"items": [{"user_id": 2026}]}', [7, 2026]),
        "unrelated": ('{"id": "y", "cost_usd": 2026, "count": 20260}', [99]),
        "empty-204": ("", []),
    }
    for key, (body, owners) in rows.items():
        await connection.execute(
            sa.text(
                "INSERT INTO idempotency_keys (caller, key, request_fingerprint, status_code, "
                "response_body, owner_user_ids, expires_at) "
                "VALUES ('c', :k, 'f', 201, :b, :o, now() + interval '1 h')"
            ),
            {"k": key, "b": body, "o": owners},
        )
    response = await client.delete("/api/v1/users/2026", headers=admin_headers)
    assert response.status_code == 200
    assert response.json()["deleted"]["idempotency_keys"] == 2
    left = (await connection.execute(sa.text("SELECT key FROM idempotency_keys"))).scalars()
    assert sorted(left) == ["empty-204", "unrelated"]


async def test_erasure_failure_rolls_everything_back(client, connection, admin_headers) -> None:
    """One transaction: if a statement fails midway, nothing is deleted."""
    await seed_every_table(connection)
    # A trigger that makes the final DELETE on users fail after the others ran.
    await connection.execute(
        sa.text(
            "CREATE FUNCTION pg_temp.refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$BEGIN RAISE EXCEPTION 'refused'; END$$"
        )
    )
    await connection.execute(
        sa.text(
            "CREATE TRIGGER refuse_user_delete BEFORE DELETE ON users "
            "FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse()"
        )
    )
    response = await client.delete(f"/api/v1/users/{SEED_USER_ID}", headers=admin_headers)
    assert response.status_code == 500
    assert (
        await connection.scalar(
            sa.text(f"SELECT count(*) FROM votes WHERE user_id = {SEED_USER_ID}")
        )
        == 1
    )
    assert (
        await connection.scalar(
            sa.text(f"SELECT count(*) FROM expert_profiles WHERE user_id = {SEED_USER_ID}")
        )
        == 1
    )


async def test_erasure_by_email_spares_another_users_votes(
    client, connection, admin_headers
) -> None:
    """A user who puts a victim's e-mail on their own vote and asks for erasure must not
    wipe the victim's votes: e-mail matches only rows with no user or the same user."""
    attacker, victim = 990_001_001, 990_001_002
    await connection.execute(sa.text(f"INSERT INTO users (id) VALUES ({attacker}), ({victim})"))
    await connection.execute(
        sa.text(
            "INSERT INTO votes (conversation_id, vote, user_id, email) VALUES "
            f"('attacker-conv', 'down', {attacker}, 'Victim@example.com'), "
            f"('victim-conv', 'up', {victim}, 'victim@example.com'), "
            "('anon-conv', 'up', NULL, 'victim@example.com')"
        )
    )
    response = await client.delete(f"/api/v1/users/{attacker}", headers=admin_headers)
    assert response.status_code == 200, response.text
    left = (
        await connection.execute(sa.text("SELECT conversation_id FROM votes ORDER BY 1"))
    ).scalars()
    # The attacker's own vote and the e-mail-only one go; the victim's vote stays.
    assert list(left) == ["victim-conv"]
    assert response.json()["deleted"]["votes"] == 2
