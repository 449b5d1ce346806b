"""A live service for browser work: uvicorn in a subprocess on 127.0.0.1 (a free port) on a
database holding the demo data, and Debian's chromium launched through playwright.

Shared by the browser tests' fixture and `make screenshots`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app import demo_data
from app.auth import service as auth_service
from app.auth.models import Scope
from app.config import Settings
from app.db import make_sessionmaker

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/lib/chromium/chromium"
# stack-notes: playwright's own browser download fails here; these flags keep Debian's
# chromium quiet and offline.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
WIDTHS = {"desktop": 1280, "mobile": 390}
START_TIMEOUT_SECONDS = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def prepare_demo_database(engine: AsyncEngine) -> str:
    """Load the demo rows (through the same code as `feedback-service demo-data`) and
    create an admin key; returns the key's secret."""
    await demo_data.load_demo_data(
        engine,
        auto_approval_threshold=Settings.model_fields["expert_auto_approval_threshold"].default,
    )
    # Fresh bulk-loaded tables have no planner statistics until autovacuum gets to them;
    # without them the analytics plans take seconds instead of milliseconds.
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(sa.text("ANALYZE"))
    async with make_sessionmaker(engine)() as session:
        _, secret = await auth_service.create_key(session, scope=Scope.admin, name="dashboard")
        await session.commit()
    return secret


@contextlib.contextmanager
def live_server(
    database_url: str, token_secret: str, log_path: Path, env: dict[str, str] | None = None
) -> Iterator[str]:
    """uvicorn serving the app on a free loopback port; yields its base URL. `env`
    adds or overrides settings (the hostile and topology tests)."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "FEEDBACK_TOKEN_SECRET": token_secret,
        "RATE_LIMIT_PER_MINUTE": "0",
        "LOG_JSON": "true",
        **(env or {}),
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(base, process, log_path)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _wait_ready(base: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    with httpx.Client(base_url=base, timeout=5) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited: {log_path.read_text()[-2000:]}")
            try:
                if http.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise RuntimeError("uvicorn did not become ready")


def chromium_launch_args() -> dict[str, Any]:
    return {"executable_path": CHROMIUM, "headless": True, "args": CHROMIUM_ARGS, "timeout": 60_000}


def launch_chromium(playwright: Any) -> Any:
    """Debian's chromium (apt), never playwright's downloaded browser."""
    return playwright.chromium.launch(**chromium_launch_args())


async def sign_in_async(page: Any, base: str, admin_key: str) -> None:
    await page.goto(f"{base}/dashboard/login")
    await page.get_by_label("API key").fill(admin_key)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{base}/dashboard")


def sign_in(page: Any, base: str, admin_key: str) -> None:
    page.goto(f"{base}/dashboard/login")
    page.get_by_label("API key").fill(admin_key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/dashboard")
