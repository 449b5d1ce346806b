"""Alembic from code: the CLI, /readyz and the tests all go through these helpers."""

from __future__ import annotations

import asyncio
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"


def alembic_config(url: str | None = None) -> Config:
    """The project's Alembic config; `url` reaches env.py through `config.attributes`."""
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    if url is not None:
        config.attributes["url"] = url
    return config


@lru_cache
def head_revisions() -> frozenset[str]:
    """The head(s) of the migration scripts on disk."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def upgrade_to_head(url: str) -> None:
    """`alembic upgrade head` against `url` (env.py serialises concurrent runs)."""
    command.upgrade(alembic_config(url), "head")


async def upgrade_to_head_async(url: str) -> None:
    """The same from async code: env.py runs its own event loop, so use a thread."""
    await asyncio.to_thread(upgrade_to_head, url)


async def current_revisions(engine: AsyncEngine) -> frozenset[str]:
    """The revision(s) the database is stamped with; empty when never migrated."""
    async with engine.connect() as conn:
        exists = await conn.scalar(text("SELECT to_regclass('public.alembic_version')"))
        if exists is None:
            return frozenset()
        rows = await conn.scalars(text("SELECT version_num FROM alembic_version"))
        return frozenset(rows.all())


async def schema_is_current(engine: AsyncEngine) -> bool:
    """Whether the database is at the head of the scripts."""
    return await current_revisions(engine) == head_revisions()


class SchemaNotAtHead(RuntimeError):
    """The database's schema is not the one this code was written for."""


async def ensure_schema_at_head(engine: AsyncEngine) -> None:
    """Raise `SchemaNotAtHead` unless the database is stamped with the scripts' head(s)."""
    current, heads = await current_revisions(engine), head_revisions()
    if current != heads:
        raise SchemaNotAtHead(
            f"The database schema is at {sorted(current) or 'no revision'}, this code needs "
            f"{sorted(heads)}: run `alembic upgrade head` (or `feedback-service migrate`), or "
            "start with `serve --migrate`. REQUIRE_SCHEMA_AT_HEAD=false starts anyway "
            "(/readyz then answers 503)."
        )
