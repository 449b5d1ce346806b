"""Logs a person enjoys: levels that flag credential trouble, the client address, colour and
short ids in a terminal, Alembic's lines in the same format, one startup block, and a port
already in use that says to set PORT."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import socket
import sys
import time
from pathlib import Path

import httpx

from app import startup
from app.main import create_app
from app.observability import configure_logging
from tests.conftest import TOKEN_SECRET, make_settings

ROOT = Path(__file__).resolve().parents[2]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def _requests(database_url: str, stream: io.StringIO, **settings: object) -> list[str]:
    app = create_app(make_settings(database_url, **settings))
    configure_logging(app.state.settings, stream=stream)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, client=("203.0.113.9", 5555)),
                base_url="http://t",
            ) as http,
        ):
            await http.get("/healthz")
            await http.get("/api/v1/analytics/votes")  # 401
    finally:
        configure_logging(make_settings(database_url))
    return stream.getvalue().strip().splitlines()


async def test_access_lines_warn_on_401_and_carry_the_client(database_url: str) -> None:
    lines = [json.loads(line) for line in await _requests(database_url, io.StringIO())]
    access = [line for line in lines if line["event"] == "request"]
    by_status = {line["status"]: line for line in access}
    assert by_status[200]["level"] == "info"
    assert by_status[401]["level"] == "warning"
    assert by_status[401]["client"] == "203.0.113.9"


async def test_terminal_logs_have_colour_and_short_request_ids(database_url: str) -> None:
    lines = await _requests(database_url, _Terminal(), log_json=False)
    coloured = next(line for line in lines if "/healthz" in line)
    assert "\x1b[" in coloured  # ANSI colour
    plain = re.sub(r"\x1b\[[0-9;]*m", "", coloured)
    assert "route=/healthz" in plain
    assert re.search(r"request_id=[0-9a-f]{8}(\s|$)", plain)  # generated ids shortened
    assert "client=203.0.113.9" in plain


def test_startup_block_says_where_postgres_is_and_how_to_get_a_key(tmp_path: Path) -> None:
    info = startup.startup_info(host="0.0.0.0", port=8123, data_dir=tmp_path, reused=True)
    block = startup.render_block(info)
    assert "http://127.0.0.1:8123/docs" in block
    assert str(tmp_path / "pg") in block
    assert "psql" in block
    assert Path(startup.psql_binary()).exists()
    assert "reused" in block
    assert "keys create --scope admin" in block
    fresh = startup.render_block(
        startup.startup_info(host="127.0.0.1", port=1, data_dir=None, reused=False)
    )
    assert "reused" not in fresh
    assert "DATABASE_URL" in fresh


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "FEEDBACK_TOKEN_SECRET": TOKEN_SECRET,
        "LOG_JSON": "true",
    }


async def test_serve_logs_alembic_as_json_and_one_startup_event(databases, tmp_path) -> None:
    url = await databases.empty()
    port = _free_port()
    out = tmp_path / "serve.log"
    with out.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.cli", "serve", "--migrate", "--port", str(port),
            cwd=ROOT, env=_serve_env(url), stdout=sink, stderr=sink,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                while time.monotonic() < deadline:
                    assert process.returncode is None, out.read_text()
                    try:
                        if (await http.get("/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        await asyncio.sleep(0.2)
                else:
                    raise AssertionError("serve did not start")
        finally:
            process.terminate()
            await asyncio.wait_for(process.wait(), timeout=30)
    lines = [line for line in out.read_text().splitlines() if line.strip()]
    events = [json.loads(line) for line in lines]  # every line, Alembic's included, is JSON
    migrations = [e for e in events if e.get("logger") == "alembic.runtime.migration"]
    assert any("Running upgrade" in e["event"] for e in migrations)
    [started] = [e for e in events if e["event"] == "starting"]
    assert started["url"] == f"http://127.0.0.1:{port}"
    assert started["docs"].endswith("/docs")
    assert started["new_admin_key"].endswith("keys create --scope admin --name ops")


async def test_a_port_in_use_says_to_set_port(databases) -> None:
    url = await databases.migrated()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.cli", "serve", "--port", str(port),
            cwd=ROOT, env=_serve_env(url),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    assert f"Port {port}" in err.decode()
    assert "set PORT" in err.decode()
