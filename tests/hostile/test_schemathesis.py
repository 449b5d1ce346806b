"""schemathesis against the live service's own OpenAPI, once per kind of credential
(`tests/hostile/schemathesis_runs.py`): 0 failures."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.hostile.schemathesis_runs import RUNS, Run, summary

pytestmark = pytest.mark.hostile


@pytest.mark.parametrize("who", RUNS)
def test_schemathesis_finds_nothing(
    schemathesis_started: dict[str, Run], who: str, figure: Callable[[str], None]
) -> None:
    run = schemathesis_started[who]
    returncode = run.wait()
    time.sleep(0.1)  # let the watcher stamp the exit
    report = run.report.read_text(errors="replace")
    figure(f"schemathesis {who}: {run.elapsed or 0:.0f} s; {summary(report)}")
    assert "Tested:" in report, report[-4000:]
    assert returncode == 0, report[-12000:]
