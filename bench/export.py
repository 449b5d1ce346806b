"""Export memory benchmark: `GET /api/v1/export/votes` of 1M rows must not grow the worker.

Issue 13's memory target: exporting 1M rows grows the worker's RSS by < 50 MB. The export
streams from a server-side cursor in chunks, so memory should stay flat whatever the row
count; this measures it. The rows are loaded server-side (`generate_series`, one INSERT,
the rollup triggers included), the service runs as its own uvicorn process (1 worker, JSON
logs), and a sampler reads the worker's VmRSS every 50 ms while the client drains the
stream. Figures are printed, never asserted.

    python -m bench export [--rows 1000000] [--format csv|ndjson|both]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import time

import asyncpg
import httpx

from app import embedded_postgres
from app.auth.models import Scope
from bench.ingest import (
    DATA_DIR,
    SECRET,
    Server,
    _asyncpg_dsn,
    _drop_database,
    create_key,
    fresh_database,
)

TARGET_GROWTH_MB = 50.0

# A realistic vote: a conversation per row, every other one with a user, reasons and a
# comment, spread over the last 20 days (inside the export's window).
LOAD_VOTES = """
INSERT INTO votes (id, conversation_id, vote, user_id, email, reasons, comment, created_at)
SELECT gen_random_uuid(), 'conv-' || g,
       (CASE WHEN g % 3 = 0 THEN 'down' ELSE 'up' END)::vote_direction,
       NULL, CASE WHEN g % 2 = 0 THEN 'user' || g || '@example.com' END,
       CASE WHEN g % 3 = 0 THEN ARRAY['inaccurate', 'too_long'] ELSE ARRAY[]::text[] END,
       CASE WHEN g % 2 = 0 THEN 'The answer cited the 2023 rate; row ' || g END,
       now() - make_interval(secs => (g % 1728000)::float8)
FROM generate_series(1, $1) AS g
"""


async def _load_votes(url: str, rows: int) -> float:
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        started = time.perf_counter()
        for start in range(0, rows, 250_000):  # chunks keep one statement's WAL modest
            await conn.execute(LOAD_VOTES, min(250_000, rows - start))
        await conn.execute("ANALYZE votes")
        return time.perf_counter() - started
    finally:
        await conn.close()


async def _export_once(srv: Server, key: str, fmt: str) -> dict[str, float]:
    """Drain one export while sampling the worker's RSS; the figures of that run."""
    peak = before = srv.rss_mb()
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, srv.rss_mb())
            await asyncio.sleep(0.05)

    window = {
        "from": (dt.datetime.now(dt.UTC) - dt.timedelta(days=25)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "format": fmt,
    }
    lines = size = 0
    sampler = asyncio.create_task(sample())
    started = time.perf_counter()
    async with (
        httpx.AsyncClient(base_url=srv.base, timeout=600) as http,
        http.stream(
            "GET",
            "/api/v1/export/votes",
            params=window,
            headers={"Authorization": f"Bearer {key}"},
        ) as response,
    ):
        response.raise_for_status()
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            lines += chunk.count(b"\n")
    elapsed = time.perf_counter() - started
    done.set()
    await sampler
    rows = lines - 1 if fmt == "csv" else lines  # CSV has a header line
    return {
        "rows": rows,
        "mb": size / 1e6,
        "seconds": elapsed,
        "before": before,
        "peak": peak,
        "after": srv.rss_mb(),
    }


async def main(rows: int, formats: list[str]) -> int:
    server = os.environ.get("DATABASE_URL") or embedded_postgres.start(DATA_DIR)
    logs = DATA_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    url = await fresh_database(server)
    try:
        key = await create_key(url, Scope.admin, "bench")
        load_seconds = await _load_votes(url, rows)
        print(
            f"export: {rows:,} votes loaded in {load_seconds:.0f} s; 1 uvicorn worker, "
            f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
            f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC\n",
            flush=True,
        )
        env = {"DATABASE_URL": url, "FEEDBACK_TOKEN_SECRET": SECRET, "LOG_JSON": "true"}
        results = []
        async with Server("app.main:app", env, logs / "export.log") as srv:
            # Warm the worker (imports, pool, first statements) before the baseline RSS.
            async with httpx.AsyncClient(base_url=srv.base) as http:
                for _ in range(3):
                    await http.get(
                        "/api/v1/export/votes",
                        params={"from": "2000-01-01", "to": "2000-01-02"},
                        headers={"Authorization": f"Bearer {key}"},
                    )
            for fmt in formats:
                results.append((fmt, await _export_once(srv, key, fmt)))
        print("| format | rows | MB sent | s | rows/s | RSS before | peak | growth | < 50 MB |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for fmt, r in results:
            growth = r["peak"] - r["before"]
            print(
                f"| {fmt} | {r['rows']:,.0f} | {r['mb']:,.0f} | {r['seconds']:.1f} "
                f"| {r['rows'] / r['seconds']:,.0f} | {r['before']:.0f} MB | {r['peak']:.0f} MB "
                f"| {growth:+.1f} MB | {'met' if growth < TARGET_GROWTH_MB else 'NOT met'} |"
            )
        missing = [fmt for fmt, r in results if r["rows"] != rows]
        if missing:
            print(f"row count differs from {rows:,} for: {', '.join(missing)}")
        return 1 if missing else 0
    finally:
        await _drop_database(server, url)


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench export", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--format", choices=["csv", "ndjson", "both"], default="both")
    args = parser.parse_args(argv)
    formats = ["csv", "ndjson"] if args.format == "both" else [args.format]
    return asyncio.run(main(args.rows, formats))


if __name__ == "__main__":
    import sys

    raise SystemExit(cli(sys.argv[1:]))
