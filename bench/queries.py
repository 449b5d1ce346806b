"""`python -m bench queries`: query timings at a multiple of the seeds' year-one volume.

Loads realistic rows with server-side `generate_series` (without `--rebuild` the rollup
triggers fire on every chunk, as they would for a batched writer; with it they are off and
the rollups are recomputed once), then times each read endpoint through HTTP (a uvicorn
subprocess on loopback), warm, and prints p50/p95 per endpoint. `--load-only` stops after
loading; `--compare 10,100,1000` times databases loaded earlier side by side, in
interleaved rounds. With `--explain`, prints `EXPLAIN (ANALYZE, BUFFERS)` of each
analytics statement.

Scale 1 = year one of the seeds: 100 experts, 10K expert reviews, 1K FAQ candidates, 10K
votes, 5K routing metrics, 1K routing feedback, 1K cache entries, 2K cache ratings.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from app import embedded_postgres, migrate
from app.analytics import queries as analytics_queries
from app.analytics import triggers as analytics_triggers
from app.auth import service as auth_service
from app.auth.models import Scope
from app.config import Settings
from app.db import create_engine
from app.query_params import DEFAULT_SPAN, Bucket
from app.votes.service import analytics_statement

DATA_DIR = Path(".data/bench")
CHUNK = 250_000
# A throwaway signing secret for the benchmark server (settings require >= 32 bytes).
BENCH_SECRET = "bench-queries-not-a-secret-0123456789"

YEAR_ONE = {
    "expert_profiles": 100,
    "expert_feedback": 10_000,
    "expert_faq_candidates": 1_000,
    "votes": 10_000,
    "routing_metrics": 5_000,
    "routing_feedback": 1_000,
    "response_cache": 1_000,
    "cache_feedback": 2_000,
}

# Realistic spread: 4 providers x 2 models, 6 patterns (+ none), log-normal latencies.
MODELS = [
    ("openai", "gpt-4o", 900),
    ("openai", "gpt-4o-mini", 400),
    ("anthropic", "claude-sonnet", 1100),
    ("anthropic", "claude-haiku", 350),
    ("google", "gemini-pro", 800),
    ("google", "gemini-flash", 300),
    ("mistral", "mistral-large", 700),
    ("local", "llama-70b", 1500),
]
PATTERNS = ["tax_question", "payroll", "vat", "invoice", "pension", "legal_deadline"]
REASONS = ["wrong", "outdated", "too_generic", "slow", "helpful", "clear"]


def _text_array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]"


def _pick(array: str, n: int) -> str:
    """A random element of a SQL array literal with n elements."""
    return f"({array})[1 + floor(random() * {n})::int]"


# Each loader: (table, SQL over generate_series(@lo@, @hi@) AS g; @n@ is the table's total).
AGE = "now() - random() * interval '365 days'"


def _loaders() -> list[tuple[str, str]]:
    providers = _text_array([p for p, _, _ in MODELS])
    models = _text_array([m for _, m, _ in MODELS])
    bases = "ARRAY[" + ", ".join(str(b) for _, _, b in MODELS) + "]"
    patterns = _text_array(PATTERNS)
    reasons = _text_array(REASONS)
    return [
        (
            "users",
            "INSERT INTO users (id) SELECT g FROM generate_series(@lo@, @hi@) AS g "
            "ON CONFLICT DO NOTHING",
        ),
        (
            "expert_profiles",
            "INSERT INTO expert_profiles (user_id, credential_types, specializations, "
            "experience_years, trust_score, feedback_count, is_verified, is_active) "
            "SELECT g, ARRAY['consulente_fiscale']::expert_credential_type[], "
            f"ARRAY[{_pick(patterns, len(PATTERNS))}], (random() * 30)::int, "
            "round(random()::numeric, 4)::float, (random() * 200)::int, random() < 0.6, "
            "random() < 0.9 FROM generate_series(@lo@, @hi@) AS g",
        ),
        (
            "expert_feedback",
            "WITH e AS (SELECT array_agg(id ORDER BY id) AS ids, count(*) AS n "
            "FROM expert_profiles) "
            "INSERT INTO expert_feedback (query_id, expert_id, feedback_type, category, "
            "query_text, original_answer, expert_answer, confidence_score, "
            "time_spent_seconds, complexity_rating, created_at) "
            "SELECT gen_random_uuid(), e.ids[1 + floor(random() * e.n)::int], t.kind, "
            "CASE WHEN t.kind = 'correct' THEN NULL ELSE (ARRAY['normativa_obsoleta', "
            "'interpretazione_errata', 'caso_mancante', 'calcolo_sbagliato', "
            "'troppo_generico']::italian_feedback_category[])[1 + floor(random() * 5)::int] "
            "END, 'Come si calcola la ritenuta?', 'Risposta generata', "
            "CASE WHEN t.kind = 'incorrect' THEN 'Risposta corretta' END, "
            "round(random()::numeric, 3)::float, 30 + (random() * 600)::int, "
            f"1 + (random() * 4)::int, {AGE} "
            "FROM generate_series(@lo@, @hi@) AS g CROSS JOIN e CROSS JOIN LATERAL ("
            "SELECT CASE WHEN g % 10 < 6 THEN 'correct' WHEN g % 10 < 8 THEN 'incomplete' "
            "ELSE 'incorrect' END::feedback_type AS kind) AS t",
        ),
        (
            "expert_faq_candidates",
            "INSERT INTO expert_faq_candidates (query_id, question, answer, "
            "expert_trust_score, approval_status, priority_score, created_at) "
            "SELECT gen_random_uuid(), 'Domanda ' || g, 'Risposta', round(random()::numeric, 3)"
            "::float, (ARRAY['pending', 'approved', 'rejected', 'auto_approved']::"
            "approval_status[])[1 + floor(random() * 4)::int], random() * 10, "
            f"{AGE} FROM generate_series(@lo@, @hi@) AS g",
        ),
        (
            "votes",
            "INSERT INTO votes (conversation_id, vote, reasons, created_at) "
            "SELECT 'conv-' || floor(random() * @n@ / 2)::bigint, "
            "CASE WHEN random() < 0.7 THEN 'up' ELSE 'down' END::vote_direction, "
            f"CASE WHEN random() < 0.4 THEN ARRAY[{_pick(reasons, len(REASONS))}] "
            f"ELSE '{{}}'::text[] END, {AGE} FROM generate_series(@lo@, @hi@) AS g",
        ),
        (
            "routing_metrics",
            "INSERT INTO routing_metrics (request_id, strategy_used, confidence, "
            "selected_provider, selected_model, baseline_provider, baseline_model, "
            "baseline_cost, actual_cost, pattern_detected, complexity_score, latency_ms, "
            "prompt_tokens, completion_tokens, created_at) "
            "SELECT 'req-' || g, 'hybrid', 'high', "
            f"({providers})[k], ({models})[k], 'openai', 'gpt-4o', "
            "CASE WHEN random() < 0.8 THEN 0.01 END, round((random() * 0.01)::numeric, 6), "
            f"CASE WHEN random() < 0.9 THEN {_pick(patterns, len(PATTERNS))} END, "
            "random(), "
            f"greatest(1, ({bases})[k] * exp(0.35 * sqrt(-2 * ln(1 - random())) "
            "* cos(2 * pi() * random())))::int, (random() * 2000)::int, "
            f"(random() * 800)::int, {AGE} "
            f"FROM generate_series(@lo@, @hi@) AS g CROSS JOIN LATERAL "
            f"(SELECT 1 + floor(random() * {len(MODELS)})::int AS k, g AS gg) AS x",
        ),
        (
            "routing_feedback",
            "INSERT INTO routing_feedback (request_id, quality_score, is_correct, "
            "is_helpful, created_at) "
            "SELECT m.request_id, random(), random() < 0.8, "
            "CASE WHEN random() < 0.5 THEN random() < 0.7 END, "
            "m.created_at + interval '2 minutes' FROM generate_series(@lo@, @hi@) AS g "
            "JOIN routing_metrics AS m ON m.request_id = 'req-' || (g * 5)",
        ),
        (
            "response_cache",
            "INSERT INTO response_cache (cache_key, provider, model, prompt_hash, cost_usd, "
            "created_at) SELECT 'key-' || g, 'openai', 'gpt-4o', md5(g::text), "
            f"round((random() * 0.05)::numeric, 6), {AGE} FROM generate_series(@lo@, @hi@) AS g",
        ),
        (
            "cache_hit_days",
            "INSERT INTO cache_hit_days (cache_key, day, hits) "
            "SELECT e.cache_key, (e.created_at + d * interval '1 day')::date, "
            "1 + (random() * 20)::int FROM generate_series(@lo@, @hi@) AS g "
            "JOIN response_cache AS e ON e.cache_key = 'key-' || g "
            "CROSS JOIN generate_series(0, 1) AS d ON CONFLICT DO NOTHING",
        ),
        (
            "cache_feedback",
            "INSERT INTO cache_feedback (cache_key, rating, created_at) "
            "SELECT 'key-' || (1 + (g - 1) % @entries@), 1 + floor(random() * 5)::int, "
            f"{AGE} FROM generate_series(@lo@, @hi@) AS g",
        ),
    ]


def _counts(scale: int) -> dict[str, int]:
    counts = {t: n * scale for t, n in YEAR_ONE.items()}
    counts["users"] = counts["expert_profiles"]
    counts["cache_hit_days"] = counts["response_cache"]
    # Feedback rows point at every fifth metric.
    counts["routing_feedback"] = min(counts["routing_feedback"], counts["routing_metrics"] // 5)
    return counts


async def _fresh_database(server_url: str, name: str) -> str:
    admin = make_url(server_url).set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    await migrate.upgrade_to_head_async(url)
    return url


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _set_rollup_triggers(conn: asyncpg.Connection, *, enabled: bool) -> None:
    action = "ENABLE" if enabled else "DISABLE"
    for trigger in analytics_triggers.triggers():
        table = trigger.on_entity.removeprefix("public.")
        await conn.execute(f"ALTER TABLE {table} {action} TRIGGER {trigger.signature}")


# Independent chains of loaders: each chain runs on its own connection, in order (a child
# table after its parent); the two chains run side by side (one per core here).
CHAINS = (
    ("votes", "routing_metrics", "routing_feedback", "expert_faq_candidates"),
    (
        "users",
        "expert_profiles",
        "expert_feedback",
        "response_cache",
        "cache_hit_days",
        "cache_feedback",
    ),
)


# The quality loop's insert triggers (migration 0101) lock and refresh one signal row per
# query_id of every inserted row: off for the bulk load, then `QUALITY_SIGNALS` derives
# the same rows once. The generator's votes carry no query_id, so only reviews count.
QUALITY_TRIGGERS = (
    ("votes", "trg_votes_quality_insert"),
    ("expert_feedback", "trg_expert_feedback_quality_insert"),
)
QUALITY_SIGNALS = """
INSERT INTO query_signals (query_id, first_reviewed_at, verdict, verdict_at)
SELECT DISTINCT ON (query_id) query_id, min(created_at) OVER (PARTITION BY query_id),
       feedback_type, created_at
