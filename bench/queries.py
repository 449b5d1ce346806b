"""`python -m bench queries`: query timings at a multiple of the seeds' year-one volume.

Loads realistic rows with server-side `generate_series` (the rollup triggers fire on
every chunk, as they would for a batched writer), then times each read endpoint through
HTTP (a uvicorn subprocess on loopback), warm, and prints p50/p95 per endpoint. With
`--explain`, prints `EXPLAIN (ANALYZE, BUFFERS)` of each analytics statement.

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


async def load(
    url: str, scale: int, *, rebuild: bool, only: set[str] | None = None
) -> dict[str, float]:
    """Load every table at `scale`; returns seconds per table. With `rebuild`, the rollup
    triggers are off during the load and the rollups are recomputed once at the end (the
    migration's backfill), which is faster for millions of rows."""
    counts = _counts(scale)
    timings: dict[str, float] = {}
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        await conn.execute("SET synchronous_commit = off")  # bulk load only, not the service
        if rebuild:
            await _set_rollup_triggers(conn, enabled=False)
        for table, sql in _loaders():
            if only is not None and table not in only:
                continue
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
        if rebuild:
            started = time.perf_counter()
            for table, statement in zip(
                analytics_triggers.ROLLUP_TABLES,
                analytics_triggers.backfill_statements(),
                strict=True,
            ):
                await conn.execute(f"DELETE FROM {table}")
                await conn.execute(statement)
            await _set_rollup_triggers(conn, enabled=True)
            timings["rollups (rebuild)"] = time.perf_counter() - started
            print(f"  rebuilt rollups in {timings['rollups (rebuild)']:6.1f} s", flush=True)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return timings


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
        "FEEDBACK_TOKEN_SECRET": "bench",
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
    settings = Settings.model_validate({"database_url": url, "feedback_token_secret": "bench"})
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
        ("analytics/routing/regret (not rolled up)", "/api/v1/analytics/routing/regret", {}),
    ]


def _affordable(
    endpoints: list[tuple[str, str, dict[str, str]]], scale: int
) -> list[tuple[str, str, dict[str, str]]]:
    # The un-rolled-up regret takes ~35 s a request at 1000x: left out there.
    return [e for e in endpoints if scale < 1000 or "not rolled up" not in e[0]]


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
            # The un-rolled-up endpoint takes seconds at 100x: fewer samples.
            for _ in range(5 if "not rolled up" in label else repeats):
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
        ("routing by provider", analytics_queries.routing_statement(parts, "provider")),
        ("routing latency by provider", analytics_queries.latency_statement(parts, "provider")),
        (
            "recommendations",
            analytics_queries.recommendation_statement(parts, pattern="tax_question", band=None),
        ),
        ("cache", analytics_queries.cache_statement(parts)),
        ("experts by type/category", analytics_queries.expert_feedback_statement(parts)),
    ]
    settings = Settings.model_validate({"database_url": url, "feedback_token_secret": "bench"})
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
                    deadline = time.perf_counter() + seconds
                    started = time.perf_counter()
                    per_writer = await asyncio.gather(
                        *(_write_until(dsn, sql, batch, deadline) for _ in range(writers))
                    )
                    latencies = [x for samples in per_writer for x in samples]
                    elapsed = time.perf_counter() - started
                    latencies.sort()
                    row = {
                        "table": table,
                        "rollups": enabled,
                        "writers": writers,
                        "rows_per_s": len(latencies) * batch / elapsed,
                        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
                    }
                    rows_out.append(row)
                    print(
                        f"  {table:<16} rollups {'on ' if enabled else 'off'} writers "
                        f"{writers:>2}: {row['rows_per_s']:8.0f} rows/s   p99 "
                        f"{row['p99_ms']:6.1f} ms",
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
) -> None:
    server = os.environ.get("DATABASE_URL") or embedded_postgres.start(DATA_DIR)
    try:
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
        key = await _admin_key(url)
        port = _free_port()
        proc = _serve(url, port)
        try:
            base = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(timeout=1) as probe:
                for _ in range(300):
                    try:
                        await probe.get(f"{base}/healthz")
                        break
                    except httpx.HTTPError:
                        await asyncio.sleep(0.1)
            results = await time_endpoints(
                base, key, _affordable(await _endpoints(url), scale), repeats
            )
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        report: dict[str, Any] = {"scale": scale, "results": results}
        if show_explain:
            report["explain"] = await explain(url)
            for label, plan in report["explain"]:
                print(f"\n### {label}\n{plan}")
        if measure_contention:
            # Runs last: it adds rows to the current hour of the benchmark database.
            report["contention"] = await contention(url)
        out = DATA_DIR / f"queries-x{scale}-{uuid.uuid4().hex[:6]}.json"
        out.write_text(json.dumps(report, indent=2))
        print(f"\nsaved {out}")
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
    args = parser.parse_args(argv)
    asyncio.run(
        main(
            args.scale,
            args.repeats,
            reuse=args.reuse,
            show_explain=args.explain,
            measure_contention=args.contention,
            rebuild=args.rebuild,
            only=set(args.only.split(",")) if args.only else None,
        )
    )
