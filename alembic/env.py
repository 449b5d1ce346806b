"""Async Alembic environment. The only model import is `app.models` (every table)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from logging.config import fileConfig
from typing import Any

import alembic_postgresql_enum  # noqa: F401  (registers enum comparison for autogenerate)
from alembic import context
from alembic_utils.replaceable_entity import register_entities
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import SQLModel

import app.models  # noqa: F401  (fills SQLModel.metadata)
from app.observability import service_logging_configured
from app.triggers import replaceable_entities

config = context.config
if (
    config.config_file_name is not None
    and config.attributes.get("configure_logging", True)
    # Inside the service (serve, demo-data...) its handler already formats every line.
    and not service_logging_configured()
):
    fileConfig(config.config_file_name, disable_existing_loggers=False)
target_metadata = SQLModel.metadata
register_entities(replaceable_entities())

# Serialises concurrent `alembic upgrade` runs (two replicas starting at once). A session
# lock, not a transaction lock: a migration that builds an index CONCURRENTLY commits in
# `op.get_context().autocommit_block()`, and the lock must outlive that commit.
MIGRATION_LOCK_KEY = 0x46425356  # "FBSV"
MIGRATION_LOCK_POLL_SECONDS = 0.2


def database_url() -> str:
    """A URL the caller (tests, `feedback-service migrate`) passed, else the app's resolver:
    DATABASE_URL, or the embedded server."""
    url = config.attributes.get("url")
    if url:
        return str(url)
    from app import embedded_postgres
    from app.config import get_settings

    return embedded_postgres.database_url(get_settings())


def process_revision_directives(ctx: Any, revision: Any, directives: list[Any]) -> None:
    """Write no file when autogenerate finds nothing to do."""
    cmd_opts = getattr(config, "cmd_opts", None)
    if cmd_opts is not None and getattr(cmd_opts, "autogenerate", False):
        script = directives[0]
        if script.upgrade_ops.is_empty():
            directives[:] = []


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    # Tables made by tests (the schema lint's throwaway tables) are never ours to drop.
    return not (
        type_ == "table" and reflected and compare_to is None and name and name.startswith("lint_")
    )


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=False,
        include_object=include_object,
        process_revision_directives=process_revision_directives,
        transaction_per_migration=False,
    )
    # Taken before alembic reads alembic_version, so the second runner sees the first's work.
    # Polled rather than waited for: a runner blocked in pg_advisory_lock() holds a snapshot,
    # and the first runner's CREATE INDEX CONCURRENTLY waits for every snapshot: deadlock.
    while not connection.execute(
        text("SELECT pg_try_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY}
    ).scalar():
        connection.commit()
        time.sleep(MIGRATION_LOCK_POLL_SECONDS)
    connection.commit()
    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        # After a failure the connection may be unusable; closing it releases the lock too.
        with contextlib.suppress(Exception):
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
            connection.commit()


async def run_async_migrations(engine: AsyncEngine, *, dispose: bool) -> None:
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
            await connection.commit()
    finally:
        if dispose:
            await engine.dispose()


def _run(coro: Coroutine[Any, Any, None]) -> None:
    """Run `coro` to completion, in a thread of its own if this one already runs a loop
    (pytest-alembic calls env.py from inside its own event loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro)
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coro).result()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if isinstance(connectable, Connection):
        do_run_migrations(connectable)
    elif isinstance(connectable, AsyncEngine):
        _run(run_async_migrations(connectable, dispose=False))
    else:
        engine = create_async_engine(database_url(), poolclass=pool.NullPool)
        _run(run_async_migrations(engine, dispose=True))


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
