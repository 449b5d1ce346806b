"""A startup that cannot succeed ends promptly with a clear error, and no shutdown step can
hold the process: the schema check, a failure halfway through starting, a stuck step."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory

from app import migrate
from app.main import create_app
from app.webhooks import dispatcher as webhook_dispatcher
from tests import live_server
from tests.conftest import DatabaseFactory, make_settings

UVICORN_STARTUP_FAILURE = 3  # uvicorn's exit code when the lifespan's startup fails


@pytest.fixture(scope="module")
async def one_revision_behind(databases: DatabaseFactory) -> tuple[str, str]:
    """A database at the head's previous revision, and that revision."""
    script = ScriptDirectory.from_config(migrate.alembic_config())
    head = script.get_current_head()
    assert head is not None
    previous = str(script.get_revision(head).down_revision)
    url = await databases.empty()
    config = migrate.alembic_config(url)
    config.attributes["configure_logging"] = False
    await asyncio.to_thread(command.upgrade, config, previous)
    return url, previous


async def test_the_lifespan_refuses_a_schema_one_revision_behind_head(
    one_revision_behind: tuple[str, str],
) -> None:
    url, previous = one_revision_behind
    app = create_app(make_settings(url))
    before = asyncio.all_tasks()
    with pytest.raises(migrate.SchemaNotAtHead, match="alembic upgrade head") as refused:
        async with app.router.lifespan_context(app):
            pytest.fail("the app started on a schema behind head")
    assert previous in str(refused.value)
    assert not hasattr(app.state, "writer"), "refused only after the writer had started"
    assert asyncio.all_tasks() <= before  # nothing it started is left running


async def test_uvicorn_exits_non_zero_on_a_schema_behind_head(
    one_revision_behind: tuple[str, str], tmp_path: Path
) -> None:
    url, previous = one_revision_behind
    port = live_server.free_port()
    server = await live_server.start(
        live_server.uvicorn_argv(port),
        port=port,
        env=live_server.service_env(url),
        log_path=tmp_path / "uvicorn.log",
    )
    try:
        code = await server.wait_exit()  # bounded: a process that hangs fails here
    finally:
        await server.kill()
    output = server.log_tail(20_000)
    assert code == UVICORN_STARTUP_FAILURE, output
    assert "startup refused" in output
    assert f"schema is at ['{previous}']" in output
    assert "alembic upgrade head" in output


async def test_a_failure_halfway_through_startup_stops_what_had_started(
    database_url: str,
) -> None:
    # METRICS_PORT taken: the listener fails after the writer, the purger and the engines
    # have started; they must not be left running (nobody would ever stop them).
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        app = create_app(
            make_settings(database_url, host="127.0.0.1", metrics_port=taken.getsockname()[1])
        )
        before = asyncio.all_tasks()
        with pytest.raises(OSError, match="in use"):
            async with app.router.lifespan_context(app):
                pytest.fail("the metrics listener bound a port already taken")
    assert hasattr(app.state, "writer"), "failed before the writer started: nothing to unwind"
    left = asyncio.all_tasks() - before
    assert not left, left
    assert not app.state.writer.running


async def test_a_shutdown_step_that_never_ends_does_not_hold_the_exit(
    database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="app.main")
    release = asyncio.Event()
    real_stop = webhook_dispatcher.stop

    async def stuck_stop(app: object) -> None:
        # Swallows its cancellation, as a task can (Python 3.11's wait_for can lose one).
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue

    monkeypatch.setattr(webhook_dispatcher, "stop", stuck_stop)
    app = create_app(make_settings(database_url, shutdown_grace_seconds=1))

    async def run_lifespan() -> None:
        async with app.router.lifespan_context(app):
            pass

    lifespan = asyncio.ensure_future(run_lifespan())
    try:
        done, _ = await asyncio.wait({lifespan}, timeout=60)  # a bound against the hang
        assert lifespan in done, "the lifespan's exit waited on the stuck step"
        lifespan.result()
    finally:
        release.set()
        await real_stop(app)  # the dispatcher the stuck step left running
    assert "webhook dispatcher did not finish within 1 s" in caplog.text
    assert not app.state.writer.running  # the steps after the stuck one still ran


async def test_serve_with_two_workers_exits_non_zero_when_their_startup_fails(
    database_url: str, tmp_path: Path
) -> None:
    # uvicorn's supervisor stops when a worker's startup fails, but `uvicorn.run` returns
    # normally: serve used to exit 0, which a restart policy reads as a clean stop.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = live_server.free_port()
        server = await live_server.start(
            live_server.serve_argv(port, "--workers", "2"),
            port=port,
            env=live_server.service_env(
                database_url, HOST="127.0.0.1", METRICS_PORT=str(taken.getsockname()[1])
            ),
            log_path=tmp_path / "serve.log",
        )
        try:
            # Bounded: startup, then up to serve's 60 s worker health check to notice.
            code = await server.wait_exit(live_server.STARTUP_SECONDS + 60)
        finally:
            await server.kill()
    output = server.log_tail(20_000)
    assert code == UVICORN_STARTUP_FAILURE, output
    assert "failed to start" in output
