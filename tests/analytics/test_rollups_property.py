"""Every rollup equals a from-scratch recomputation after random writes, vote switches,
cost changes, status changes, erasures, retention purges, FK cascades and TRUNCATE; and
the router's regret inputs read from the rollups equal those aggregated from raw rows."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.analytics import queries as analytics_queries
from app.analytics.triggers import BOOKKEEPING, KEYS, RECOMPUTE, SLOT_SETTING, band_sql
from app.db import create_engine
from app.privacy import service as privacy_service
from app.privacy.retention import purge_older
from app.privacy.schemas import Dataset
from tests.conftest import make_settings

BASE = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
USERS = [1, 2, 3]
CONVERSATIONS = [f"c{i}" for i in range(5)]
REASONS = ["slow", "wrong", "rude"]
PROVIDERS = [("openai", "gpt-x"), ("openai", "gpt-y"), ("anthropic", "claude-z")]
PATTERNS = [None, "tax", "payroll"]
KEYS_CACHE = ["k0", "k1", "k2"]
FEEDBACK_TYPES = [
    ("correct", None),
    ("incomplete", "caso_mancante"),
    ("incorrect", "calcolo_sbagliato"),
]
STATUSES = ["pending", "approved", "rejected", "auto_approved"]

moment = st.integers(min_value=-72 * 60, max_value=72 * 60).map(
    lambda minutes: BASE + dt.timedelta(minutes=minutes, seconds=17)
)
user = st.one_of(st.none(), st.sampled_from(USERS))

vote_row = st.fixed_dictionaries(
    {
        "conversation_id": st.sampled_from(CONVERSATIONS),
        "vote": st.sampled_from(["up", "down"]),
        "reasons": st.lists(st.sampled_from(REASONS), max_size=3),
        "created_at": moment,
        "user_id": user,
    }
)
metric_row = st.fixed_dictionaries(
    {
        "pm": st.sampled_from(PROVIDERS),
        "pattern": st.sampled_from(PATTERNS),
        "complexity": st.one_of(st.none(), st.floats(min_value=0, max_value=1)),
        "latency": st.one_of(st.none(), st.integers(min_value=0, max_value=20_000)),
        "baseline": st.one_of(st.none(), st.integers(min_value=0, max_value=100)),
        "actual": st.integers(min_value=0, max_value=100),
        "created_at": moment,
        "user_id": user,
    }
)

operation = st.one_of(
    # Each batch in a writer slot (0..2), as the group-commit loops write them.
    st.tuples(
        st.just("votes"),
        st.tuples(st.lists(vote_row, min_size=1, max_size=6), st.integers(0, 2)),
    ),
    st.tuples(st.just("metrics"), st.lists(metric_row, min_size=1, max_size=6)),
    st.tuples(
        st.just("routing_feedback"),
        st.lists(
            st.tuples(
                st.integers(0, 50),
                # Scores whose square underflows float8 (1e-200, the smallest subnormal)
                # must neither fail the write nor the regret read.
                st.one_of(st.floats(0, 1), st.sampled_from([1e-200, 5e-324, 1.0])),
                st.one_of(st.none(), st.booleans()),
                st.one_of(st.none(), st.booleans()),
                user,
            ),
            min_size=1,
            max_size=4,
        ),
    ),
    st.tuples(st.just("cache_entry"), st.tuples(st.sampled_from(KEYS_CACHE), st.integers(0, 9))),
    st.tuples(st.just("cache_hit"), st.tuples(st.sampled_from(KEYS_CACHE), moment)),
    st.tuples(
        st.just("cache_rating"),
        st.tuples(st.sampled_from(KEYS_CACHE), st.integers(1, 5), moment, user),
    ),
    st.tuples(st.just("cache_delete"), st.sampled_from(KEYS_CACHE)),
    st.tuples(
        st.just("expert_feedback"),
        st.lists(st.tuples(st.sampled_from(FEEDBACK_TYPES), moment), min_size=1, max_size=4),
    ),
    st.tuples(st.just("candidate"), st.sampled_from(STATUSES)),
    st.tuples(st.just("candidate_status"), st.sampled_from(STATUSES)),
    st.tuples(st.just("delete_metric"), st.integers(0, 50)),
    st.tuples(st.just("erase"), st.sampled_from(USERS)),
    st.tuples(
        st.just("truncate"), st.sampled_from(["votes", "cache_feedback", "routing_feedback"])
    ),
    st.tuples(
        st.just("purge"),
        st.tuples(
            st.sampled_from(
                [
                    Dataset.votes,
                    Dataset.routing_metrics,
                    Dataset.routing_feedback,
                    Dataset.cache_feedback,
                    Dataset.expert_feedback,
                ]
            ),
            moment,
        ),
    ),
)


@pytest.fixture(scope="module")
async def engine(databases) -> AsyncIterator[AsyncEngine]:
    url = await databases.migrated()
    engine = create_engine(make_settings(url), url)
    yield engine
    await engine.dispose()


async def _exec(engine: AsyncEngine, sql: str, params: Any = None, *, slot: int = 0) -> None:
    async with engine.begin() as conn:
        if slot:
            await conn.execute(
                sa.text("SELECT set_config(:name, :slot, true)"),
                {"name": SLOT_SETTING, "slot": str(slot)},
            )
        await conn.execute(sa.text(sql), params or {})


async def _ensure_users(engine: AsyncEngine) -> None:
    await _exec(
        engine,
        "INSERT INTO users (id) SELECT unnest(CAST(:ids AS bigint[])) ON CONFLICT DO NOTHING",
        {"ids": USERS},
    )
    await _exec(
        engine,
        "INSERT INTO expert_profiles (user_id, credential_types) VALUES (1, '{}'), (2, '{}') "
        "ON CONFLICT DO NOTHING",
    )


async def _apply(engine: AsyncEngine, op: str, arg: Any) -> None:
    if op == "votes":
        rows, slot = arg
        # One multi-row INSERT in the slot of a writer loop, as the batched writer does.
        await _exec(
            engine,
            "INSERT INTO votes (conversation_id, vote, reasons, created_at, user_id) "
            "SELECT c, CAST(v AS vote_direction), "
            "string_to_array(r, ','), t, u "
            "FROM unnest(CAST(:c AS text[]), CAST(:v AS text[]), CAST(:r AS text[]), "
            "CAST(:t AS timestamptz[]), CAST(:u AS bigint[])) AS x(c, v, r, t, u)",
            {
                "c": [a["conversation_id"] for a in rows],
                "v": [a["vote"] for a in rows],
                "r": [",".join(a["reasons"]) for a in rows],
                "t": [a["created_at"] for a in rows],
                "u": [a["user_id"] for a in rows],
            },
            slot=slot,
        )
    elif op == "metrics":
        for a in arg:
            await _exec(
                engine,
                "INSERT INTO routing_metrics (request_id, strategy_used, selected_provider, "
                "selected_model, pattern_detected, complexity_score, latency_ms, baseline_cost, "
                "actual_cost, created_at, user_id) VALUES (:rid, 'hybrid', :p, :m, :pat, :cx, "
                ":lat, :base, :act, :t, :u)",
                {
                    "rid": uuid.uuid4().hex,
                    "p": a["pm"][0],
                    "m": a["pm"][1],
                    "pat": a["pattern"],
                    "cx": a["complexity"],
                    "lat": a["latency"],
                    "base": None if a["baseline"] is None else Decimal(a["baseline"]) / 100,
                    "act": Decimal(a["actual"]) / 100,
                    "t": a["created_at"],
                    "u": a["user_id"],
                },
            )
    elif op == "routing_feedback":
        for index, quality, correct, helpful, uid in arg:
            await _exec(
                engine,
                "INSERT INTO routing_feedback (request_id, quality_score, is_correct, is_helpful, "
                "user_id) SELECT request_id, :q, :c, :h, :u FROM routing_metrics "
                "ORDER BY request_id OFFSET :i LIMIT 1",
                {"q": quality, "c": correct, "h": helpful, "u": uid, "i": index},
            )
    elif op == "cache_entry":
        key, cents = arg
        await _exec(
            engine,
            "INSERT INTO response_cache (cache_key, provider, model, cost_usd) "
            "VALUES (:k, 'openai', 'gpt-x', :c) "
            "ON CONFLICT (cache_key) DO UPDATE SET cost_usd = excluded.cost_usd",
            {"k": key, "c": Decimal(cents) / 100},
        )
    elif op == "cache_hit":
        key, when = arg
        await _exec(
            engine,
            "INSERT INTO cache_hit_days (cache_key, day, hits) SELECT cache_key, :d, 1 "
            "FROM response_cache WHERE cache_key = :k "
            "ON CONFLICT (cache_key, day) DO UPDATE SET hits = cache_hit_days.hits + 1",
            {"k": key, "d": when.date()},
        )
    elif op == "cache_rating":
        key, rating, when, uid = arg
        await _exec(
            engine,
            "INSERT INTO cache_feedback (cache_key, rating, created_at, user_id) "
            "SELECT cache_key, :r, :t, :u FROM response_cache WHERE cache_key = :k",
            {"k": key, "r": rating, "t": when, "u": uid},
        )
    elif op == "cache_delete":
        await _exec(engine, "DELETE FROM response_cache WHERE cache_key = :k", {"k": arg})
    elif op == "expert_feedback":
        for (kind, category), when in arg:
            await _exec(
                engine,
                "INSERT INTO expert_feedback (query_id, expert_id, feedback_type, category, "
                "query_text, original_answer, expert_answer, confidence_score, "
                "time_spent_seconds, created_at) SELECT gen_random_uuid(), id, "
                "CAST(:f AS feedback_type), CAST(:c AS italian_feedback_category), 'q', 'a', "
                "'better', 0.9, 60, :t FROM expert_profiles ORDER BY user_id LIMIT 1",
                {"f": kind, "c": category, "t": when},
            )
    elif op == "candidate":
        await _exec(
            engine,
            "INSERT INTO expert_faq_candidates (query_id, question, answer, expert_trust_score, "
            "approval_status) VALUES (gen_random_uuid(), 'q', 'a', 0.5, "
            "CAST(:s AS approval_status))",
            {"s": arg},
        )
    elif op == "candidate_status":
        await _exec(
            engine,
            "UPDATE expert_faq_candidates SET approval_status = CAST(:s AS approval_status) "
            "WHERE id = (SELECT id FROM expert_faq_candidates ORDER BY id LIMIT 1) "
            "AND approval_status <> 'pending'",
            {"s": arg},
        )
    elif op == "delete_metric":
        await _exec(
            engine,
            "DELETE FROM routing_metrics WHERE request_id = "
            "(SELECT request_id FROM routing_metrics ORDER BY request_id OFFSET :i LIMIT 1)",
            {"i": arg},
        )
    elif op == "erase":
        async with AsyncSession(engine) as session:
            await privacy_service.erase_user(session, arg, erasure_hash="property-test")
            await session.commit()
        await _ensure_users(engine)
    elif op == "truncate":
        await _exec(engine, f"TRUNCATE {arg}")
    elif op == "purge":
        dataset, cutoff = arg
        await purge_older(engine, dataset, cutoff, batch_size=3)
    else:  # pragma: no cover
        raise AssertionError(op)


def _normal(value: Any) -> Any:
    if isinstance(value, float | Decimal):
        return round(float(value), 6)
    return value


async def _rows(engine: AsyncEngine, sql: str, keys: tuple[str, ...]) -> dict[Any, Any]:
    async with engine.connect() as conn:
        result = (await conn.execute(sa.text(sql))).mappings().all()
    out = {}
    for row in result:
        key = tuple(row[k] for k in keys)
        rest = tuple(_normal(v) for k, v in row.items() if k not in keys)
        if any(v not in (0, None) for v in rest) or keys == ("conversation_id",):
            out[key] = rest
    return out


async def _assert_rollups_exact(engine: AsyncEngine) -> None:
    for table, recompute in RECOMPUTE.items():
        keys = KEYS[table]
        expected = await _rows(engine, recompute, keys)
        columns = await _columns(engine, table)
        if "slot" in columns:  # a bucket's rows of every writer slot add up
            counters = [c for c in columns if c not in BOOKKEEPING | set(keys)]
            sums = ", ".join(f"sum({c}) AS {c}" for c in counters)
            sql = f"SELECT {', '.join(keys)}, {sums} FROM {table} GROUP BY {', '.join(keys)}"
        else:
            sql = f"SELECT {', '.join(c for c in columns if c not in BOOKKEEPING)} FROM {table}"
        actual = await _rows(engine, sql, keys)
        assert actual == expected, table


async def _columns(engine: AsyncEngine, table: str) -> list[str]:
    async with engine.connect() as conn:
        result = await conn.execute(
            sa.text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = :t "
                "ORDER BY ordinal_position"
            ),
            {"t": table},
        )
        return [r[0] for r in result]


# The regret's inputs aggregated from the raw rows of [start, end): the definition the
# rollup-backed `regret_statement` must reproduce exactly.
RAW_REGRET = f"""
SELECT m.pattern_detected AS pattern, {band_sql("m.complexity_score")} AS band,
       m.selected_provider AS provider, m.selected_model AS model, count(*) AS requests,
       avg(m.actual_cost) AS avg_cost, coalesce(sum(fb.n), 0) AS n,
       coalesce(sum(fb.q), 0) AS q_sum, coalesce(sum(fb.q2), 0) AS q_sq
