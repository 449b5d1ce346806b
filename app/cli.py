"""`feedback-service`: serve, migrate, and the operator commands."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

if TYPE_CHECKING:
    import uvicorn

import app.models  # noqa: F401  (every table, so ORM foreign keys resolve)
from app import embedded_postgres, migrate
from app.auth import service as auth_service
from app.auth.models import ApiKey, Scope
from app.config import get_settings
from app.db import create_engine
from app.errors import AppError
from app.privacy import retention
from app.privacy import service as privacy_service
from app.privacy.schemas import Dataset, ExportFormat
from app.query_params import TimeWindow, WindowError, parse_instant, resolve_window
from app.schemas import iso_z

T = TypeVar("T")

cli = typer.Typer(
    help="feedback-service: feedback on AI answers.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def _database_url() -> str:
    return embedded_postgres.database_url(get_settings())


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
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="WEB_CONCURRENCY",
            help="Worker processes (one per core). Each has its own pool, writer and rate "
            "buckets; with the embedded database they share its one server.",
        ),
    ] = 1,
    migrate_first: Annotated[
        bool,
        typer.Option("--migrate", help="Upgrade an external database to head before serving."),
    ] = False,
) -> None:
    """Serve the API. With no DATABASE_URL, start the embedded PostgreSQL and migrate it."""
    import uvicorn

    from app import startup
    from app.observability import configure_logging, wants_json

    settings = get_settings()
    # Before migrating, so Alembic's lines go through the same handler (JSON or console).
    configure_logging(settings)
    bind_host, bind_port = host or settings.host, port or settings.port
    try:
        startup.check_port_free(bind_host, bind_port)
    except startup.PortInUse as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=2) from None
    reused = settings.embedded and startup.embedded_data_exists(settings.feedback_data_dir)
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
        info = startup.startup_info(
            host=bind_host,
            port=bind_port,
            data_dir=settings.feedback_data_dir if settings.embedded else None,
            reused=reused,
        )
        startup.announce(info, as_json=wants_json(settings, sys.stdout))
        options: dict[str, Any] = {
            "host": bind_host,
            "port": bind_port,
            "reload": reload,
            # uvicorn's supervisor forks the workers; each runs the lifespan (the embedded
            # server is reused: the last process out stops it).
            "workers": None if reload else workers,
            # A worker busy importing on a loaded machine misses uvicorn's 5 s ping and is
            # killed and respawned in a loop; give startup room.
            "timeout_worker_healthcheck": 60,
            "log_level": settings.log_level,
            "proxy_headers": True,
            # Our access line (route template, request id) replaces uvicorn's.
            "access_log": False,
            "timeout_graceful_shutdown": settings.shutdown_grace_seconds,
        }
        if reload or workers == 1:
            uvicorn.run("app.main:app", **options)  # exits 3 itself if startup fails
        else:
            _run_workers(uvicorn.Config("app.main:app", **options))
    finally:
        if settings.embedded:
            embedded_postgres.stop(settings.feedback_data_dir)


def _run_workers(config: uvicorn.Config) -> None:
    """What `uvicorn.run` does for several workers, plus the exit code it drops: when a
    worker's startup fails, uvicorn's supervisor stops, but `uvicorn.run` returns normally
    and the service would exit 0 (a restart policy `on-failure` would never restart it)."""
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        raise typer.Exit(code=STARTUP_FAILURE)


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
        "created_at": iso_z(key.created_at),
        "last_used_at": iso_z(key.last_used_at),
        "revoked_at": iso_z(key.revoked_at),
        "rate_limit_per_minute": key.rate_limit_per_minute,
    }


def _rate_limit_option(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return auth_service.parse_rate_limit(value)
    except AppError as exc:
        raise typer.BadParameter(exc.detail, param_hint="--rate-limit") from None


@keys_cli.command("create")
def keys_create(
    scope: Annotated[Scope, typer.Option(help="ingest, expert or admin.")],
    name: Annotated[str | None, typer.Option(help="A label for people.")] = None,
    expert_id: Annotated[
        uuid.UUID | None, typer.Option(help="Required for --scope expert.")
    ] = None,
    rate_limit: Annotated[
        str | None,
        typer.Option(
            "--rate-limit",
            help="N/min for this key. Default: ingest and admin keys unlimited, expert keys "
            "TOKEN_RATE_LIMIT_PER_MINUTE.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a key and print its secret once (only a hash is stored)."""
    limit = _rate_limit_option(rate_limit)

    async def work(session: AsyncSession) -> tuple[ApiKey, str]:
        return await auth_service.create_key(
            session, scope=scope, name=name, expert_id=expert_id, rate_limit_per_minute=limit
        )

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
    from rich.table import Table

    table = Table(
        "id", "public id", "scope", "name", "created", "last used", "revoked", "rate limit"
    )
    for r in rows:
        table.add_row(
            *(
                str(r[k] or "")
                for k in ("id", "public_id", "scope", "name", "created_at", "last_used_at")
            ),
            str(r["revoked_at"] or "no"),
            f"{r['rate_limit_per_minute']}/min" if r["rate_limit_per_minute"] else "default",
        )
    if not rows:
        typer.echo("No keys yet: feedback-service keys create --scope admin --name ops")
        return
    # Wide enough that UUIDs and timestamps never wrap, even when piped.
    Console(width=max(160, Console().width)).print(table)