FROM expert_feedback ORDER BY query_id, created_at DESC, id DESC"""


async def _secondary_indexes(conn: asyncpg.Connection, tables: list[str]) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of each index that backs no constraint: dropped for
    the bulk load and built once afterwards, instead of millions of random B-tree inserts
    (the generator's timestamps are random). Unique/primary keys stay (ON CONFLICT, joins)."""
    rows = await conn.fetch(
        "SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS ddl "
        "FROM pg_index AS i JOIN pg_class AS t ON t.oid = i.indrelid "
        "WHERE t.relname = ANY($1::text[]) AND NOT i.indisunique "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = i.indexrelid)",
        tables,
    )
    return [(r["name"], r["ddl"]) for r in rows]


async def _load_chain(
    dsn: str, chain: list[tuple[str, str]], counts: dict[str, int], timings: dict[str, float]
) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET synchronous_commit = off")  # bulk load only, not the service
        for table, sql in chain:
            total = counts[table]
            started = time.perf_counter()
            for lo in range(1, total + 1, CHUNK):
                hi = min(total, lo + CHUNK - 1)
                stmt = (
                    sql.replace("@lo@", str(lo))
                    .replace("@hi@", str(hi))
                    .replace("@n@", str(total))
                    .replace("@entries@", str(counts["response_cache"]))
                )
                await conn.execute(stmt)
            timings[table] = time.perf_counter() - started
            print(f"  loaded {table:<24} {total:>10,} rows in {timings[table]:6.1f} s", flush=True)
    finally:
        await conn.close()


