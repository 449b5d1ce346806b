"""`feedback-service serve --workers N`: N processes serve one database, and SIGTERM stops
them all after their writers committed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import httpx
import sqlalchemy as sa

from app.auth import service as auth_service
from app.auth.models import Scope
from app.db import create_engine, make_sessionmaker
from tests import live_server
from tests.conftest import TOKEN_SECRET, make_settings


async def test_serve_workers_2_serves_and_stops_cleanly(databases, tmp_path: Path) -> None:
    url = await databases.migrated()
    engine = create_engine(make_settings(url), url)
    async with make_sessionmaker(engine)() as session:
        _, ingest = await auth_service.create_key(session, scope=Scope.ingest)
        await session.commit()
    port = live_server.free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FEEDBACK_TOKEN_SECRET": TOKEN_SECRET,
        "LOG_JSON": "true",
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "2",
    }
    log_path = tmp_path / "serve.log"
    # PORT, HOST and WEB_CONCURRENCY come from the environment, as a container sets them.
    server = await live_server.start(
        [sys.executable, "-m", "app.cli", "serve"], port=port, env=env, log_path=log_path
    )
    process = server.process
    try:
        await server.wait_ready()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=15) as http:
            responses = await asyncio.gather(
                *(
                    http.post(
                        "/api/v1/feedback",
                        json={"conversation_id": f"w{i}", "vote": "up"},
                        headers={"Authorization": f"Bearer {ingest}"},
                    )
                    for i in range(20)
                )
            )
        for _ in range(300):  # both workers finish their startup
            text = log_path.read_text()
            if text.count("Application startup complete") >= 2:
                break
            await asyncio.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    output = log_path.read_text()
    events = [json.loads(line)["event"] for line in output.splitlines() if line.startswith("{")]
    assert sum(e == "Application startup complete." for e in events) == 2, output[-2000:]
    assert sum(e.startswith("Finished server process") for e in events) == 2, output[-2000:]
    assert [r.status_code for r in responses] == [201] * 20
    async with engine.connect() as conn:
        stored = await conn.scalar(sa.text("SELECT count(*) FROM votes"))
    await engine.dispose()
    assert stored == 20