@keys_cli.command("set-rate-limit")
def keys_set_rate_limit(
    key_id: Annotated[str, typer.Argument(help="Key id or public id.")],
    rate_limit: Annotated[
        str, typer.Argument(help="N/min, or `none` for the scope's default.", metavar="LIMIT")
    ],
) -> None:
    """Change a key's own rate limit; every replica applies it within the key cache lifetime."""
    limit = _rate_limit_option(rate_limit)

    async def work(session: AsyncSession) -> ApiKey:
        return await auth_service.set_rate_limit(session, key_id, limit)

    try:
        key = asyncio.run(_with_session(work))
    except AppError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(code=1) from None
    shown = f"{key.rate_limit_per_minute}/min" if key.rate_limit_per_minute else "scope default"
    typer.echo(f"Rate limit of {key.public_id} ({key.id}): {shown}.")


@keys_cli.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="Key id or public id.")]) -> None:
    """Revoke a key; every replica refuses it within the key cache lifetime (seconds)."""

    async def work(session: AsyncSession) -> ApiKey:
        return await auth_service.revoke_key(session, key_id)

    asked_at = dt.datetime.now(dt.UTC)
    try:
        key = asyncio.run(_with_session(work))
    except AppError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(code=1) from None
    if key.revoked_at is not None and key.revoked_at < asked_at:
        # revoke_key is idempotent; say so rather than pretend this call revoked it.
        typer.echo(f"{key.public_id} ({key.id}) was already revoked at {iso_z(key.revoked_at)}.")
        return
    typer.echo(f"Revoked {key.public_id} ({key.id}).")


# --- operations: export, purge, demo data -----------------------------------------------


async def _with_engine(
    work: Callable[[AsyncEngine], Awaitable[T]], *, analytics: bool = False
) -> T:
    """Run `work` with an engine (the read replica when `analytics` and one is configured)."""
    settings = get_settings()
    url = (analytics and settings.analytics_database_url) or _database_url()
    engine = create_engine(settings, url)
    try:
        return await work(engine)
    finally:
        await engine.dispose()
        if settings.embedded:
            embedded_postgres.stop(settings.feedback_data_dir)


def _window(from_: str | None, to: str | None) -> TimeWindow:
    """The API's window rule and messages (`app/query_params.py`), as CLI errors."""
    try:
        return resolve_window(
            None if from_ is None else parse_instant(from_, "from"),
            None if to is None else parse_instant(to, "to"),
        )
    except WindowError as exc:
        raise typer.BadParameter(exc.detail, param_hint=f"--{exc.parameter}") from None