async def _run_on_two(dsn: str, statements: list[str]) -> None:
    """Run independent statements on two connections (index builds after the load)."""
    queue = list(statements)

    async def worker() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("SET maintenance_work_mem = '512MB'")
            while queue:
                await conn.execute(queue.pop(0))
        finally:
            await conn.close()

    await asyncio.gather(worker(), worker())


async def load(
    url: str, scale: int, *, rebuild: bool, only: set[str] | None = None
) -> dict[str, float]:
    """Load every table at `scale`; returns seconds per table. With `rebuild`, the rollup
    triggers and the secondary indexes are off during the load; the indexes are built and
    the rollups recomputed once at the end (the migration's backfill, the same `RECOMPUTE`
    the property test compares the triggers' rollups with), which is much faster for
    millions of rows."""
    counts = _counts(scale)
    timings: dict[str, float] = {}
    dsn = _asyncpg_dsn(url)
    loaders = dict(_loaders())
    wanted = [t for t in loaders if only is None or t in only]
    conn = await asyncpg.connect(dsn)
    try:
        dropped: list[tuple[str, str]] = []
        if rebuild:
            await _set_rollup_triggers(conn, enabled=False)
            for table, trigger in QUALITY_TRIGGERS:
                await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
            dropped = await _secondary_indexes(conn, wanted)
            for name, _ in dropped:
                await conn.execute(f"DROP INDEX {name}")
        chains = [[(t, loaders[t]) for t in chain if t in wanted] for chain in CHAINS]
        await asyncio.gather(*(_load_chain(dsn, chain, counts, timings) for chain in chains))
        if rebuild:
            started = time.perf_counter()
            await _run_on_two(dsn, [ddl for _, ddl in dropped])
            timings["indexes (build)"] = time.perf_counter() - started
            print(f"  built indexes in {timings['indexes (build)']:6.1f} s", flush=True)
            started = time.perf_counter()
            await conn.execute("SET work_mem = '256MB'")
            for table, statement in zip(
                analytics_triggers.ROLLUP_TABLES,
                analytics_triggers.backfill_statements(),
                strict=True,
            ):
                await conn.execute(f"DELETE FROM {table}")
                await conn.execute(statement)
            await _set_rollup_triggers(conn, enabled=True)
            if "expert_feedback" in wanted:
                await conn.execute(QUALITY_SIGNALS)
            for table, trigger in QUALITY_TRIGGERS:
                await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
            timings["rollups (rebuild)"] = time.perf_counter() - started
            print(f"  rebuilt rollups in {timings['rollups (rebuild)']:6.1f} s", flush=True)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return timings


