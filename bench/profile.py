"""Where a vote's CPU goes: the service under the ingest benchmark's wrk load, sampled by
py-spy (`python -m bench.profile`; `make profile`). Prints the share of the busy samples
spent in each part of the request pipeline (inclusive: a sample counts for every part on
its stack), the figures docs/benchmarks.md quotes. Printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

from app import embedded_postgres
from app.auth.models import Scope
from bench.ingest import (
    DATA_DIR,
    SECRET,
    Server,
    _drop_database,
    create_key,
    fresh_database,
    pin_postgres,
    pinning,
    run_wrk,
)

# (part, regex on one frame "function (file:line)"). A sample belongs to the part of its
# innermost frame that matches one (checked in this order), so the shares add up to 100 %
# and a middleware is charged for its own work, not for the app it wraps.
PARTS: list[tuple[str, str]] = [
    (
        "Pydantic body validation",
        r"(validate_python|validate_json|_validate_value|request_body_to_args) \(",
    ),
    ("access log (structlog + logging)", r"\((structlog/|logging/)"),
    ("metrics (prometheus_client)", r"\(prometheus_client/"),
    ("FastAPI routing + dependency solving", r"\(fastapi/"),
    ("Starlette routing, requests, responses", r"\(starlette/"),
    ("auth middleware", r"\(app/auth/"),
    ("request id + access line (app/observability.py)", r"\(app/observability\.py"),
    ("group-commit writer (app/writer.py)", r"\(app/writer\.py"),
    ("SQLAlchemy", r"\(sqlalchemy/"),
    ("asyncpg", r"\(asyncpg/"),
    ("votes (app/votes/)", r"\(app/votes/"),
    ("other app code (middleware, idempotency, errors)", r"\(app/"),
    ("uvicorn HTTP protocol (parse + send)", r"\(uvicorn/"),
]
OTHER = "event loop, asyncio and the rest"


def shares(raw: str) -> tuple[int, list[tuple[str, float]]]:
    """Total busy samples and each part's share of them, from py-spy's raw output."""
    total = 0
    hits: Counter[str] = Counter()
    compiled = [(name, re.compile(pattern)) for name, pattern in PARTS]
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        part = OTHER
        for frame in reversed(stack.split(";")):  # innermost first
            found = next((name for name, pattern in compiled if pattern.search(frame)), None)
            if found is not None:
                part = found
                break
        hits[part] += count
    names = [name for name, _ in PARTS] + [OTHER]
    return total, [(name, hits[name] / total if total else 0.0) for name in names]


async def main(seconds: float, connections: int, rate: int) -> int:
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if py_spy is None:
        sys.exit("py-spy is not installed (it is in the test extras: make install).")
    server = os.environ.get("DATABASE_URL") or embedded_postgres.start(DATA_DIR)
    logs = DATA_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    url: str | None = None
    try:
        url = await fresh_database(server)
        key = await create_key(url, Scope.ingest, "profile")
        env = {"DATABASE_URL": url, "FEEDBACK_TOKEN_SECRET": SECRET, "LOG_JSON": "true"}
        server_cpus, load_cpus = pinning()
        if not os.environ.get("DATABASE_URL"):
            pin_postgres(embedded_postgres.pgdata_dir(DATA_DIR), load_cpus)
        async with Server("app.main:app", env, logs / "profile.log", cpus=server_cpus) as srv:
            assert srv.process is not None
            target = f"{srv.base}/api/v1/feedback"
            await run_wrk("warm", target, seconds=2, connections=connections, key=key)
            out = DATA_DIR / "profile.raw"
            spy = await asyncio.create_subprocess_exec(
                py_spy,
                "record",
                "-r",
                str(rate),
                "-d",
                f"{seconds:g}",
                "-f",
                "raw",
                "-o",
                str(out),
                "-p",
                str(srv.process.pid),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            result = await run_wrk(
                "service",
                target,
                seconds=seconds,
                connections=connections,
                key=key,
                cpus=load_cpus,
            )
            await spy.wait()
        total, parts = shares(out.read_text())
        print(
            f"py-spy {rate} Hz, {seconds:g} s under wrk ({connections} connections): "
            f"{result.rate:,.0f} req/s, {total:,} busy samples, load average "
            f"{os.getloadavg()[0]:.1f}\n"
        )
        print("| part (innermost matching frame) | share of busy samples |")
        print("|---|---:|")
        for name, share in parts:
            print(f"| {name} | {share:.1%} |")
        print(f"\nraw stacks: {out}")
        return 0
    finally:
        if url is not None:
            await _drop_database(server, url)
        if not os.environ.get("DATABASE_URL"):
            embedded_postgres.stop(DATA_DIR)


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rate", type=int, default=200, help="samples per second")
    args = parser.parse_args(argv)
    return asyncio.run(main(args.seconds, args.connections, args.rate))


if __name__ == "__main__":
    raise SystemExit(cli())
