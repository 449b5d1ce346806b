"""The command line: `serve` and `migrate` against an external DATABASE_URL, plain
`alembic` with it, the keys commands and the first start's admin key."""

import asyncio
import json
import os
import subprocess
import sys

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from app import migrate
from app.cli import cli
from app.config import get_settings
from app.db import create_engine
from tests.conftest import make_settings


async def _invoke(monkeypatch, url: str, *args: str):
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        return await asyncio.to_thread(CliRunner().invoke, cli, list(args))
    finally:
        get_settings.cache_clear()


async def test_serve_refuses_a_schema_behind_head(databases, monkeypatch) -> None:
    result = await _invoke(monkeypatch, await databases.empty(), "serve")
    assert result.exit_code == 2
    assert "alembic upgrade head" in result.output


async def test_migrate_brings_an_external_database_to_head(databases, monkeypatch) -> None:
    url = await databases.empty()
    result = await _invoke(monkeypatch, url, "migrate")
    assert result.exit_code == 0, result.output
    engine = create_engine(make_settings(url), url)
    try:
        assert await migrate.schema_is_current(engine)
    finally:
        await engine.dispose()


async def test_plain_alembic_reads_database_url(databases) -> None:
    url = await databases.empty()
    env = {**os.environ, "DATABASE_URL": url}

    def alembic(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "alembic", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    upgraded = await asyncio.to_thread(alembic, "upgrade", "head")
    assert upgraded.returncode == 0, upgraded.stderr
    checked = await asyncio.to_thread(alembic, "check")
    assert checked.returncode == 0, checked.stderr
    assert "No new upgrade operations detected" in checked.stdout + checked.stderr


async def test_keys_cli_create_list_revoke(databases, monkeypatch) -> None:
    from typer.testing import CliRunner

    from app.cli import cli
    from app.config import get_settings

    url = await databases.migrated()
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    try:
        created = await asyncio.to_thread(
            invoke, "keys", "create", "--scope", "ingest", "--name", "gateway", "--json"
        )
        assert created.exit_code == 0, created.output
        key = json.loads(created.output)
        assert key["key"].startswith("fbk_")
        listed = await asyncio.to_thread(invoke, "keys", "list", "--json")
        rows = json.loads(listed.output)
        assert [r["public_id"] for r in rows] == [key["public_id"]]
        assert key["key"] not in listed.output
        revoked = await asyncio.to_thread(invoke, "keys", "revoke", key["id"])
        assert revoked.exit_code == 0
        missing = await asyncio.to_thread(runner.invoke, cli, ["keys", "revoke", "nope"])
        assert missing.exit_code == 1
    finally:
        get_settings.cache_clear()
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.connect() as conn:
        revoked_at = await conn.scalar(sa.text("SELECT revoked_at FROM api_keys"))
    await engine.dispose()
    assert revoked_at is not None


async def test_first_start_makes_one_admin_key(databases, tmp_path, capsys) -> None:
    from app.auth.bootstrap import print_first_admin_key

    url = await databases.migrated()
    path = await print_first_admin_key(url, data_dir=tmp_path)
    assert path is not None
    assert path.read_text().startswith("fbk_")
    assert "fbk_" not in capsys.readouterr().out  # not a terminal: the key stays off logs
    assert await print_first_admin_key(url, data_dir=tmp_path) is None