async def _tune_bench_server(server_url: str) -> None:
    """Our own embedded benchmark server only: fewer checkpoints during a bulk load (each
    checkpoint makes the next change of every page write a full page image to WAL)."""
    conn = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await conn.execute("ALTER SYSTEM SET max_wal_size = '8GB'")
        await conn.execute("ALTER SYSTEM SET checkpoint_timeout = '30min'")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


async def settle(url: str) -> None:
    """Put each rollup table in bucket order, the order live writes produce (new buckets
    are appended as time passes); the generator's random timestamps scatter them."""
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        for table in analytics_triggers.ROLLUP_TABLES:
            pk = "pk_" + table
            await conn.execute(f"CLUSTER {table} USING {pk}")
            await conn.execute(f"ANALYZE {table}")
    finally:
        await conn.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FEEDBACK_TOKEN_SECRET": BENCH_SECRET,
        "RATE_LIMIT_PER_MINUTE": "0",
        "LOG_LEVEL": "warning",
    }
    code = (
        "import uvicorn; from app.main import create_app; "
        f"uvicorn.run(create_app(), host='127.0.0.1', port={port}, log_level='warning', "
        "access_log=False)"
    )
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL)


async def _admin_key(url: str) -> str:
    settings = Settings.model_validate({"database_url": url, "feedback_token_secret": BENCH_SECRET})
    engine = create_engine(settings, url)
    try:
        async with AsyncSession(engine) as session:
            _, key = await auth_service.create_key(session, scope=Scope.admin)
            await session.commit()
    finally:
        await engine.dispose()
    return key


