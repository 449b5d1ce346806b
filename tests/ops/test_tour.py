"""The README's Tour runs as written: its shell blocks, in order, against a live uvicorn on a
free port with its own migrated database (`BASE` and `DATABASE_URL` come from the
environment), so the README cannot rot."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from tests import live_server
from tests.conftest import TOKEN_SECRET

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def tour_blocks() -> list[str]:
    section = re.search(r"^## Tour\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert section, "README has no '## Tour' section"
    return re.findall(r"^```sh\n(.*?)^```", section.group(1), re.M | re.S)


def test_the_tour_has_every_step() -> None:
    script = "\n".join(tour_blocks())
    for needle in (
        "keys create --scope admin",
        "keys create --scope ingest",
        "/api/v1/feedback-tokens",
        '"vote": "down"',
        '"vote": "up"',
        "/api/v1/routing/metrics",
        "/api/v1/routing/feedback",
        "/api/v1/routing/recommendations",
        "/api/v1/cache/entries",
        "/hits",
        '/feedback \'{"rating"',
        "/api/v1/experts",
        "/keys",
        "/api/v1/expert-feedback",
        "/api/v1/faq-candidates",
        "/approve",
        "/reject",
        "/api/v1/analytics/votes",
        "/api/v1/analytics/routing",
        "/api/v1/analytics/routing/regret",
        "/api/v1/analytics/cache",
        "/api/v1/analytics/experts",
        "feedback-service export",
        "/api/v1/export/",
        "-X DELETE",
    ):
        assert needle in script, needle


async def test_the_tour_runs_against_a_live_service(databases, tmp_path: Path) -> None:
    url = await databases.migrated()
    port = live_server.free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FEEDBACK_TOKEN_SECRET": TOKEN_SECRET,
        "LOG_JSON": "true",
        "BASE": base,
    }
    env.pop("ADMIN_KEY", None)
    env.pop("INGEST_KEY", None)
    server = await live_server.start(
        live_server.uvicorn_argv(port), port=port, env=env, log_path=tmp_path / "uvicorn.log"
    )
    # The tour runs "in the checkout": give it the venv, but keep its exports out of ours.
    workdir = tmp_path / "checkout"
    workdir.mkdir()
    (workdir / ".venv").symlink_to(Path(sys.prefix))
    script = "set -euo pipefail\n" + "\n".join(tour_blocks())
    try:
        await server.wait_ready("/readyz")
        tour = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            script,
            cwd=workdir,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(tour.communicate(), timeout=300)
        text = output.decode()
        assert tour.returncode == 0, text[-4000:]
    finally:
        await server.stop()

    # What the steps printed: each kind of answer appeared, nothing failed.
    assert '"status":"ok"' in text  # votes
    assert '"current":"up"' in text  # the token's vote, read back by the admin
    assert '"candidates":[' in text  # recommendations
    assert '"hit_count":1' in text  # the cache hit
    assert '"approval_status":"approved"' in text
    assert '"approval_status":"rejected"' in text
    for analytics in ('"satisfaction"', '"groups":[', '"flagged":', '"experts":['):
        assert analytics in text
    assert '"deleted":' in text  # erasure
    csv_lines = (workdir / "exports" / "votes.csv").read_text().splitlines()
    assert "conversation_id" in csv_lines[0]
    assert len(csv_lines) > 100, "the export's dates must return the demo votes"
    assert len((workdir / "exports" / "routing.ndjson").read_text().splitlines()) > 100
