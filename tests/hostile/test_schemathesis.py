"""schemathesis against the live service's own OpenAPI, once per kind of credential, each
run limited to the operations that credential may call (api.md's auth column, as
`tests/auth/test_scope_matrix.py` states it): every check, a fixed seed, 50 examples per
operation, 0 failures."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.auth.test_scope_matrix import ADMIN, CACHE_TOKEN, CONV_TOKEN, EXPECTED, EXPERT, INGEST
from tests.hostile.conftest import Stack

pytestmark = pytest.mark.hostile

ROOT = Path(__file__).resolve().parents[2]
SEED = 20261201
EXAMPLES = 50
# Bounds the run, not a pass criterion: a hung run fails instead of blocking CI.
RUN_TIMEOUT_SECONDS = 600
# schemathesis's closing lines: operations tested, test cases generated, failures.
_SUMMARY = re.compile(r"^\s*(Tested|Test cases|Failures|Errors|Warnings)\b")


RUNS = [ADMIN, INGEST, EXPERT, CONV_TOKEN, CACHE_TOKEN]


@dataclass
class Run:
    """One schemathesis process; `elapsed` is stamped by a watcher thread when it exits."""

    process: subprocess.Popen[bytes]
    report: Path
    started: float = field(default_factory=time.monotonic)
    elapsed: float | None = None

    def watch(self) -> None:
        def stamp() -> None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=RUN_TIMEOUT_SECONDS)
                self.elapsed = time.monotonic() - self.started

        threading.Thread(target=stamp, daemon=True).start()

    def wait(self) -> int:
        """The exit code; a run past RUN_TIMEOUT_SECONDS is killed (and fails)."""
        try:
            return self.process.wait(
                timeout=max(0.0, self.started + RUN_TIMEOUT_SECONDS - time.monotonic())
            )
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            return -1


def _command(stack: Stack, who: str, token: str) -> tuple[list[str], dict[str, str]]:
    args = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{stack.base_url}/openapi.json",
        "--checks",
        "all",
        "--seed",
        str(SEED),
        "--max-examples",
        str(EXAMPLES),
        # Stateful runs would chase links the schema does not declare; one worker: the
        # engine's coverage phase is not thread-safe here (AST recursion errors seen).
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "1",
        "--header",
        f"Authorization: Bearer {token}",
        "--no-color",
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
    ]
    if who != ADMIN:  # admin may call everything (and the public routes ride along)
        for method, path in sorted(op for op, allowed in EXPECTED.items() if who in allowed):
            args += ["--include-name", f"{method} {path}"]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.hostile.st_hooks",
        "PYTHONPATH": str(ROOT),
        "HOSTILE_EXPERT_ID": stack.expert_id if who == ADMIN else "",
        "HOSTILE_CONVERSATION_ID": stack.conversation_id if who == CONV_TOKEN else "",
        "HOSTILE_CACHE_KEY": stack.cache_key if who == CACHE_TOKEN else "",
    }
    return args, env


@pytest.fixture(scope="module")
def schemathesis_runs(
    hostile_stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Run]]:
    """All five runs at once: the service and the clients share two cores, and one run
    alone leaves the other idle while it waits on the service."""
    tokens = {
        ADMIN: hostile_stack.admin,
        INGEST: hostile_stack.ingest,
        EXPERT: hostile_stack.expert,
        CONV_TOKEN: hostile_stack.conversation_token,
        CACHE_TOKEN: hostile_stack.cache_token,
    }
    runs: dict[str, Run] = {}
    for who in RUNS:
        directory = tmp_path_factory.mktemp(f"schemathesis-{who}")
        args, env = _command(hostile_stack, who, tokens[who])
        report = directory / "schemathesis.txt"
        with report.open("wb") as out:
            process = subprocess.Popen(
                args, cwd=directory, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        runs[who] = Run(process, report)
        runs[who].watch()
    try:
        yield runs
    finally:
        for run in runs.values():
            if run.process.poll() is None:
                run.process.kill()
                run.process.wait(timeout=10)


@pytest.mark.parametrize("who", RUNS)
def test_schemathesis_finds_nothing(
    schemathesis_runs: dict[str, Run], who: str, figure: Callable[[str], None]
) -> None:
    run = schemathesis_runs[who]
    returncode = run.wait()
    time.sleep(0.1)  # let the watcher stamp the exit
    report = run.report.read_text(errors="replace")
    summary = [line.strip() for line in report.splitlines() if _SUMMARY.search(line)]
    figure(f"schemathesis {who}: {run.elapsed or 0:.0f} s; " + "; ".join(summary))
    assert "Tested:" in report, report[-4000:]
    assert returncode == 0, report[-12000:]