async def _one_of(url: str, sql: str) -> Any:
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def _endpoints(url: str) -> list[tuple[str, str, dict[str, str]]]:
    expert = await _one_of(
        url,
        "SELECT expert_id FROM expert_feedback WHERE created_at > now() - interval '30 days' "
        "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
    )
    return [
        ("GET /healthz (HTTP baseline, no DB)", "/healthz", {}),
        ("experts by trust (page of 50)", "/api/v1/experts", {"limit": "50"}),
        ("one expert's last 30 days", f"/api/v1/experts/{expert}/feedback", {"days": "30"}),
        ("pending candidates by priority", "/api/v1/faq-candidates", {"status": "pending"}),
        ("analytics/votes (30 d, day)", "/api/v1/analytics/votes", {}),
        ("analytics/votes (30 d, hour)", "/api/v1/analytics/votes", {"bucket": "hour"}),
        ("analytics/routing by provider", "/api/v1/analytics/routing", {}),
        ("analytics/routing by model", "/api/v1/analytics/routing", {"group_by": "model"}),
        ("analytics/routing by pattern", "/api/v1/analytics/routing", {"group_by": "pattern"}),
        ("analytics/cache", "/api/v1/analytics/cache", {}),
        ("analytics/experts", "/api/v1/analytics/experts", {}),
        (
            "recommendations (30 d)",
            "/api/v1/routing/recommendations",
            {"pattern": "tax_question", "days": "30"},
        ),
        (
            "recommendations (30 d, band)",
            "/api/v1/routing/recommendations",
            {"pattern": "tax_question", "complexity": "0.5", "days": "30"},
        ),
        ("analytics/routing/regret (30 d)", "/api/v1/analytics/routing/regret", {}),
    ]


async def time_endpoints(
    base: str, key: str, endpoints: list[tuple[str, str, dict[str, str]]], repeats: int
) -> list[dict[str, Any]]:
    results = []
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
        for label, path, params in endpoints:
            for _ in range(3):  # warm-up: plans, caches, connections
                response = await http.get(path, params=params)
            samples = []
            for _ in range(repeats):
                started = time.perf_counter()
                response = await http.get(path, params=params)
                samples.append((time.perf_counter() - started) * 1000)
            samples.sort()
            p95 = samples[max(0, int(len(samples) * 0.95) - 1)]
            results.append(
                {
                    "label": label,
                    "status": response.status_code,
                    "p50_ms": statistics.median(samples),
                    "p95_ms": p95,
                }
            )
            print(
                f"  {label:<42} {response.status_code}  p50 {statistics.median(samples):7.1f} ms"
                f"   p95 {p95:7.1f} ms",
                flush=True,
            )
    return results


