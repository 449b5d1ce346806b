"""The embedded PostgreSQL after `kill -9` of the service: the dead process's handle is
pruned on restart, and a later SIGTERM of the restarted service stops PostgreSQL.
Real processes: `feedback-service serve` on a data directory of its own."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from app import embedded_postgres

ROOT = Path(__file__).resolve().parents[2]
SERVE = [sys.executable, "-c", "from app.cli import main; main()", "serve"]


ATTACH_AND_DIE = """
import os, sys, time
from pathlib import Path
from app import embedded_postgres
started = time.monotonic()
embedded_postgres.start(Path(sys.argv[1]))
print(os.getpid(), round(time.monotonic() - started, 3), flush=True)
os._exit(0)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Inside the project, never under $HOME (the library opens permissions on parents).
    path = ROOT / ".data" / f"test-restart-{uuid.uuid4().hex[:8]}"
    yield path
    postmaster = path / "pg" / "postmaster.pid"
    if postmaster.exists():  # never leave a server behind, whatever the outcome
        pid = int(postmaster.read_text().split()[0])
        if psutil.pid_exists(pid):
            os.kill(pid, signal.SIGQUIT)
            psutil.Process(pid).wait(15)
    shutil.rmtree(path, ignore_errors=True)


def _serve(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    env.update(
        FEEDBACK_DATA_DIR=str(data_dir),
        HOST="127.0.0.1",
        PORT=str(port),
        LOG_JSON="true",
        SHUTDOWN_GRACE_SECONDS="5",
    )
    env.pop("FEEDBACK_TOKEN_SECRET", None)  # embedded: generated in the data dir
    return subprocess.Popen(
        SERVE, env=env, cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


def _wait_ready(port: int, process: subprocess.Popen[bytes], log: Path) -> float:
    """Seconds until /readyz answers 200 (bounded: 60 s, the first start runs initdb)."""
    started = time.monotonic()
    while time.monotonic() - started < 60:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("serve did not become ready:\n" + log.read_text()[-3000:])


def _postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "pg" / "postmaster.pid").read_text().split()[0])


def _handles(data_dir: Path) -> list[int]:
    pids: list[int] = json.loads((data_dir / "pg" / embedded_postgres.HANDLE_LIST).read_text())
    return pids


def test_restart_after_kill_9_then_sigterm_stops_postgres(data_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    first = _serve(data_dir, port := _free_port(), log)
    first_seconds = _wait_ready(port, first, log)
    postmaster = _postmaster_pid(data_dir)
    assert first.pid in _handles(data_dir)

    first.send_signal(signal.SIGKILL)
    first.wait(10)
    # What the crash leaves: PostgreSQL running, the dead PID still listed.
    assert psutil.pid_exists(postmaster)
    assert first.pid in _handles(data_dir)

    # Attaching alone (prune + reuse), timed inside a process that then dies without
    # leaving (os._exit skips atexit, like a kill): a second dead handle to prune.
    probe = subprocess.run(
        [sys.executable, "-c", ATTACH_AND_DIE, str(data_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    attach_pid, attach_seconds = probe.stdout.split()
    assert int(attach_pid) in _handles(data_dir)
    assert first.pid not in _handles(data_dir)

    second = _serve(data_dir, port := _free_port(), log)
    restart_seconds = _wait_ready(port, second, log)
    # Figures for docs/reliability.md (no timing assertion: this machine is shared).
    print(
        f"first start {first_seconds:.2f}s, attach after kill -9 {float(attach_seconds):.3f}s, "
        f"restart of serve (imports included) {restart_seconds:.2f}s"
    )
    assert _postmaster_pid(data_dir) == postmaster  # reused, not a second server
    assert _handles(data_dir) == [second.pid]  # the dead handle is gone

    second.send_signal(signal.SIGTERM)
    assert second.wait(30) is not None
    # The last live handle left: the server is stopped (pg_ctl -w stop waited for it).
    process = psutil.Process(postmaster) if psutil.pid_exists(postmaster) else None
    if process is not None:
        process.wait(15)
    assert not psutil.pid_exists(postmaster) or psutil.Process(postmaster).status() == "zombie"
    assert not (data_dir / "pg" / "postmaster.pid").exists()


def test_prune_keeps_live_handles_and_drops_dead_or_reused_pids(tmp_path: Path) -> None:
    pgdata = tmp_path
    me = os.getpid()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])  # exits, never reaped below
    deadline = time.monotonic() + 10
    while psutil.Process(zombie.pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    reused = os.getppid()  # alive, but recorded with another start time
    (pgdata / embedded_postgres.HANDLE_LIST).write_text(
        json.dumps([me, dead.pid, zombie.pid, reused])
    )
    my_start = embedded_postgres.process_start_time(me)
    (pgdata / embedded_postgres.START_TIMES).write_text(
        json.dumps({str(me): my_start, str(reused): 12345.0})
    )
    removed = embedded_postgres.prune_dead_handles(pgdata)
    assert sorted(removed) == sorted([dead.pid, zombie.pid, reused])
    assert json.loads((pgdata / embedded_postgres.HANDLE_LIST).read_text()) == [me]
    assert json.loads((pgdata / embedded_postgres.START_TIMES).read_text()) == {str(me): my_start}
    zombie.wait()
