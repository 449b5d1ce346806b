"""Pieces the benchmarks share: a fresh Alembic-built database on the benchmark server and
an in-process load loop that prints req/s and latency percentiles."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx

from bench.ingest import DATA_DIR, fresh_database

__all__ = ["DATA_DIR", "fresh_database", "run_load"]


async def run_load(
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
