"""The schemathesis runs of `make test-hostile`: one process per kind of credential against
the live service's own OpenAPI, each limited to the operations that credential may call
(api.md's auth column, as `tests/auth/test_scope_matrix.py` states it): every check, a fixed
seed, 50 examples per operation. They start together with the first hostile test (the
session fixture in conftest.py) and run while the other hostile and topology tests do; the
test in `test_schemathesis.py` waits for each and asserts 0 failures."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tests.auth.test_scope_matrix import ADMIN, CACHE_TOKEN, CONV_TOKEN, EXPECTED, EXPERT, INGEST

if TYPE_CHECKING:
    from tests.hostile.conftest import Stack

ROOT = Path(__file__).resolve().parents[2]
SEED = 20261201
EXAMPLES = 50
# Bounds the run, not a pass criterion: a hung run fails instead of blocking CI.
RUN_TIMEOUT_SECONDS = 600


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


def start(stack: Stack, directory: Path) -> dict[str, Run]:
    """Start every run; the caller kills what is still running at the end."""
    tokens = {
        ADMIN: stack.admin,
        INGEST: stack.ingest,
        EXPERT: stack.expert,
        CONV_TOKEN: stack.conversation_token,
        CACHE_TOKEN: stack.cache_token,
    }
    runs: dict[str, Run] = {}
    for who in RUNS:
        args, env = _command(stack, who, tokens[who])
        report = directory / f"schemathesis-{who}.txt"
        with report.open("wb") as out:
            process = subprocess.Popen(
                args, cwd=directory, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        runs[who] = Run(process, report)
        runs[who].watch()
    return runs


def summary(report: str) -> str:
    """schemathesis's closing figures: operations tested, test cases generated."""
    lines = [line.strip() for line in report.splitlines()]
    found = [line for line in lines if line.startswith("Tested:")]
    found += [
        f"test cases: {lines[i + 1]}" for i, line in enumerate(lines[:-1]) if line == "Test cases:"
    ]
    return "; ".join(found)
