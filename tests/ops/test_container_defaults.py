"""Safe container defaults: the bootstrap admin key goes to a 0600 file (on the logs only
when a person watches a terminal), and METRICS_PORT moves /metrics off the public port."""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import stat

import httpx
import sqlalchemy as sa

from app.auth import keys
from app.auth.bootstrap import KEY_FILE, print_first_admin_key
from app.db import create_engine
from app.main import create_app
from tests.conftest import make_settings
from tests.ops.test_containers import _compose_config


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_bootstrap_key_goes_to_a_0600_file_not_to_the_logs(databases, tmp_path) -> None:
    url = await databases.migrated()
    logs = io.StringIO()  # a container's stdout: not a terminal
    path = await print_first_admin_key(url, data_dir=tmp_path, stream=logs)
    assert path is not None
    assert path == tmp_path / KEY_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    token = path.read_text().strip()
    assert "fbk_" not in logs.getvalue()
    assert str(path) in logs.getvalue()  # says where to find it
    # The file holds the real key: its secret matches the stored hash.
    parsed = keys.parse(token)
    assert parsed is not None
    engine = create_engine(make_settings(url), url)
    async with engine.connect() as conn:
        stored = await conn.scalar(
            sa.text("SELECT secret_hash FROM api_keys WHERE public_id = :p AND scope = 'admin'"),
            {"p": parsed[0]},
        )
    await engine.dispose()
    assert stored is not None
    assert keys.matches(parsed[1], stored)


async def test_bootstrap_key_is_printed_on_a_terminal(databases, tmp_path) -> None:
    url = await databases.migrated()
    terminal = _Terminal()
    path = await print_first_admin_key(url, data_dir=tmp_path, stream=terminal)
    assert path is not None
    assert path.read_text().strip() in terminal.getvalue()


async def test_metrics_port_serves_metrics_off_the_public_port(database_url) -> None:
    port = _free_port()
    app = create_app(make_settings(database_url, metrics_port=port, host="127.0.0.1"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as public:
            assert (await public.get("/healthz")).status_code == 200
            assert (await public.get("/metrics")).status_code == 404
        scraped = await asyncio.to_thread(httpx.get, f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert scraped.status_code == 200
        assert 'handler="/healthz"' in scraped.text
        assert "db_pool_size" in scraped.text
    # The listener closes with the app.
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


async def test_without_metrics_port_metrics_stay_on_the_api_port(database_url) -> None:
    app = create_app(make_settings(database_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as public:
            assert (await public.get("/metrics")).status_code == 200


def test_compose_publishes_the_api_on_loopback_only() -> None:
    result = _compose_config({"POSTGRES_PASSWORD": "pw", "FEEDBACK_TOKEN_SECRET": "s" * 40})
    assert result.returncode == 0, result.stderr
    api = json.loads(result.stdout)["services"]["api"]
    [port] = api["ports"]
    assert (port["target"], port["host_ip"]) == (8000, "127.0.0.1")
    # /metrics is served on its own port, not published to the host.
    assert api["environment"]["METRICS_PORT"] == "9100"
    assert all(p["target"] != 9100 for p in api["ports"])