async def explain(url: str) -> list[tuple[str, str]]:
    """EXPLAIN (ANALYZE, BUFFERS) of each analytics statement over the default window."""
    end = dt.datetime.now(dt.UTC)
    start = end - DEFAULT_SPAN
    parts = analytics_queries.window_parts(start, end)
    statements: list[tuple[str, sa.TextClause]] = [
        ("votes (day)", analytics_statement(start=start, end=end, bucket=Bucket.day, top=10)),
        ("votes (hour)", analytics_statement(start=start, end=end, bucket=Bucket.hour, top=10)),
        ("routing by provider", analytics_queries.routing_statement(parts, "provider")),
        ("routing latency by provider", analytics_queries.latency_statement(parts, "provider")),
        (
            "recommendations",
            analytics_queries.recommendation_statement(parts, pattern="tax_question", band=None),
        ),
        ("regret", analytics_queries.regret_statement(parts)),
        ("cache", analytics_queries.cache_statement(parts)),
        ("experts by type/category", analytics_queries.expert_feedback_statement(parts)),
    ]
    settings = Settings.model_validate({"database_url": url, "feedback_token_secret": BENCH_SECRET})
    engine = create_engine(settings, url)
    out = []
    try:
        async with engine.connect() as conn:
            for label, stmt in statements:
                explained = sa.text("EXPLAIN (ANALYZE, BUFFERS) " + stmt.text).bindparams(
                    *stmt._bindparams.values()
                )
                rows = await conn.execute(explained)
                out.append((label, "\n".join(r[0] for r in rows)))
    finally:
        await engine.dispose()
    return out


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95) - 1)]


async def _wait_ready(base: str) -> None:
    async with httpx.AsyncClient(timeout=1) as probe:
        for _ in range(600):
            try:
                await probe.get(f"{base}/healthz")
                return
            except httpx.HTTPError:
                await asyncio.sleep(0.1)


async def compare_scales(server: str, scales: list[int], repeats: int) -> dict[str, Any]:
    """Time every endpoint at every scale in one run, interleaved: one server per loaded
    database, and each round sends one request to each scale in turn, so the shared
    machine's noise falls on every column alike. Databases come from earlier loads."""
    urls, procs, clients = {}, [], {}
    endpoints: dict[int, list[tuple[str, str, dict[str, str]]]] = {}
    try:
        for scale in scales:
            url = make_url(server).set(database=f"bench_queries_x{scale}")
            urls[scale] = url.render_as_string(hide_password=False)
            await migrate.upgrade_to_head_async(urls[scale])
            endpoints[scale] = await _endpoints(urls[scale])
            port = _free_port()
            procs.append(_serve(urls[scale], port))
            base = f"http://127.0.0.1:{port}"
            await _wait_ready(base)
            key = await _admin_key(urls[scale])
            clients[scale] = httpx.AsyncClient(
                base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120
            )
        load_before = os.getloadavg()
        rows = []
        for index, (label, _, _) in enumerate(endpoints[scales[0]]):
            samples: dict[int, list[float]] = {s: [] for s in scales}
            statuses: dict[int, int] = {}
            for scale in scales:  # warm-up: plans, caches, connections
                _, path, params = endpoints[scale][index]
                for _ in range(3):
                    await clients[scale].get(path, params=params)
            for _ in range(repeats):
                for scale in scales:
                    _, path, params = endpoints[scale][index]
                    started = time.perf_counter()
                    response = await clients[scale].get(path, params=params)
                    samples[scale].append((time.perf_counter() - started) * 1000)
                    statuses[scale] = response.status_code
            row: dict[str, Any] = {"label": label}
            line = f"  {label:<38}"
            for scale in scales:
                p50, p95 = _percentiles(samples[scale])
                row[str(scale)] = {"p50_ms": p50, "p95_ms": p95, "status": statuses[scale]}
                line += f" | {scale:>4}x {statuses[scale]} {p50:6.1f} / {p95:6.1f}"
            rows.append(row)
            print(line, flush=True)
        load_after = os.getloadavg()
        print(f"  load average before {load_before} after {load_after}", flush=True)
        return {"scales": scales, "results": rows, "loadavg": [load_before, load_after]}
    finally:
        for client in clients.values():
            await client.aclose()
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)


async def table_sizes(url: str) -> list[tuple[str, int, int]]:
    """(table, rows, bytes with indexes and TOAST) of every table, largest first."""
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT c.relname, c.reltuples::bigint AS n, pg_total_relation_size(c.oid) AS b "
            "FROM pg_class AS c JOIN pg_namespace AS s ON s.oid = c.relnamespace "
            "WHERE s.nspname = 'public' AND c.relkind = 'r' ORDER BY b DESC"
        )
        return [(r["relname"], int(r["n"]), int(r["b"])) for r in rows]
    finally:
        await conn.close()


