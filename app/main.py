"""The application factory: lifespan, middleware, error handlers, routers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.ext.asyncio import AsyncEngine

from app import embedded_postgres, migrate
from app.api import api_router
from app.auth.authentication import Authentication, AuthState, KeyCache, RateLimiter
from app.auth.tokens import TokenSigner, load_secret
from app.config import Settings, get_settings
from app.dashboard.router import router as dashboard_router
from app.db import create_engine, make_sessionmaker
from app.errors import install_error_handlers, is_database_unavailable
from app.health import router as health_router
from app.idempotency import dependencies as idempotency
from app.idempotency import service as idempotency_service
from app.load_shedding import InFlightLimit
from app.middleware import BodySizeLimit
from app.observability import install_observability, start_metrics_listener
from app.openapi_doc import install_openapi
from app.pages import install_pages
from app.votes.fast import FastVotes
from app.webhooks import dispatcher as webhook_dispatcher
from app.widget.router import router as widget_router
from app.writer import GroupWriter

log = logging.getLogger(__name__)


IDEMPOTENCY_PURGE_INTERVAL_SECONDS = 3600.0


async def purge_idempotency_keys_forever(app: FastAPI) -> None:
    """Forget expired Idempotency-Keys hourly (expired keys are also ignored on lookup)."""
    while True:
        await asyncio.sleep(IDEMPOTENCY_PURGE_INTERVAL_SECONDS)
        try:
            async with app.state.sessionmaker() as session:
                deleted = await idempotency_service.purge_expired(session)
            log.info("purged %d expired idempotency keys", deleted)
        except Exception as exc:  # a database outage must not kill the loop
            log.warning("idempotency purge failed: %s", type(exc).__name__)


# Each shutdown step should take milliseconds; the bound only keeps one that never ends
# (a task that swallowed its cancellation, a listener thread that never stops) from holding
# the process: uvicorn exits only once the lifespan has.
SHUTDOWN_STEP_SECONDS = 10.0


async def _bounded(step: str, work: Callable[[], Awaitable[object]], seconds: float) -> None:
    """Run one shutdown step; log and move on if it fails or outlives `seconds`.

    `asyncio.wait`, not `wait_for`: on a timeout `wait_for` waits for the cancelled work to
    finish, which is exactly what a stuck step never does.
    """
    task = asyncio.ensure_future(work())
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        log.error("shutdown: %s did not finish within %.0f s; abandoned", step, seconds)
    elif not task.cancelled() and (exc := task.exception()) is not None:
        log.error("shutdown: %s failed: %s", step, type(exc).__name__, exc_info=exc)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _refuse_unless_schema_at_head(engine: AsyncEngine, settings: Settings) -> None:
    """Fail startup on a schema other than the head; start anyway if the database does not
    answer (it may come back; /readyz reports it meanwhile)."""
    bound = settings.db_connect_timeout_seconds + settings.db_command_timeout_seconds
    try:
        await asyncio.wait_for(migrate.ensure_schema_at_head(engine), timeout=bound)
    except migrate.SchemaNotAtHead as exc:
        log.error("startup refused: %s", exc)
        raise
    except Exception as exc:
        if not (isinstance(exc, TimeoutError) or is_database_unavailable(exc)):
            raise
        log.warning("database unavailable at startup (%s); /readyz reports it", type(exc).__name__)


def _freeze_startup_objects(stack: contextlib.AsyncExitStack) -> None:
    """Keep what startup built out of the cyclic garbage collector until shutdown.

    Modules, the app, pydantic's and SQLAlchemy's caches live as long as the process, yet
    every full collection walked them all: at 64 connections that was ~60 µs of a vote's
    CPU and pauses that made p99 150 ms (docs/benchmarks.md). Frozen, a collection walks
    only what requests allocate. No `gc.collect()` first: a little startup garbage stays
    until shutdown, and tests that start hundreds of apps do not pay a full collection each.
    """
    gc.freeze()
    stack.callback(gc.unfreeze)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; nothing touches the network or disk until the lifespan starts."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Each piece registers its undoing as soon as it exists: a failure at any step of
        # startup unwinds what was already started (in reverse), so the process can exit
        # instead of waiting on a writer or dispatcher that nobody will stop.
        async with contextlib.AsyncExitStack() as stack:
            url = embedded_postgres.database_url(settings)
            if settings.embedded:
                # uvicorn re-raises SIGTERM after shutdown, so atexit would never run.
                stack.callback(embedded_postgres.stop, settings.feedback_data_dir)
            engine = create_engine(settings, url)
            stack.push_async_callback(_bounded, "engine", engine.dispose, SHUTDOWN_STEP_SECONDS)
            app.state.engine = engine
            app.state.sessionmaker = make_sessionmaker(engine)
            # Export (and analytics that adopt it) read from the replica when one is configured.
            app.state.analytics_engine = engine
            if settings.analytics_database_url:
                analytics = create_engine(settings, settings.analytics_database_url)
                app.state.analytics_engine = analytics
                stack.push_async_callback(
                    _bounded, "analytics engine", analytics.dispose, SHUTDOWN_STEP_SECONDS
                )
            if settings.require_schema_at_head:
                await _refuse_unless_schema_at_head(engine, settings)
            app.state.auth = AuthState(
                signer=TokenSigner(
                    load_secret(settings), key_cache_seconds=settings.api_key_cache_seconds
                ),
                key_cache=KeyCache(settings.api_key_cache_seconds),
                limiter=RateLimiter(settings.token_rate_limit_per_minute),
                failed_auth=RateLimiter(
                    settings.failed_auth_per_minute,
                    message="Too many failed authentication attempts from this address.",
                ),
            )

            async def pending_bookkeeping() -> None:
                # Graceful shutdown: uvicorn has drained in-flight requests; let pending
                # bookkeeping writes (key last_used_at) finish before the pool closes.
                pending = app.state.auth.background
                if pending:
                    await asyncio.wait(set(pending), timeout=5)

            stack.push_async_callback(pending_bookkeeping)
            writer = GroupWriter.for_app(app)
            app.state.writer = writer
            writer.start()
            # uvicorn has drained the requests: commit what they queued before the pool goes.
            stack.push_async_callback(
                _bounded, "writer flush", writer.close, settings.shutdown_grace_seconds
            )
            purger = asyncio.create_task(purge_idempotency_keys_forever(app))
            stack.push_async_callback(
                _bounded, "idempotency purger", partial(_cancel, purger), SHUTDOWN_STEP_SECONDS
            )
            metrics_listener = start_metrics_listener(app, settings)
            if metrics_listener is not None:
                stack.callback(metrics_listener.server_close)
                stack.push_async_callback(
                    _bounded,
                    "metrics listener",
                    partial(asyncio.to_thread, metrics_listener.shutdown),
                    SHUTDOWN_STEP_SECONDS,
                )
            # Registered first: a dispatcher that fails halfway through starting is stopped too.
            stack.push_async_callback(
                _bounded,
                "webhook dispatcher",
                partial(webhook_dispatcher.stop, app),
                settings.shutdown_grace_seconds,
            )
            webhook_dispatcher.start(app, settings, url)
            _freeze_startup_objects(stack)
            yield

    app = FastAPI(
        title="feedback-service",
        version="0.1.0",
        summary="Collects and analyses feedback on AI answers.",
        lifespan=lifespan,
        docs_url=None,  # served offline by app.pages
        redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app, retry_after_seconds=settings.retry_after_seconds)
    idempotency.install(app)
    # Added first = innermost: request id → body size → CORS → caller → vote fast path → route.
    app.add_middleware(FastVotes, enabled=settings.vote_fast_path)
    app.add_middleware(Authentication, prefix="/api/v1")
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        InFlightLimit,
        limit=settings.max_in_flight_requests,
        retry_after_seconds=settings.retry_after_seconds,
    )
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
            max_age=600,
        )
    app.include_router(health_router)
    app.include_router(api_router)
    app.include_router(dashboard_router)
    app.include_router(widget_router)
    install_pages(app)
    install_openapi(app)
    install_observability(app, settings)
    return app


app = create_app()
