"""Ingest benchmark: `POST /api/v1/feedback` against two reference servers in the same run,
and routing metrics in batches of 1000 against a raw COPY into the same table.

Every server is a separate uvicorn process with 1 worker on loopback, driven by `wrk`
(Debian's; `make bench` installs it) with 64 connections: the no-database ceiling
(`bench/ceiling_app.py`: the same body validation, no database), the synchronous
session-per-request ORM baseline (`bench/baseline_app.py`) and the service itself (real
ingest key, JSON logs and metrics on). Figures are printed, never asserted; a count
checks that every 2xx vote is in the database.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import shutil
import signal
import socket
import sys
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from app import embedded_postgres, migrate
from app.auth import service as auth_service
from app.auth.models import Scope
from app.config import Settings
from app.db import create_engine, make_sessionmaker

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / ".data" / "bench"
LUA = Path(__file__).resolve().parent / "vote.lua"
SECRET = "bench-feedback-token-secret-of-32-bytes!"

TARGET_CEILING_RATIO = 0.70
TARGET_P99_MS = 50.0
TARGET_BASELINE_RATIO = 8.0
TARGET_COPY_RATIO = 0.50


@dataclass
class WrkResult:
    label: str
    rate: float
    p50_ms: float
    p99_ms: float
    completed: int
    non_2xx: int
    socket_errors: int

    @property
    def ok_2xx(self) -> int:
        return self.completed - self.non_2xx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def fresh_database(server_url: str) -> str:
    """A new database on the server, migrated by Alembic; returns its URL."""
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = make_url(server_url).set(database="postgres").render_as_string(hide_password=False)
    conn = await asyncpg.connect(_asyncpg_dsn(admin))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    await migrate.upgrade_to_head_async(url)
    return url


async def _drop_database(server_url: str, url: str) -> None:
    admin = make_url(server_url).set(database="postgres").render_as_string(hide_password=False)
    conn = await asyncpg.connect(_asyncpg_dsn(admin))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    finally:
        await conn.close()


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(label: str, output: str) -> WrkResult:
    """The figures of `wrk --latency` output."""

    def latency(pct: str) -> float:
        found = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        return _ms(*found.groups()) if found else float("nan")

    completed = re.search(r"(\d+) requests in", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        label=label,
        rate=float(rate.group(1)) if rate else 0.0,
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        completed=int(completed.group(1)) if completed else 0,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
    )


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        sys.exit("wrk is not installed: `make bench` installs it (apt-get install -y wrk).")
    return found


async def run_wrk(
    label: str, url: str, *, seconds: float, connections: int, key: str | None
) -> WrkResult:
    env = {**os.environ, "BENCH_KEY": key or ""}
    process = await asyncio.create_subprocess_exec(
        wrk_binary(),
        "-t1",  # one C thread drives 64 connections far past these rates; cores go to servers
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(LUA),
        url,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    return parse_wrk(label, out.decode())


class Server:
    """One uvicorn process (1 worker) on a free loopback port."""

    def __init__(self, app_path: str, env: dict[str, str], log: Path) -> None:
        self.app_path = app_path
        self.env = env
        self.log = log
        self.port = _free_port()
        self.process: asyncio.subprocess.Process | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Server:
        self._log_file = self.log.open("wb")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "uvicorn",
            self.app_path,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--no-access-log",
            env={**os.environ, **self.env},
            cwd=ROOT,
            stdout=self._log_file,
            stderr=asyncio.subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(base_url=self.base) as http:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    raise RuntimeError(f"{self.app_path} exited: see {self.log}")
                try:
                    await http.get("/openapi.json")
                    return self
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.app_path} did not start")

    def rss_mb(self) -> float:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    async def __aexit__(self, *exc: object) -> None:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)  # graceful: the writer flushes
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self._log_file.close()


async def _count(url: str, table: str) -> int:
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


def _metric(i: int, run: str) -> dict[str, Any]:
    return {
        "request_id": f"bench-{run}-{i}",
        "strategy_used": "hybrid",
        "confidence": "high",
        "selected_provider": "openai",
        "selected_model": "gpt-4o-mini",
        "baseline_provider": "openai",
        "baseline_model": "gpt-4o",
        "baseline_cost": 0.0125,
        "actual_cost": 0.0011,
        "pattern_detected": "tax_question",
        "complexity_score": 0.42,
        "latency_ms": 100 + i % 900,
        "prompt_tokens": 950,
        "completion_tokens": 210,
    }


async def routing_batches(base: str, key: str, *, batches: int) -> float:
    """Rows/s of `POST /api/v1/routing/metrics` with 1000 items per request, 2 at a time."""
    run = uuid.uuid4().hex[:6]
    bodies = [{"items": [_metric(b * 1000 + i, run) for i in range(1000)]} for b in range(batches)]
    headers = {"Authorization": f"Bearer {key}"}
    pending = iter(bodies)
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:

        async def worker() -> None:
            for body in pending:
                response = await http.post("/api/v1/routing/metrics", json=body, headers=headers)
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(worker(), worker())
        elapsed = time.perf_counter() - started
    return batches * 1000 / elapsed


async def routing_copy(url: str, *, rows: int) -> float:
    """Rows/s of a raw COPY of the same rows into routing_metrics (one connection)."""
    run = uuid.uuid4().hex[:6]
    sample = _metric(0, run)
    columns = list(sample)
    records = []
    for i in range(rows):
        item = _metric(i, run)
        item["baseline_cost"] = Decimal(str(item["baseline_cost"]))
        item["actual_cost"] = Decimal(str(item["actual_cost"]))
        records.append(tuple(item[c] for c in columns))
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        started = time.perf_counter()
        for start in range(0, rows, 1000):
            await conn.copy_records_to_table(
                "routing_metrics", records=records[start : start + 1000], columns=columns
            )
        elapsed = time.perf_counter() - started
    finally:
        await conn.close()
    return rows / elapsed


def _row(label: str, r: WrkResult, ceiling: float, note: str = "") -> str:
    ratio = r.rate / ceiling if ceiling else float("nan")
    return (
        f"| {label} | {r.rate:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | {ratio:.2f} "
        f"| {r.ok_2xx:,} | {r.non_2xx + r.socket_errors:,} | {note} |"
    )


def _median(results: list[WrkResult]) -> WrkResult:
    """The round with the median rate (rounds interleave the servers, so a load spike on
    the shared machine hits each of them alike)."""
    return sorted(results, key=lambda r: r.rate)[len(results) // 2]


async def main(seconds: float, connections: int, batches: int, rounds: int = 3) -> int:
    server = os.environ.get("DATABASE_URL") or embedded_postgres.start(DATA_DIR)
    logs = DATA_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    url: str | None = None
    try:
        url = await fresh_database(server)
        settings = Settings.model_validate({"database_url": url, "feedback_token_secret": SECRET})
        engine = create_engine(settings, url)
        async with make_sessionmaker(engine)() as session:
            _, key = await auth_service.create_key(session, scope=Scope.ingest, name="bench")
            await session.commit()
        await engine.dispose()
        env = {"DATABASE_URL": url, "FEEDBACK_TOKEN_SECRET": SECRET, "LOG_JSON": "true"}
        print(
            f"ingest: wrk, {connections} connections, {seconds:g} s each after a 2 s warm-up, "
            f"1 uvicorn worker per server, {os.cpu_count()} cores, load average "
            f"{os.getloadavg()[0]:.1f}, "
            f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC\n",
            flush=True,
        )

        async def measure(
            label: str, app_path: str, with_key: bool
        ) -> tuple[WrkResult, int, float]:
            async with Server(app_path, env, logs / f"{label}.log") as srv:
                target = f"{srv.base}/api/v1/feedback"
                await run_wrk(label, target, seconds=2, connections=connections, key=key)
                before = await _count(url, "votes")
                result = await run_wrk(
                    label, target, seconds=seconds, connections=connections, key=key
                )
                rss = srv.rss_mb()
            stored = await _count(url, "votes") - before  # after SIGTERM: the writer flushed
            print(
                f"  {label:<9} {result.rate:>8,.0f} req/s  p99 {result.p99_ms:6.1f} ms  "
                f"2xx {result.ok_2xx:,}  stored {stored:,}  RSS {rss:.0f} MB",
                flush=True,
            )
            return result, stored, rss

        runs: dict[str, list[WrkResult]] = {"ceiling": [], "baseline": [], "service": []}
        service_runs: list[tuple[WrkResult, int, float]] = []
        for round_ in range(1, rounds + 1):
            print(f"round {round_}/{rounds}", flush=True)
            runs["ceiling"].append((await measure("ceiling", "bench.ceiling_app:app", False))[0])
            runs["baseline"].append((await measure("baseline", "bench.baseline_app:app", False))[0])
            service_runs.append(await measure("service", "app.main:app", True))
            runs["service"].append(service_runs[-1][0])
        ceiling, baseline = _median(runs["ceiling"]), _median(runs["baseline"])
        service = _median(runs["service"])
        stored = sum(s for _, s, _ in service_runs)
        acknowledged = sum(r.ok_2xx for r, _, _ in service_runs)
        rss = max(r for _, _, r in service_runs)

        async with Server("app.main:app", env, logs / "routing.log") as srv:
            batched = await routing_batches(srv.base, key, batches=batches)
        copied = await routing_copy(url, rows=batches * 1000)

        print(f"\nmedian of {rounds} interleaved rounds:\n")
        print("| server | req/s | p50 ms | p99 ms | of ceiling | 2xx | errors | note |")
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        print(_row("FastAPI, body validation only (ceiling)", ceiling, ceiling.rate))
        print(_row("sync session-per-request ORM, pool 40 (baseline)", baseline, ceiling.rate))
        print(
            _row(
                "`POST /api/v1/feedback` (group commit)",
                service,
                ceiling.rate,
                f"{service.rate / baseline.rate:.1f}x baseline" if baseline.rate else "",
            )
        )
        print()
        checks = [
            (
                f"votes ≥ {TARGET_CEILING_RATIO:.2f} of the ceiling",
                service.rate / ceiling.rate,
                service.rate / ceiling.rate >= TARGET_CEILING_RATIO,
            ),
            (f"p99 < {TARGET_P99_MS:g} ms", service.p99_ms, service.p99_ms < TARGET_P99_MS),
            (
                f"≥ {TARGET_BASELINE_RATIO:g}x the baseline",
                service.rate / baseline.rate,
                service.rate / baseline.rate >= TARGET_BASELINE_RATIO,
            ),
            (
                "every 2xx vote is in the database (all rounds: stored - acknowledged)",
                float(stored - acknowledged),
                stored >= acknowledged,
            ),
            (
                f"routing batches of 1000 ≥ {TARGET_COPY_RATIO:.0%} of COPY "
                f"({batched:,.0f} vs {copied:,.0f} rows/s)",
                batched / copied,
                batched / copied >= TARGET_COPY_RATIO,
            ),
            ("worker RSS < 150 MB after the run", rss, rss < 150),
        ]
        for name, value, met in checks:
            print(f"- {'met' if met else 'NOT met'}: {name} (measured {value:,.2f})")
        print(
            f"\n2xx acknowledged {acknowledged:,}, rows stored by those runs {stored:,} "
            "(≥: requests still in flight when wrk stopped are committed but not counted)"
        )
        return 0
    finally:
        if url is not None:  # each run builds its own database: do not let them pile up
            await _drop_database(server, url)
        if not os.environ.get("DATABASE_URL"):
            embedded_postgres.stop(DATA_DIR)


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--batches", type=int, default=30, help="routing batches of 1000")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    args = parser.parse_args(argv)
    return asyncio.run(main(args.seconds, args.connections, args.batches, args.rounds))


if __name__ == "__main__":
    raise SystemExit(cli())