async def finish_report(
    report: dict[str, Any],
    url: str,
    name: str,
    *,
    show_explain: bool,
    measure_contention: bool,
) -> None:
    """Add the plans and the contention run (if asked) to `report`, print, save as JSON."""
    if show_explain:
        report["explain"] = await explain(url)
        for label, plan in report["explain"]:
            print(f"\n### {label}\n{plan}")
    if measure_contention:
        # Runs last: it adds rows to the current hour of the benchmark database.
        report["contention"] = await contention(url)
    out = DATA_DIR / f"queries-{name}-{uuid.uuid4().hex[:6]}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"\nsaved {out}")


async def main_compare(
    scales: list[int], repeats: int, *, show_explain: bool, measure_contention: bool
) -> None:
    server = os.environ.get("DATABASE_URL") or embedded_postgres.start(DATA_DIR)
    try:
        print(f"scales {scales}: p50 / p95 ms, interleaved rounds", flush=True)
        report = await compare_scales(server, scales, repeats)
        largest = make_url(server).set(database=f"bench_queries_x{max(scales)}")
        url = largest.render_as_string(hide_password=False)
        report["sizes"] = await table_sizes(url)
        for name, n, size in report["sizes"]:
            if n > 0:
                print(f"  {name:<32} {n:>12,} rows {size / 2**20:9.1f} MiB", flush=True)
        await finish_report(
            report,
            url,
            "compare",
            show_explain=show_explain,
            measure_contention=measure_contention,
        )
    finally:
        if not os.environ.get("DATABASE_URL"):
            embedded_postgres.stop(DATA_DIR)


CONTENTION_SQL = {
    "votes": (
        "INSERT INTO votes (conversation_id, vote, reasons) "
        "SELECT 'hot-' || floor(random() * 1e9)::bigint, "
        "CASE WHEN random() < 0.7 THEN 'up' ELSE 'down' END::vote_direction, "
        "ARRAY['slow'] FROM generate_series(1, $1)"
    ),
    "routing_metrics": (
        "INSERT INTO routing_metrics (request_id, strategy_used, selected_provider, "
        "selected_model, pattern_detected, complexity_score, latency_ms, actual_cost) "
        "SELECT gen_random_uuid()::text, 'hybrid', 'openai', 'gpt-4o', 'tax_question', "
        "random(), (100 + random() * 900)::int, 0.001 FROM generate_series(1, $1)"
    ),
}
CONTENTION_TRIGGERS = {
    "votes": "trg_votes_rollup_insert",
    "routing_metrics": "trg_routing_metrics_rollup_insert",
}


async def _write_until(dsn: str, sql: str, batch: int, deadline: float) -> list[float]:
    conn = await asyncpg.connect(dsn)
    latencies = []
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await conn.execute(sql, batch)
            latencies.append(time.perf_counter() - started)
    finally:
        await conn.close()
    return latencies


async def contention(url: str, *, seconds: float = 4.0, batch: int = 50) -> list[dict[str, Any]]:
    """Concurrent writers committing multi-row INSERTs into the current hour (every writer
    upserts the same rollup rows), with the rollup trigger on and off: rows/s and p99 of
    a commit. The ratio shows what the rollups cost, contention included."""
    rows_out = []
    dsn = _asyncpg_dsn(url)
    admin = await asyncpg.connect(dsn)
    try:
        for table, sql in CONTENTION_SQL.items():
            for enabled in (False, True):
                action = "ENABLE" if enabled else "DISABLE"
                await admin.execute(
                    f"ALTER TABLE {table} {action} TRIGGER {CONTENTION_TRIGGERS[table]}"
                )
                for writers in (1, 8, 32):
                    wal_before = await admin.fetchval("SELECT pg_current_wal_lsn()")
                    deadline = time.perf_counter() + seconds
                    started = time.perf_counter()
                    per_writer = await asyncio.gather(
                        *(_write_until(dsn, sql, batch, deadline) for _ in range(writers))
                    )
                    latencies = [x for samples in per_writer for x in samples]
                    elapsed = time.perf_counter() - started
                    wal_bytes = await admin.fetchval(
                        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)", wal_before
                    )
                    latencies.sort()
                    row = {
                        "table": table,
                        "rollups": enabled,
                        "writers": writers,
                        "rows_per_s": len(latencies) * batch / elapsed,
                        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
                        # WAL of the whole server over the run (other databases idle).
                        "wal_bytes_per_row": float(wal_bytes) / max(1, len(latencies) * batch),
                    }
                    rows_out.append(row)
                    print(
                        f"  {table:<16} rollups {'on ' if enabled else 'off'} writers "
                        f"{writers:>2}: {row['rows_per_s']:8.0f} rows/s   p99 "
                        f"{row['p99_ms']:6.1f} ms   WAL {row['wal_bytes_per_row']:6.0f} B/row",
                        flush=True,
                    )
        await admin.execute("ALTER TABLE votes ENABLE TRIGGER trg_votes_rollup_insert")
        await admin.execute(
            "ALTER TABLE routing_metrics ENABLE TRIGGER trg_routing_metrics_rollup_insert"
        )
    finally:
        await admin.close()
    return rows_out


