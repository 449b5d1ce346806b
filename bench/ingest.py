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
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
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
    # CPU time per completed request, measured around the run (see `measure`): robust on a
    # shared machine, where req/s moves with the neighbours' load.
    server_cpu_us: float = float("nan")
    db_cpu_us: float = float("nan")

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


async def create_key(url: str, scope: Scope, name: str) -> str:
    """A new API key of `scope` in the benchmark's database; its secret."""
    settings = Settings.model_validate({"database_url": url, "feedback_token_secret": SECRET})
    engine = create_engine(settings, url)
    try:
        async with make_sessionmaker(engine)() as session:
            _, key = await auth_service.create_key(session, scope=scope, name=name)
            await session.commit()
    finally:
        await engine.dispose()
    return key


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


def pinning(enabled: bool = True) -> tuple[str | None, str | None]:
    """CPUs for (the server under test, wrk + PostgreSQL): one core each when the machine
    has two or more and `taskset` exists, so the three servers meet the same split; else
    no pinning."""
    if not enabled or (os.cpu_count() or 1) < 2 or shutil.which("taskset") is None:
        return None, None
    return "0", "1"


def _taskset(cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus] if cpus is not None else []


def pin_postgres(data_dir: Path, cpus: str | None) -> None:
    """Move the embedded PostgreSQL (postmaster and every backend) to `cpus`; backends
    forked later inherit the postmaster's affinity."""
    if cpus is None:
        return
    pid_file = data_dir / "postmaster.pid"
    if not pid_file.exists():
        return
    postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
    wanted = [int(c) for c in cpus.split(",")]
    for process in [postmaster, *postmaster.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a backend that just exited
            process.cpu_affinity(wanted)


def postgres_cpu_seconds(data_dir: Path) -> float:
    """User + system CPU of the embedded PostgreSQL (postmaster and backends) so far; NaN
    for an external server (DATABASE_URL), whose processes the benchmark cannot see."""
    pid_file = data_dir / "postmaster.pid"
    if not pid_file.exists():
        return float("nan")
    total = 0.0
    postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
    for process in [postmaster, *postmaster.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        sys.exit("wrk is not installed: `make bench` installs it (apt-get install -y wrk).")
    return found


async def run_wrk(
    label: str,
    url: str,
    *,
    seconds: float,
    connections: int,
    key: str | None,
    cpus: str | None = None,
) -> WrkResult:
    env = {**os.environ, "BENCH_KEY": key or ""}
    process = await asyncio.create_subprocess_exec(
        *_taskset(cpus),
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

    def __init__(
        self, app_path: str, env: dict[str, str], log: Path, *, cpus: str | None = None
    ) -> None:
        self.cpus = cpus
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
            *_taskset(self.cpus),
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

    def cpu_seconds(self) -> float:
        """User + system CPU the server process has used so far."""
        assert self.process is not None
        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)

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
    """Rows/s of `POST /api/v1/routing/metrics` with 1000 items per request, 2 at a time.
    The bodies are encoded before the clock starts (the client's JSON is not the server's)."""
    run = uuid.uuid4().hex[:6]
    bodies = [
        json.dumps({"items": [_metric(b * 1000 + i, run) for i in range(1000)]}).encode()
        for b in range(batches)
    ]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    pending = iter(bodies)
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:

        async def worker() -> None:
            for body in pending:
                response = await http.post("/api/v1/routing/metrics", content=body, headers=headers)
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


async def routing_rounds(
    url: str,
    env: dict[str, str],
    key: str,
    *,
    batches: int,
    rounds: int,
    log: Path,
    cpus: str | None = None,
) -> tuple[float, float, list[tuple[float, float]]]:
    """Batches through the service and raw COPY, interleaved `rounds` times on one server
    (a load spike on the shared machine hits both alike); the medians and every round."""
    pairs: list[tuple[float, float]] = []
    default = Settings.model_fields["writer_concurrency"].default
    loops = os.environ.get("WRITER_CONCURRENCY", f"{default} (default)")
    print(f"routing: 2 clients x 1000-item batches, writer loops {loops}; COPY: 1 connection")
    async with Server("app.main:app", env, log, cpus=cpus) as srv:
        await routing_batches(srv.base, key, batches=2)  # warm-up: statement caches, pool
        for round_ in range(1, rounds + 1):
            batched = await routing_batches(srv.base, key, batches=batches)
            copied = await routing_copy(url, rows=batches * 1000)
            pairs.append((batched, copied))
            print(
                f"  routing round {round_}/{rounds}: batches {batched:,.0f} rows/s, "
                f"COPY {copied:,.0f} rows/s ({batched / copied:.2f}), "
                f"load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    batched_median = statistics.median(b for b, _ in pairs)
    copied_median = statistics.median(c for _, c in pairs)
    return batched_median, copied_median, pairs


def _row(label: str, r: WrkResult, ceiling: WrkResult, note: str = "") -> str:
    ratio = r.rate / ceiling.rate if ceiling.rate else float("nan")
    cpu_ratio = ceiling.server_cpu_us / r.server_cpu_us if r.server_cpu_us else float("nan")
    return (
        f"| {label} | {r.rate:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | {ratio:.2f} "
        f"| {r.server_cpu_us:,.0f} | {cpu_ratio:.2f} | {r.db_cpu_us:,.0f} "
        f"| {r.ok_2xx:,} | {r.non_2xx + r.socket_errors:,} | {note} |"
    )


TABLE_HEAD = (
    "| server | req/s | p50 ms | p99 ms | of ceiling | server CPU µs/req | of ceiling (CPU) "
    "| PostgreSQL CPU µs/req | 2xx | errors | note |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)


def _median(results: list[WrkResult]) -> WrkResult:
    """The round with the median rate (rounds interleave the servers, so a load spike on
    the shared machine hits each of them alike)."""
    return sorted(results, key=lambda r: r.rate)[len(results) // 2]


IDLE_SECONDS = 1.0


async def main(
    seconds: float,
    connections: int,
    batches: int,
    rounds: int = 3,
    pin: bool = True,
    low_connections: int = 4,
    only: str | None = None,
) -> int:
    server = os.environ.get("DATABASE_URL") or embedded_postgres.start(DATA_DIR)
    server_cpus, load_cpus = pinning(pin)
    pgdata = embedded_postgres.pgdata_dir(DATA_DIR)
    if not os.environ.get("DATABASE_URL"):
        pin_postgres(pgdata, load_cpus)
    logs = DATA_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    url: str | None = None
    try:
        url = await fresh_database(server)
        key = await create_key(url, Scope.ingest, "bench")
        env = {"DATABASE_URL": url, "FEEDBACK_TOKEN_SECRET": SECRET, "LOG_JSON": "true"}
        print(
            f"ingest: wrk, {connections} connections, {seconds:g} s each after a 2 s warm-up, "
            f"1 uvicorn worker per server, {os.cpu_count()} cores, "
            + (
                f"server pinned to CPU {server_cpus}, wrk and PostgreSQL to CPU {load_cpus}, "
                if server_cpus is not None
                else "no CPU pinning, "
            )
            + "load average "
            f"{os.getloadavg()[0]:.1f}, "
            f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC\n",
            flush=True,
        )
        if only == "routing":
            return await _routing_only(
                url, env, key, batches=batches, rounds=rounds, logs=logs, cpus=server_cpus
            )

        async def measure(label: str, app_path: str) -> tuple[WrkResult, WrkResult, int, float]:
            async with Server(app_path, env, logs / f"{label}.log", cpus=server_cpus) as srv:
                target = f"{srv.base}/api/v1/feedback"

                async def load(seconds_: float, connections_: int) -> WrkResult:
                    cpu, db_cpu = srv.cpu_seconds(), postgres_cpu_seconds(pgdata)
                    result = await run_wrk(
                        label,
                        target,
                        seconds=seconds_,
                        connections=connections_,
                        key=key,
                        cpus=load_cpus,
                    )
                    # Requests whose client wrk dropped at its end are still being served
                    # (and counted by the in-flight limit): let them finish first.
                    await asyncio.sleep(IDLE_SECONDS)
                    if result.completed:
                        result.server_cpu_us = (srv.cpu_seconds() - cpu) / result.completed * 1e6
                        db_used = postgres_cpu_seconds(pgdata) - db_cpu
                        result.db_cpu_us = db_used / result.completed * 1e6
                    return result

                await load(2, connections)  # warm-up
                before = await _count(url, "votes")
                result = await load(seconds, connections)
                low = await load(max(2, round(seconds / 2)), low_connections)
                rss = srv.rss_mb()
            stored = await _count(url, "votes") - before  # after SIGTERM: the writer flushed
            print(
                f"  {label:<9} {result.rate:>8,.0f} req/s  p99 {result.p99_ms:6.1f} ms  "
                f"2xx {result.ok_2xx:,}  stored {stored:,}  RSS {rss:.0f} MB  "
                f"CPU {result.server_cpu_us:,.0f} µs/req (PostgreSQL {result.db_cpu_us:,.0f}); "
                f"{low_connections} connections: {low.rate:,.0f} req/s p99 {low.p99_ms:.1f} ms",
                flush=True,
            )
            return result, low, stored, rss

        runs: dict[str, list[WrkResult]] = {"ceiling": [], "baseline": [], "service": []}
        lows: dict[str, list[WrkResult]] = {"ceiling": [], "baseline": [], "service": []}
        service_runs: list[tuple[WrkResult, WrkResult, int, float]] = []
        servers = [
            ("ceiling", "bench.ceiling_app:app"),
            ("baseline", "bench.baseline_app:app"),
            ("service", "app.main:app"),
        ]
        for round_ in range(1, rounds + 1):
            print(f"round {round_}/{rounds}", flush=True)
            for label, app_path in servers:
                measured = await measure(label, app_path)
                runs[label].append(measured[0])
                lows[label].append(measured[1])
                if label == "service":
                    service_runs.append(measured)
        ceiling, baseline = _median(runs["ceiling"]), _median(runs["baseline"])
        service = _median(runs["service"])
        cpu_per_request = {
            label: statistics.median(r.server_cpu_us for r in results)
            for label, results in runs.items()
        }
        stored = sum(s for _, _, s, _ in service_runs)
        acknowledged = sum(r.ok_2xx + low.ok_2xx for r, low, _, _ in service_runs)
        rss = max(r for _, _, _, r in service_runs)

        batched, copied, _ = await routing_rounds(
            url,
            env,
            key,
            batches=batches,
            rounds=rounds,
            log=logs / "routing.log",
            cpus=server_cpus,
        )

        print(f"\nmedian of {rounds} interleaved rounds:\n")
        print(TABLE_HEAD)
        print(_row("FastAPI, body validation only (ceiling)", ceiling, ceiling))
        print(_row("sync session-per-request ORM, pool 40 (baseline)", baseline, ceiling))
        print(
            _row(
                "`POST /api/v1/feedback` (group commit)",
                service,
                ceiling,
                f"{service.rate / baseline.rate:.1f}x baseline" if baseline.rate else "",
            )
        )
        print(f"\nthe same servers at {low_connections} connections (median of the rounds):\n")
        print(TABLE_HEAD)
        low_ceiling = _median(lows["ceiling"])
        for label in ("ceiling", "baseline", "service"):
            print(_row(label, _median(lows[label]), low_ceiling))
        print(
            f"\nLittle's law at {connections} connections: mean latency = {connections} / "
            f"throughput = {connections / service.rate * 1000:.0f} ms at the service's "
            f"{service.rate:,.0f} req/s; a {TARGET_P99_MS:g} ms p99 needs more than "
            f"{connections / TARGET_P99_MS * 1000:,.0f} req/s.\n"
            if service.rate
            else ""
        )
        checks = [
            (
                f"votes ≥ {TARGET_CEILING_RATIO:.2f} of the ceiling",
                service.rate / ceiling.rate,
                service.rate / ceiling.rate >= TARGET_CEILING_RATIO,
            ),
            (
                f"votes ≥ {TARGET_CEILING_RATIO:.2f} of the ceiling by server CPU per request "
                "(medians of the rounds)",
                cpu_per_request["ceiling"] / cpu_per_request["service"],
                cpu_per_request["ceiling"] / cpu_per_request["service"] >= TARGET_CEILING_RATIO,
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


async def _routing_only(
    url: str,
    env: dict[str, str],
    key: str,
    *,
    batches: int,
    rounds: int,
    logs: Path,
    cpus: str | None = None,
) -> int:
    """`--only routing`: the routing rows of the report alone, `rounds` interleaved rounds."""
    batched, copied, pairs = await routing_rounds(
        url, env, key, batches=batches, rounds=rounds, log=logs / "routing.log", cpus=cpus
    )
    ratios = ", ".join(f"{b / c:.2f}" for b, c in pairs)
    met = "met" if batched / copied >= TARGET_COPY_RATIO else "NOT met"
    print(
        f"\nmedian of {rounds} interleaved rounds: batches of 1000 {batched:,.0f} rows/s, "
        f"COPY {copied:,.0f} rows/s = {batched / copied:.2f} (rounds: {ratios}); "
        f"{met}: ≥ {TARGET_COPY_RATIO:.0%} of COPY; load average {os.getloadavg()[0]:.1f}"
    )
    return 0


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--batches", type=int, default=30, help="routing batches of 1000")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument(
        "--no-pin", action="store_true", help="do not pin servers and wrk to separate cores"
    )
    parser.add_argument(
        "--only", choices=["routing"], default=None, help="run one part: routing batches vs COPY"
    )
    parser.add_argument(
        "--low-connections",
        type=int,
        default=4,
        help="a second, shorter run at this concurrency, where latency means something",
    )
    args = parser.parse_args(argv)
    return asyncio.run(
        main(
            args.seconds,
            args.connections,
            args.batches,
            args.rounds,
            pin=not args.no_pin,
            low_connections=args.low_connections,
            only=args.only,
        )
    )


if __name__ == "__main__":
    raise SystemExit(cli())
