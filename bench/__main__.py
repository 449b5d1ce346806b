"""`make bench`: vote ingestion throughput against the framework's ceiling, same process.

Baseline: GET /healthz (routing, middleware, JSON; no database). Measured: POST
/api/v1/feedback (validation, auth, one INSERT, commit per request). Both run in-process
over httpx's ASGI transport with the same concurrency, on a fresh database built by
Alembic (the embedded PostgreSQL unless DATABASE_URL is set). Figures are printed, never
asserted: speed is measured, not tested.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from app import embedded_postgres, migrate
from app.auth import service as auth_service
from app.auth.models import Scope
from app.config import Settings
from app.main import create_app

DATA_DIR = Path(".data/bench")


async def _fresh_database(server_url: str) -> str:
    admin = make_url(server_url).set(drivername="postgresql", database="postgres")
    name = f"bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    await migrate.upgrade_to_head_async(url)
    return url


async def _run(
    label: str, send: Callable[[int], Awaitable[httpx.Response]], total: int, concurrency: int
) -> float:
    latencies: list[float] = []
    counter = iter(range(total))
    failures = 0

    async def worker() -> None:
        nonlocal failures
        for i in counter:
            started = time.perf_counter()
            response = await send(i)
            latencies.append(time.perf_counter() - started)
            if response.status_code >= 400:
                failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    rate = total / elapsed
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    print(
        f"{label:<28} {rate:>8.0f} req/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms"
        f"   errors {failures}"
    )
    return rate


async def main(total: int, concurrency: int) -> None:
    server = os.environ.get("DATABASE_URL") or embedded_postgres.start(DATA_DIR)
    try:
        url = await _fresh_database(server)
        settings = Settings.model_validate(
            {"database_url": url, "feedback_token_secret": "bench", "rate_limit_per_minute": 0}
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            async with AsyncSession(app.state.engine) as session:
                _, key = await auth_service.create_key(session, scope=Scope.ingest)
                await session.commit()
            headers = {"Authorization": f"Bearer {key}"}
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                print(f"{total} requests, {concurrency} concurrent, in-process ASGI\n")
                ceiling = await _run(
                    "GET /healthz (baseline)", lambda i: http.get("/healthz"), total, concurrency
                )
                votes = await _run(
                    "POST /api/v1/feedback",
                    lambda i: http.post(
                        "/api/v1/feedback",
                        headers=headers,
                        json={
                            "conversation_id": f"c{i % 500}",
                            "vote": "up" if i % 3 else "down",
                            "reasons": ["fast"],
                        },
                    ),
                    total,
                    concurrency,
                )
        print(f"\nvotes reach {votes / ceiling:.0%} of the framework ceiling")
    finally:
        if not os.environ.get("DATABASE_URL"):
            embedded_postgres.stop(DATA_DIR)


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["queries"]:  # query timings at scale (bench/queries.py)
        from bench import queries

        queries.run(sys.argv[2:])
        raise SystemExit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.concurrency))