@cli.command("export")
def export_command(
    dataset: Annotated[Dataset, typer.Argument(help="Which table to export.")],
    from_: Annotated[
        str | None,
        typer.Option("--from", help="Created at or after (default: --to minus 30 days)."),
    ] = None,
    to: Annotated[
        str | None, typer.Option(help="Created before (ISO-8601 or a bare date; default: now).")
    ] = None,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="csv or ndjson.")] = (
        ExportFormat.csv
    ),
    out: Annotated[Path | None, typer.Option(help="Write to this file (default: stdout).")] = None,
) -> None:
    """Stream a dataset as the export endpoint does (same code), to stdout or --out FILE."""
    window = _window(from_, to)
    start, end = window.start, window.end
    show_progress = out is not None and sys.stderr.isatty()

    async def work(engine: AsyncEngine) -> int:
        chunks = privacy_service.export_chunks(engine, dataset, fmt=fmt, start=start, end=end)
        written = 0
        if out is None:
            async for chunk, rows in chunks:
                sys.stdout.buffer.write(chunk)
                written += rows
            sys.stdout.buffer.flush()
            return written
        total = await privacy_service.count_rows(engine, dataset, start=start, end=end)
        with (
            out.open("wb") as sink,
            Progress(
                TextColumn(f"{dataset.value}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                disable=not show_progress,
            ) as progress,
        ):
            task = progress.add_task("export", total=total)
            async for chunk, rows in chunks:
                sink.write(chunk)
                written += rows
                progress.advance(task, rows)
        return written

    rows = asyncio.run(_with_engine(work, analytics=True))
    if out is not None:
        typer.echo(f"Exported {rows} {dataset.value} rows to {out}.", err=True)


@cli.command("purge")
def purge_command(
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            help="Age such as 365d, 12w or 48h. Default: each dataset's RETENTION_*_DAYS.",
        ),
    ] = None,
    datasets: Annotated[
        list[retention.PurgeTarget] | None,
        typer.Option(
            "--dataset",
            help="Only this dataset or webhook_events (repeatable). Default: all.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would go; delete nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Delete rows past their retention, in batches of 5000 (one short transaction each);
    webhook events go only once none of their deliveries is pending."""
    try:
        age = retention.parse_age(older_than) if older_than is not None else None
    except retention.InvalidAge as exc:
        raise typer.BadParameter(str(exc), param_hint="--older-than") from None
    settings = get_settings()

    async def work(engine: AsyncEngine) -> list[retention.PurgeResult]:
        return await retention.purge(
            engine, settings, datasets=datasets, older_than=age, dry_run=dry_run
        )

    results = asyncio.run(_with_engine(work))
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "dataset": r.dataset.value,
                        "cutoff": iso_z(r.cutoff),
                        "rows": r.rows,
                        "dry_run": r.dry_run,
                    }
                    for r in results
                ]
            )
        )
        return
    verb = "would be deleted" if dry_run else "deleted"
    for r in results:
        typer.echo(f"{r.dataset.value:<17} {r.rows:>9} rows before {r.cutoff:%Y-%m-%d} {verb}")


@cli.command("demo-data")
def demo_data_command(
    reset: Annotated[
        bool, typer.Option("--reset", help="Replace earlier demo rows (real rows are kept).")
    ] = False,
) -> None:
    """Fill every table with a few thousand realistic sample rows (runs once; --reset)."""
    from app import demo_data

    settings = get_settings()
    url = _database_url()
    if settings.embedded:
        migrate.upgrade_to_head(url)

    async def work(engine: AsyncEngine) -> demo_data.DemoSummary:
        return await demo_data.load_demo_data(
            engine, reset=reset, auto_approval_threshold=settings.expert_auto_approval_threshold
        )

    summary = asyncio.run(_with_engine(work))
    if summary.skipped:
        typer.echo("Demo data is already there; run with --reset to load it again.")
        return
    for table, rows in summary.created.items():
        typer.echo(f"{table:<22} +{rows}")


def main() -> None:
    """Console entry point."""
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
