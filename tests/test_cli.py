"""`serve` and `migrate` against an external DATABASE_URL, and plain `alembic` with it."""

import asyncio
import os
import subprocess
import sys

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