async def main(
    scale: int,
    repeats: int,
    *,
    reuse: bool,
    show_explain: bool,
    measure_contention: bool,
    rebuild: bool,
    only: set[str] | None = None,
    load_only: bool = False,
) -> None:
    server = os.environ.get("DATABASE_URL") or embedded_postgres.start(DATA_DIR)
    try:
        if not os.environ.get("DATABASE_URL"):
            await _tune_bench_server(server)
        name = f"bench_queries_x{scale}" + ("_partial" if only else "")
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        print(f"scale {scale}x the seeds' year-one volume", flush=True)
        if reuse:
            await migrate.upgrade_to_head_async(url)
        else:
            url = await _fresh_database(server, name)
            started = time.perf_counter()
            await load(url, scale, rebuild=rebuild, only=only)
            print(f"  load total {time.perf_counter() - started:.0f} s", flush=True)
        await settle(url)
        if load_only:
            return
        key = await _admin_key(url)
        port = _free_port()
        proc = _serve(url, port)
        try:
            base = f"http://127.0.0.1:{port}"
            await _wait_ready(base)
            results = await time_endpoints(base, key, await _endpoints(url), repeats)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        report: dict[str, Any] = {"scale": scale, "results": results}
        await finish_report(
            report,
            url,
            f"x{scale}",
            show_explain=show_explain,
            measure_contention=measure_contention,
        )
    finally:
        if not os.environ.get("DATABASE_URL"):
            embedded_postgres.stop(DATA_DIR)


def run(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench queries", description=__doc__)
    parser.add_argument("--scale", type=int, default=10, help="multiple of year-one volume")
    parser.add_argument("--repeats", type=int, default=40, help="timed requests per endpoint")
    parser.add_argument("--reuse", action="store_true", help="reuse the loaded database")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN (ANALYZE, BUFFERS)")
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="load with the rollup triggers off, then recompute the rollups once",
    )
    parser.add_argument(
        "--only", help="comma-separated tables to load (others stay empty), e.g. routing_metrics"
    )
    parser.add_argument(
        "--contention", action="store_true", help="concurrent writers, rollups on vs off"
    )
    parser.add_argument(
        "--load-only", action="store_true", help="load (and settle) the database, time nothing"
    )
    parser.add_argument(
        "--compare",
        help="comma-separated scales already loaded (e.g. 10,100,1000): time them side by "
        "side in interleaved rounds instead of loading",
    )
    args = parser.parse_args(argv)
    if args.compare:
        asyncio.run(
            main_compare(
                [int(x) for x in args.compare.split(",")],
                args.repeats,
                show_explain=args.explain,
                measure_contention=args.contention,
            )
        )
        return
    asyncio.run(
        main(
            args.scale,
            args.repeats,
            reuse=args.reuse,
            show_explain=args.explain,
            measure_contention=args.contention,
            rebuild=args.rebuild,
            only=set(args.only.split(",")) if args.only else None,
            load_only=args.load_only,
        )
    )