FROM routing_metrics AS m
LEFT JOIN LATERAL (
    SELECT count(*) AS n, sum(f.quality_score) AS q,
           sum(CASE WHEN f.quality_score < 1e-150 THEN 0
                    ELSE f.quality_score * f.quality_score END) AS q2
    FROM routing_feedback AS f WHERE f.request_id = m.request_id
) AS fb ON true
WHERE m.pattern_detected IS NOT NULL AND m.complexity_score IS NOT NULL
  AND m.created_at >= :start AND m.created_at < :end
GROUP BY 1, 2, 3, 4"""
REGRET_KEYS = ("pattern", "band", "provider", "model")


async def _assert_regret_exact(engine: AsyncEngine, start: dt.datetime, end: dt.datetime) -> None:
    stmt = analytics_queries.regret_statement(analytics_queries.window_parts(start, end))
    async with engine.connect() as conn:
        raw = (await conn.execute(sa.text(RAW_REGRET), {"start": start, "end": end})).mappings()
        expected = {tuple(r[k] for k in REGRET_KEYS): r for r in raw.all()}
        actual = {
            tuple(r[k] for k in REGRET_KEYS): r for r in (await conn.execute(stmt)).mappings()
        }
    assert actual.keys() == expected.keys()
    for key, row in actual.items():
        assert int(row["requests"]) == int(expected[key]["requests"]), key
        assert int(row["n"]) == int(expected[key]["n"]), key
        for column in ("avg_cost", "q_sum", "q_sq"):
            assert _normal(row[column]) == _normal(expected[key][column]), (key, column)


# A window with arbitrary edges (partial hours and days on both sides) inside the data.
window = st.tuples(moment, moment).map(sorted)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(operation, min_size=1, max_size=10), bounds=window)
async def test_rollups_equal_recomputation(
    engine: AsyncEngine, operations: list[Any], bounds: list[dt.datetime]
) -> None:
    await _ensure_users(engine)
    for op, arg in operations:
        await _apply(engine, op, arg)
    await _assert_rollups_exact(engine)
    start, end = bounds
    await _assert_regret_exact(engine, start - dt.timedelta(minutes=7), end)
    # The whole data range: whole days from day rows, no raw edges.
    await _assert_regret_exact(engine, BASE - dt.timedelta(days=4), BASE + dt.timedelta(days=4))
