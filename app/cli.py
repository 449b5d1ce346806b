"""`feedback-service`: serve, migrate, and the operator commands."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from app import embedded_postgres, migrate
from app.config import get_settings
from app.db import create_engine

cli = typer.Typer(help="feedback-service: feedback on AI answers.", no_args_is_help=True)


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


def main() -> None:
    """Console entry point."""
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
