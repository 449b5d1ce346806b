"""`feedback-service`: serve, migrate, and the operator commands."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

import app.models  # noqa: F401  (every table, so ORM foreign keys resolve)
from app import embedded_postgres, migrate
from app.auth import service as auth_service
from app.auth.models import ApiKey, Scope
from app.config import get_settings
from app.db import create_engine
from app.errors import AppError

T = TypeVar("T")

cli = typer.Typer(
    help="feedback-service: feedback on AI answers.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def _database_url() -> str:
    settings = get_settings()
    if settings.database_url:
        return settings.database_url
    return embedded_postgres.start(settings.feedback_data_dir)


async def _schema_is_current(url: str) -> bool:
    engine = create_engine(get_settings(), url)
    try:
        return await migrate.schema_is_current(engine)
    finally:
        await engine.dispose()


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default: settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: settings).")] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    migrate_first: Annotated[
        bool,
        typer.Option("--migrate", help="Upgrade an external database to head before serving."),
    ] = False,
) -> None:
    """Serve the API. With no DATABASE_URL, start the embedded PostgreSQL and migrate it."""
    import uvicorn

    settings = get_settings()
    url = _database_url()
    try:
        if settings.embedded or migrate_first:
            migrate.upgrade_to_head(url)
        elif not asyncio.run(_schema_is_current(url)):
            typer.echo(
                "The database schema is behind the migrations' head. Run `alembic upgrade head` "
                "(or `feedback-service migrate`), or start with --migrate.",
                err=True,
            )
            raise typer.Exit(code=2)
        if settings.embedded:
            from app.auth.bootstrap import print_first_admin_key

            asyncio.run(print_first_admin_key(url))
        uvicorn.run(
            "app.main:app",
            host=host or settings.host,
            port=port or settings.port,
            reload=reload,
            log_level=settings.log_level,
            proxy_headers=True,
        )
    finally:
        if settings.embedded:
            embedded_postgres.stop(settings.feedback_data_dir)


@cli.command("migrate")
def migrate_command() -> None:
    """Upgrade the database to the latest migration (`alembic upgrade head`)."""
    settings = get_settings()
    url = _database_url()
    try:
        migrate.upgrade_to_head(url)
        typer.echo(f"Database at {sorted(migrate.head_revisions())}.")
    finally:
        if settings.embedded:
            embedded_postgres.stop(settings.feedback_data_dir)


keys_cli = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
cli.add_typer(keys_cli, name="keys")


async def _with_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    settings = get_settings()
    engine = create_engine(settings, _database_url())
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            result = await work(session)
            await session.commit()
            return result
    finally:
        await engine.dispose()
        if settings.embedded:
            embedded_postgres.stop(settings.feedback_data_dir)


def _key_row(key: ApiKey) -> dict[str, object]:
    return {
        "id": str(key.id),
        "public_id": key.public_id,
        "name": key.name,
        "scope": key.scope.value,
        "expert_id": str(key.expert_id) if key.expert_id else None,
        "created_at": key.created_at.isoformat() if key.created_at else None,
        "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


@keys_cli.command("create")
def keys_create(
    scope: Annotated[Scope, typer.Option(help="ingest, expert or admin.")],
    name: Annotated[str | None, typer.Option(help="A label for people.")] = None,
    expert_id: Annotated[
        uuid.UUID | None, typer.Option(help="Required for --scope expert.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a key and print its secret once (only a hash is stored)."""

    async def work(session: AsyncSession) -> tuple[ApiKey, str]:
        return await auth_service.create_key(session, scope=scope, name=name, expert_id=expert_id)

    try:
        key, secret = asyncio.run(_with_session(work))
    except AppError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(code=1) from None
    if as_json:
        typer.echo(json.dumps({**_key_row(key), "key": secret}))
    else:
        typer.echo(f"Created {scope.value} key {key.public_id} ({key.id}). Shown once:\n{secret}")


@keys_cli.command("list")
def keys_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List keys (never their secrets)."""
    rows = [_key_row(k) for k in asyncio.run(_with_session(auth_service.list_keys))]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for r in rows:
        state = "revoked" if r["revoked_at"] else "active"
        typer.echo(f"{r['id']}  {r['public_id']}  {r['scope']:<7} {state:<8} {r['name'] or ''}")


@keys_cli.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="Key id or public id.")]) -> None:
    """Revoke a key; every replica refuses it within the key cache lifetime (seconds)."""

    async def work(session: AsyncSession) -> ApiKey:
        return await auth_service.revoke_key(session, key_id)

    try:
        key = asyncio.run(_with_session(work))
    except AppError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"Revoked {key.public_id} ({key.id}).")


def main() -> None:
    """Console entry point."""
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
