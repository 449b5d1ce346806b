"""The real service in a subprocess on a free loopback port: start it, wait for it, stop it.

Every wait is bounded and fails with the process's own output; a process that exits while
it is awaited fails at once instead of being waited on. `running(...)` kills it in a
`finally`. Used by the ops, browser and reliability tests (one helper, not one per suite).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import TOKEN_SECRET

ROOT = Path(__file__).resolve().parent.parent
# A bound, not an expectation: importing the app alone took 25 s on this 2-core machine at a
# load average of 10; a quiet machine starts in about 2 s.
STARTUP_SECONDS = 120.0
STOP_SECONDS = 30.0
BIND_ATTEMPTS = 3


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def service_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a service on `database_url` (settings as NAME=value)."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "FEEDBACK_TOKEN_SECRET": TOKEN_SECRET,
        "LOG_JSON": "true",
        **settings,
    }


def uvicorn_argv(port: int, *extra: str) -> list[str]:
    """`uvicorn app.main:app` on 127.0.0.1:`port` (the app's own lifespan, no CLI checks)."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "app.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *extra,
    ]


def serve_argv(port: int, *extra: str) -> list[str]:
    """`feedback-service serve` on 127.0.0.1:`port`."""
    return [
        sys.executable,
        "-m",
        "app.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *extra,
    ]


@dataclass
class LiveServer:
    process: asyncio.subprocess.Process
    port: int
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    async def wait_ready(self, path: str = "/healthz", within: float = STARTUP_SECONDS) -> None:
        """Until `path` answers 200; fails at once if the process exits meanwhile."""
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=self.base, timeout=5) as http:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    raise AssertionError(
                        f"exited with {self.process.returncode} during startup: {self.log_tail()}"
                    )
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(path)).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise AssertionError(f"not ready on {path} within {within:.0f} s: {self.log_tail()}")

    async def wait_exit(self, within: float = STARTUP_SECONDS) -> int:
        """The exit code; fails if the process is still running after `within` seconds."""
        try:
            return await asyncio.wait_for(self.process.wait(), within)
        except TimeoutError:
            raise AssertionError(f"still running after {within:.0f} s: {self.log_tail()}") from None

    async def stop(self, within: float = STOP_SECONDS) -> int:
        """SIGTERM (uvicorn's graceful shutdown), SIGKILL after `within` seconds."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), within)
            except TimeoutError:
                await self.kill()
        return self.process.returncode if self.process.returncode is not None else -9

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await asyncio.wait_for(self.process.wait(), STOP_SECONDS)


async def start(
    argv: Sequence[str], *, port: int, env: Mapping[str, str], log_path: Path
) -> LiveServer:
    """Start `argv` (its stdout and stderr go to `log_path`) without waiting for it."""
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=ROOT, env=dict(env), stdout=log, stderr=asyncio.subprocess.STDOUT
        )
    return LiveServer(process, port, log_path)


@contextlib.asynccontextmanager
async def running(
    command: Callable[[int], Sequence[str]],
    *,
    env: Mapping[str, str],
    log_path: Path,
    ready_path: str = "/healthz",
    within: float = STARTUP_SECONDS,
) -> AsyncIterator[LiveServer]:
    """`command(port)` on a free port, ready on `ready_path`; stopped (then killed) on the
    way out. A port taken between the probe and the bind is retried on another one."""
    for attempt in range(BIND_ATTEMPTS):
        port = free_port()
        server = await start(command(port), port=port, env=env, log_path=log_path)
        try:
            await server.wait_ready(ready_path, within)
            break
        except AssertionError:
            await server.kill()
            lost_the_port = "address already in use" in server.log_tail().lower()
            if not lost_the_port or attempt == BIND_ATTEMPTS - 1:
                raise
    try:
        yield server
    finally:
        await server.stop()
