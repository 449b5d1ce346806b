"""SIGTERM on a real uvicorn process mid-load: every acknowledged (2xx) write is in the DB."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from pathlib import Path

import httpx
import sqlalchemy as sa

from app.auth import service as auth_service
from app.auth.models import Scope
from app.db import create_engine, make_sessionmaker
from tests import live_server
from tests.conftest import TOKEN_SECRET, make_settings

ROOT = live_server.ROOT


def _healthcheck_command() -> list[str]:
    """The Dockerfile's HEALTHCHECK, exactly as the image would run it."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.startswith("HEALTHCHECK"))
    command: list[str] = json.loads(line[line.index("CMD") + 3 :].strip())
    return [sys.executable, *command[1:]]


async def test_sigterm_mid_load_loses_no_acknowledged_write(databases, tmp_path: Path) -> None:
    url = await databases.migrated()
    engine = create_engine(make_settings(url), url)
    async with make_sessionmaker(engine)() as session:
        _, ingest = await auth_service.create_key(session, scope=Scope.ingest, name="shutdown")
        await session.commit()

    port = live_server.free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FEEDBACK_TOKEN_SECRET": TOKEN_SECRET,
        "LOG_JSON": "true",
        "RATE_LIMIT_PER_MINUTE": "0",
        "PORT": str(port),
    }
    server = await live_server.start(
        live_server.uvicorn_argv(port, "--timeout-graceful-shutdown", "10"),
        port=port,
        env=env,
        log_path=tmp_path / "uvicorn.log",
    )
    process = server.process
    base = f"http://127.0.0.1:{port}"
    acknowledged: list[str] = []
    statuses: list[int] = []
    refused = 0
    try:
        await server.wait_ready()
        health = await asyncio.create_subprocess_exec(*_healthcheck_command(), env=env)
        assert await asyncio.wait_for(health.wait(), 10) == 0

        stop = asyncio.Event()
        enough = asyncio.Event()  # set once 40 writes were acknowledged

        async def writer(http: httpx.AsyncClient, worker: int) -> None:
            nonlocal refused
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    response = await http.post(
                        "/api/v1/feedback",
                        json={"conversation_id": f"shutdown-{worker}-{n}", "vote": "up"},
                        headers={"Authorization": f"Bearer {ingest}"},
                    )
                except httpx.TransportError:
                    refused += 1  # the server stopped accepting: expected after SIGTERM
                    await asyncio.sleep(0.05)
                    continue
                statuses.append(response.status_code)
                if 200 <= response.status_code < 300:
                    acknowledged.append(response.json()["id"])
                    if len(acknowledged) >= 40:
                        enough.set()

        async with httpx.AsyncClient(base_url=base, timeout=15) as http:
            workers = [asyncio.create_task(writer(http, w)) for w in range(8)]
            await asyncio.wait_for(enough.wait(), timeout=30)
            process.send_signal(signal.SIGTERM)  # with requests in flight
            answered_before_term = len(statuses)
            await asyncio.wait_for(process.wait(), timeout=20)
            stop.set()
            await asyncio.gather(*workers)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    output = (tmp_path / "uvicorn.log").read_text()
    assert process.returncode in (0, -signal.SIGTERM), output[-2000:]
    events = [json.loads(line)["event"] for line in output.splitlines() if line.startswith("{")]
    assert "Shutting down" in events
    assert any(e.startswith("Finished server process") for e in events)
    assert all(200 <= s < 300 for s in statuses), sorted(set(statuses))
    assert len(acknowledged) >= 40
    # Eight writers always have a request in flight: those finished after the SIGTERM.
    assert len(statuses) > answered_before_term
    async with engine.connect() as conn:
        stored = set(
            (
                await conn.scalars(
                    sa.text("SELECT id FROM votes WHERE id = ANY(:ids)"),
                    {"ids": [uuid.UUID(i) for i in acknowledged]},
                )
            ).all()
        )
    await engine.dispose()
    missing = {uuid.UUID(i) for i in acknowledged} - stored
    assert not missing, f"{len(missing)} acknowledged votes lost"
    print(
        f"shutdown: {len(acknowledged)} acknowledged ({len(statuses) - answered_before_term} "
        f"answered after SIGTERM), all stored; {refused} refused after SIGTERM"
    )
