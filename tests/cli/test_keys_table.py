"""`keys list` is a table with a header; revoking twice says it already was; `Z` times."""

from __future__ import annotations

import asyncio
import json

from typer.testing import CliRunner

from app.cli import cli
from app.config import get_settings


async def _invoke(monkeypatch, url: str, *args: str):
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    try:
        return await asyncio.to_thread(CliRunner().invoke, cli, list(args))
    finally:
        get_settings.cache_clear()


async def test_keys_list_table_and_revoking_twice(databases, monkeypatch) -> None:
    url = await databases.migrated()
    created = await _invoke(
        monkeypatch, url, "keys", "create", "--scope", "ingest", "--name", "gw", "--json"
    )
    assert created.exit_code == 0, created.output
    key = json.loads(created.output)
    assert key["created_at"].endswith("Z")

    listed = await _invoke(monkeypatch, url, "keys", "list")
    assert listed.exit_code == 0, listed.output
    header = listed.output.splitlines()[1]
    for column in ("id", "scope", "name", "created", "last used", "revoked"):
        assert column in header
    assert key["id"] in listed.output
    assert "ingest" in listed.output
    assert "+00:00" not in listed.output

    first = await _invoke(monkeypatch, url, "keys", "revoke", key["public_id"])
    assert first.exit_code == 0
    assert first.output.startswith("Revoked ")
    second = await _invoke(monkeypatch, url, "keys", "revoke", key["public_id"])
    assert second.exit_code == 0
    assert "was already revoked at" in second.output
    assert second.output.rstrip().endswith("Z.")
