"""A few hand-written rows in every table, through plain SQL (not the app's code), for the
schema lint, the migration round trips and the erasure scan."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.analytics.triggers import ROLLUP_TABLES

SEED_USER_ID = 990_000_001
SEED_EMAIL = "seed.user@example.com"
SEED_QUERY_ID = "6f1c1b7e-2d7a-4b8e-9a51-0c1d2e3f4a5b"

STATEMENTS = [
    ("users", f"INSERT INTO users (id) VALUES ({SEED_USER_ID}) ON CONFLICT DO NOTHING"),
    (
        "response_cache",
        "INSERT INTO response_cache (cache_key, provider, model, cost_usd) "
        "VALUES ('seed-cache-key', 'openai', 'gpt-4o-mini', 0.0021)",
    ),
    (
        "cache_feedback",
        "INSERT INTO cache_feedback (cache_key, rating, comment, user_agent, user_id) "
        f"VALUES ('seed-cache-key', 4, 'fine', 'Mozilla/5.0', {SEED_USER_ID})",
    ),
    (
        "cache_hit_days",
        "INSERT INTO cache_hit_days (cache_key, day, hits) VALUES ('seed-cache-key', "
        "current_date, 3)",
    ),
    (
        "routing_metrics",
        "INSERT INTO routing_metrics (request_id, strategy_used, confidence, selected_provider, "
        "selected_model, baseline_cost, actual_cost, pattern_detected, complexity_score, user_id, "
        "latency_ms) "
        "VALUES ('seed-request', 'hybrid', 'high', 'anthropic', 'claude-haiku', 0.01, 0.004, "
        f"'tax_question', 0.4, {SEED_USER_ID}, 850)",
    ),
    (
        "routing_feedback",
        "INSERT INTO routing_feedback (request_id, quality_score, is_correct, comment, user_id) "
        f"VALUES ('seed-request', 0.9, true, 'good routing', {SEED_USER_ID})",
    ),
    (
        "expert_profiles",
        "INSERT INTO expert_profiles (user_id, credential_types, specializations) VALUES "
        f"({SEED_USER_ID}, ARRAY['revisore_legale']::expert_credential_type[], ARRAY['iva'])",
    ),
    (
        "expert_feedback",
        "INSERT INTO expert_feedback (query_id, expert_id, feedback_type, category, query_text, "
        "original_answer, expert_answer, confidence_score, time_spent_seconds) "
        f"SELECT '{SEED_QUERY_ID}', id, 'incorrect', 'normativa_obsoleta', 'Aliquota IVA?', "
        "'22%', '10% per questo caso', 0.8, 120 FROM expert_profiles "
        f"WHERE user_id = {SEED_USER_ID}",
    ),
    (
        "expert_faq_candidates",
        "INSERT INTO expert_faq_candidates (query_id, question, answer, source_feedback_id, "
        "expert_id, expert_trust_score, approved_by) "
        f"SELECT query_id, query_text, expert_answer, f.id, f.expert_id, 0.5, {SEED_USER_ID} "
        f"FROM expert_feedback f WHERE query_id = '{SEED_QUERY_ID}'",
    ),
    (
        "votes",
        "INSERT INTO votes (conversation_id, vote, query_id, user_id, email, reasons, comment) "
        f"VALUES ('seed-conversation', 'down', '{SEED_QUERY_ID}', {SEED_USER_ID}, "
        f"'{SEED_EMAIL}', ARRAY['inaccurate'], 'wrong rate')",
    ),
    # Filled by the quality triggers on votes and expert_feedback (nothing writes them
    # directly); the check fails the seed if the triggers did not.
    (
        "query_current_votes",
        f"SELECT 1 / count(*) FROM query_current_votes WHERE query_id = '{SEED_QUERY_ID}'",
    ),
    (
        "query_signals",
        f"SELECT 1 / count(*) FROM query_signals WHERE query_id = '{SEED_QUERY_ID}' "
        "AND down_votes = 1 AND verdict = 'incorrect'",
    ),
    (
        "api_keys",
        "INSERT INTO api_keys (public_id, secret_hash, name, scope, user_id) VALUES "
        f"('seedkey00001', repeat('0', 64), 'seed', 'admin', {SEED_USER_ID})",
    ),
    (
        "idempotency_keys",
        "INSERT INTO idempotency_keys (caller, key, request_fingerprint, status_code, "
        "response_body, expires_at) VALUES ('seed-caller', 'seed-key', repeat('a', 64), 201, "
        "'{}', now() + interval '1 day')",
    ),
    ("user_erasures", "INSERT INTO user_erasures (user_hash) VALUES (repeat('e', 64))"),
    (
        "webhook_endpoints",
        "INSERT INTO webhook_endpoints (url, events, secret_ciphertext) VALUES "
        "('https://hooks.example.com/seed', ARRAY['vote.down'], 'v1.c2VlZA==')",
    ),
    (
        "webhook_events",
        "INSERT INTO webhook_events (type, data, user_id) VALUES ('vote.down', "
        f"jsonb_build_object('conversation_id', 'seed-conversation', 'user_id', {SEED_USER_ID}), "
        f"{SEED_USER_ID})",
    ),
    (
        "webhook_deliveries",
        "INSERT INTO webhook_deliveries (event_id, endpoint_id, attempts) "
        "SELECT ev.id, ep.id, 1 FROM webhook_events ev, webhook_endpoints ep "
        "WHERE ep.url = 'https://hooks.example.com/seed'",
    ),
    (
        "webhook_attempts",
        "INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error) "
        "SELECT id, 1, 503, 'HTTP 503 from the receiver' FROM webhook_deliveries",
    ),
]

# The rollups are filled by their triggers from the rows above.
SEEDED_TABLES = [table for table, _ in STATEMENTS] + list(ROLLUP_TABLES)


async def seed_every_table(conn: AsyncConnection) -> None:
    """Insert the seed rows (in FK order)."""
    for _, statement in STATEMENTS:
        await conn.execute(sa.text(statement))
