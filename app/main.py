"""The application factory: lifespan, middleware, error handlers, routers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app import embedded_postgres
from app.api import api_router
from app.auth.authentication import Authentication, AuthState, KeyCache, RateLimiter
from app.auth.tokens import TokenSigner, load_secret
from app.config import Settings, get_settings
from app.dashboard.router import router as dashboard_router
from app.db import create_engine, make_sessionmaker
from app.errors import install_error_handlers
from app.health import router as health_router
from app.idempotency import dependencies as idempotency
from app.idempotency import service as idempotency_service
from app.load_shedding import InFlightLimit
from app.middleware import BodySizeLimit
from app.observability import install_observability, start_metrics_listener
from app.openapi_doc import install_openapi
from app.pages import install_pages
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


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; nothing touches the network or disk until the lifespan starts."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = embedded_postgres.database_url(settings)
        engine = create_engine(settings, url)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        # Export (and analytics that adopt it) read from the replica when one is configured.
        app.state.analytics_engine = (
            create_engine(settings, settings.analytics_database_url)
            if settings.analytics_database_url
            else engine
        )
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
        purger = asyncio.create_task(purge_idempotency_keys_forever(app))
        app.state.writer = GroupWriter.for_app(app)
        app.state.writer.start()
        metrics_listener = start_metrics_listener(app, settings)
        webhook_dispatcher.start(app, settings, url)
        try:
            yield
        finally:
            await webhook_dispatcher.stop(app)
            if metrics_listener is not None:
                metrics_listener.shutdown()
                metrics_listener.server_close()
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger
            # uvicorn has drained the requests: commit what they queued before the pool goes.
            await app.state.writer.close()
            # Graceful shutdown: uvicorn has drained in-flight requests; let pending
            # bookkeeping writes (key last_used_at) finish before the pool closes.
            pending = app.state.auth.background
            if pending:
                await asyncio.wait(set(pending), timeout=5)
            if app.state.analytics_engine is not engine:
                await app.state.analytics_engine.dispose()
            await engine.dispose()
            if settings.embedded:
                # uvicorn re-raises SIGTERM after shutdown, so atexit would never run.
                embedded_postgres.stop(settings.feedback_data_dir)

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
    # Added first = innermost: request id → body size → CORS → caller → route.
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
