"""`python -m bench.quality`: what the quality-loop triggers cost the vote write path, and
how fast the queue and calibration read at volume. Figures are printed, never asserted.

Baseline and measured run on the same fresh database (built by Alembic), alternating: the
baseline inserts into `votes_baseline` (`LIKE votes INCLUDING ALL`: same columns and
indexes, no trigger), the measured run into `votes`. Multi-row batches are the batched
writer's shape, single-row autocommit INSERTs today's request path. Then the review queue
and calibration are timed over the loaded volume.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

import asyncpg
from sqlalchemy.engine import make_url

from app import embedded_postgres
from bench.common import DATA_DIR, fresh_database

BATCH_SQL = """
INSERT INTO {table} (conversation_id, vote, query_id, reasons)
SELECT 'c' || ($1::bigint + g) % $3,
       CASE WHEN random() < 0.4 THEN 'down' ELSE 'up' END::vote_direction,
       ('00000000-0000-4000-8000-' || lpad(((($1::bigint + g) * 7919) % $4)::text, 12, '0'))::uuid,
       CASE WHEN random() < 0.3 THEN ARRAY['outdated'] ELSE '{{}}'::text[] END
FROM generate_series(1, $2) g
"""


async def _interleaved(
    conn: asyncpg.Connection, *, rows: int, batch: int, convs: int, queries: int, rounds: int
) -> tuple[float, float]:
    """rows/s into `votes` (with the triggers) and into `votes_baseline` (same columns and
    indexes, no trigger), alternating so both see the same machine load and table size."""
    elapsed = {"votes": 0.0, "votes_baseline": 0.0}
    per_round = rows // rounds
    for r in range(rounds):
        for table in ("votes_baseline", "votes"):
            began = time.perf_counter()
            for offset in range(r * per_round, (r + 1) * per_round, batch):
                await conn.execute(BATCH_SQL.format(table=table), offset, batch, convs, queries)
            elapsed[table] += time.perf_counter() - began
    done = per_round * rounds
    return done / elapsed["votes"], done / elapsed["votes_baseline"]


async def _timed(conn: asyncpg.Connection, sql: str, *args: object, runs: int = 15) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        await conn.fetch(sql, *args)
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


async def main(rows: int, batch: int, singles: int) -> None:
    server = os.environ.get("DATABASE_URL") or embedded_postgres.start(DATA_DIR)
    try:
        url = await fresh_database(server)
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(dsn)
        # ~10 % of votes change an earlier vote of the same conversation on the same answer.
        convs, queries = rows * 9 // 10, rows // 10
        try:
            await conn.execute("CREATE TABLE votes_baseline (LIKE votes INCLUDING ALL)")
            with_batch, base_batch = await _interleaved(
                conn, rows=rows, batch=batch, convs=convs, queries=queries, rounds=10
            )
            with_single, base_single = await _interleaved(
                conn, rows=singles, batch=1, convs=10**9, queries=queries, rounds=10
            )
            await conn.execute("DROP TABLE votes_baseline")
            print(
                f"multi-row INSERT ({batch} rows/statement): {base_batch:,.0f} rows/s without "
                f"the trigger, {with_batch:,.0f} with it ({with_batch / base_batch:.0%})"
            )
            print(
                f"single-row INSERTs: {base_single:,.0f}/s without, {with_single:,.0f}/s "
                f"with ({with_single / base_single:.0%})"
            )

            await conn.execute("INSERT INTO users (id) VALUES (1)")
            expert = await conn.fetchval(
                "INSERT INTO expert_profiles (user_id) VALUES (1) RETURNING id"
            )
            await conn.execute(
                "INSERT INTO expert_feedback (query_id, expert_id, feedback_type, category, "
                "query_text, original_answer, expert_answer, confidence_score, "
                "time_spent_seconds) SELECT query_id, $1, "
                "(ARRAY['correct','incomplete','incorrect'])[1 + abs(hashtext(query_id::text)) "
                "% 3]::feedback_type, 'caso_mancante', 'q', 'a', 'b', 0.8, 60 "
                "FROM query_signals WHERE down_votes > 0 ORDER BY query_id LIMIT $2",
                expert,
                queries // 5,
            )
            await conn.execute("ANALYZE")
            counts = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM votes) AS votes, "
                "(SELECT count(*) FROM query_signals) AS queries, "
                "(SELECT count(*) FROM expert_feedback) AS reviews"
            )
            print(
                f"volume: {counts['votes']:,} votes, {counts['queries']:,} queries, "
                f"{counts['reviews']:,} reviews"
            )
            queue = (
                "SELECT query_id, down_votes, up_votes, reasons, priority FROM query_signals "
                "WHERE first_reviewed_at IS NULL AND down_votes > 0 {} "
                "ORDER BY priority DESC, query_id LIMIT 51"
            )
            print(f"review queue first page: {await _timed(conn, queue.format('')):.2f} ms")
            deep = await conn.fetchrow(
                "SELECT priority, query_id FROM query_signals WHERE first_reviewed_at IS NULL "
                "AND down_votes > 0 ORDER BY priority DESC, query_id OFFSET 5000 LIMIT 1"
            )
            cursor = "AND priority <= $1 AND (priority < $1 OR query_id > $2)"
            ms = await _timed(conn, queue.format(cursor), deep["priority"], deep["query_id"])
            print(f"review queue page after 5000 rows (keyset): {ms:.2f} ms")
            from app.quality.service import _CALIBRATION_SQL

            calibration = (
                _CALIBRATION_SQL.replace(
                    "CAST(:start AS timestamptz)", "now() - interval '30 days'"
                )
                .replace("CAST(:end AS timestamptz)", "now()")
                .replace("CAST(:top AS integer)", "50")
            )
            print(f"calibration, 30 days: {await _timed(conn, calibration):.2f} ms")
        finally:
            await conn.close()
    finally:
        if not os.environ.get("DATABASE_URL"):
            embedded_postgres.stop(DATA_DIR)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--singles", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.batch, args.singles))
