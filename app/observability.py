"""Logs and metrics: structlog (JSON, or a console renderer in a terminal), a request id on
every request and every log line it causes, one access line per request, and `/metrics`.

Nothing here ever logs a header, a query string, a body or a raw path: the access line
carries the route *template* (`/api/v1/users/{user_id}`, not the id), and a last
processor masks secrets, keys, tokens and e-mail addresses should any slip into an event.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterable, MutableMapping
from typing import IO, Any
from wsgiref.simple_server import WSGIServer

import structlog
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator.routing import get_route_name
from sqlalchemy.pool import QueuePool
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings

REQUEST_ID_HEADER = "X-Request-ID"
# Accepted as given when short and made of characters that cannot forge a log line.
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")

_GENERATED_ID_RE = re.compile(r"^[0-9a-f]{32}$")  # uuid4().hex, as RequestContext makes

REDACTED = "[redacted]"
_SENSITIVE_KEYS = frozenset(
    {
        "authorization",
        "cookie",
        "set-cookie",
        "token",
        "key",
        "api_key",
        "secret",
        "password",
        "email",
        "comment",
        "feedback_token_secret",
        "idempotency-key",
    }
)
_SECRET_RE = re.compile(r"\b(?:fbk|fbt)_[A-Za-z0-9_.~+/=-]+|(?i:bearer)\s+\S+")
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")

_HANDLER_MARK = "_feedback_service_handler"

access_log = structlog.stdlib.get_logger("feedback_service.access")


def valid_request_id(value: str | None) -> str | None:
    """The incoming id if it is safe to echo and log, else None (a new one is generated)."""
    if value is not None and _REQUEST_ID_RE.match(value):
        return value
    return None


def _scrub(value: str) -> str:
    return _EMAIL_RE.sub(REDACTED, _SECRET_RE.sub(REDACTED, value))


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """Mask sensitive keys, and tokens/keys/e-mails inside any string value."""
    for name, value in list(event_dict.items()):
        if name.lower() in _SENSITIVE_KEYS:
            event_dict[name] = REDACTED
        elif isinstance(value, str):
            event_dict[name] = _scrub(value)
    return event_dict


def wants_json(settings: Settings, stream: IO[str]) -> bool:
    """JSON lines unless configured otherwise or writing to a terminal."""
    if settings.log_json is not None:
        return settings.log_json
    isatty = getattr(stream, "isatty", None)
    return not (callable(isatty) and isatty())


def service_logging_configured() -> bool:
    """Whether `configure_logging` installed our handler (Alembic's env.py then keeps it
    instead of installing alembic.ini's plain console handler)."""
    return any(getattr(h, _HANDLER_MARK, False) for h in logging.getLogger().handlers)


def _short_request_id(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """In a terminal, 8 characters of a generated request id are enough to follow one
    request (an id the client sent stays whole: it is what they will search for)."""
    request_id = event_dict.get("request_id")
    if isinstance(request_id, str) and _GENERATED_ID_RE.match(request_id):
        event_dict["request_id"] = request_id[:8]
    return event_dict


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> None:
    """Route structlog and stdlib logging (uvicorn, SQLAlchemy, ours) through one handler."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.PositionalArgumentsFormatter(),
        redact,
    ]
    out = stream or sys.stdout
    as_json = wants_json(settings, out)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=_is_terminal(out))
    )
    console_only: list[Any] = [] if as_json else [_short_request_id]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,
            *console_only,
            renderer,
        ],
    )
    handler: logging.Handler = (
        logging.StreamHandler(stream) if stream is not None else _StdoutHandler()
    )
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger()
    # Ours from an earlier call, and plain console handlers such as the one alembic.ini's
    # fileConfig installs when `serve` migrates first (they would print every line twice).
    for old in [
        h
        for h in root.handlers
        if getattr(h, _HANDLER_MARK, False) or type(h) is logging.StreamHandler
    ]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    # uvicorn installs its own handlers before importing the app: send its lines through
    # ours, and drop its access log (ours carries the route template and request id).
    for name in ("uvicorn", "uvicorn.error"):
        uv = logging.getLogger(name)
        uv.handlers.clear()
        uv.propagate = True
    uv_access = logging.getLogger("uvicorn.access")
    uv_access.handlers.clear()
    uv_access.propagate = False
    # Outgoing HTTP (webhooks) would log full URLs at INFO; keep only its warnings.
    logging.getLogger("httpx").setLevel(logging.WARNING)


UNMATCHED_ROUTE = "unmatched"
_CONVERTER_RE = re.compile(r"\{(\w+):\w+\}")


def _is_terminal(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(callable(isatty) and isatty())


# Client errors worth an operator's eye (credential problems, throttling) log at warning.
_WARNING_STATUSES = frozenset({401, 403, 429})


def route_template(scope: Scope) -> str:
    """`/api/v1/users/{user_id}` for `/api/v1/users/42`: the OpenAPI template (converters
    such as `{cache_key:path}` dropped), the one name both the access log and /metrics use;
    `unmatched` for any path no route serves."""
    return _route_template(
        scope.get("app"),
        scope.get("method"),
        str(scope.get("path", "")),
        scope.get("root_path", ""),
    )


# Matching walks every route (~100): remember the answer per method and path. Bounded, so
# paths full of ids evict only the oldest entries; matching depends on nothing else.
@functools.lru_cache(maxsize=4096)
def _route_template(app: Any, method: str | None, path: str, root_path: str) -> str:
    scope: Scope = {
        "type": "http",
        "app": app,
        "method": method,
        "path": path,
        "root_path": root_path,
        "headers": [],
    }
    try:
        name = get_route_name(HTTPConnection(scope), should_include_root_path=False)
    except Exception:  # a logging helper must never fail the request
        name = None
    return _CONVERTER_RE.sub(r"{\1}", name) if name else UNMATCHED_ROUTE


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stdout` is at emit time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self) -> IO[str]:
        return sys.stdout

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


class RequestContext:
    """Pure ASGI: accept or generate `X-Request-ID`, echo it, bind it to every log line of
    the request (contextvars), and write one access line when the response is done."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = valid_request_id(incoming) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        # bind/reset rather than `bound_contextvars`, which copies the whole context to
        # save the previous values (~7 % of a vote's CPU in py-spy).
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            client = scope.get("client")
            level = (
                logging.ERROR
                if status >= 500
                else logging.WARNING
                if status in _WARNING_STATUSES
                else logging.INFO
            )
            access_log.log(
                level,
                "request",
                method=scope.get("method"),
                route=route_template(scope),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                client=client[0] if client else None,
            )
            structlog.contextvars.reset_contextvars(**tokens)


class PoolCollector(Collector):
    """Connections of the app's database pools, read at scrape time."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def _pools(self) -> Iterable[tuple[str, QueuePool]]:
        state = self.app.state
        primary = getattr(state, "engine", None)
        analytics = getattr(state, "analytics_engine", None)
        for name, engine in (("primary", primary), ("analytics", analytics)):
            if engine is None or (name == "analytics" and analytics is primary):
                continue
            pool = engine.pool
            if isinstance(pool, QueuePool):
                yield name, pool

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        in_use = GaugeMetricFamily(
            "db_pool_connections_in_use", "Connections checked out of the pool.", labels=["pool"]
        )
        idle = GaugeMetricFamily(
            "db_pool_connections_idle", "Open connections waiting in the pool.", labels=["pool"]
        )
        size = GaugeMetricFamily(
            "db_pool_size", "Configured pool size (DB_POOL_SIZE).", labels=["pool"]
        )
        for name, pool in self._pools():
            in_use.add_metric([name], pool.checkedout())
            idle.add_metric([name], pool.checkedin())
            size.add_metric([name], pool.size())
        return [in_use, idle, size]


class HttpMetrics:
    """Pure ASGI: `http_requests_total` and `http_request_duration_seconds` by route
    template, method and exact status. The template is the route the router matched
    (`scope["route"]`); only requests answered before routing (401, 413, 429 from the
    middleware) walk the route table. Replaces prometheus-fastapi-instrumentator's
    middleware, which walked every route on every request (~10 % of a vote's CPU)."""

    def __init__(self, app: ASGIApp, *, registry: CollectorRegistry, excluded: set[str]) -> None:
        self.app = app
        self.excluded = excluded
        labels = ("handler", "method", "status")
        self.requests = Counter(
            "http_requests",
            "Total number of requests by method, status and handler.",
            labelnames=labels,
            registry=registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Latency with many buckets but no API specific labels.",
            labelnames=labels,
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.excluded:
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # `unmatched` for paths no route serves: one name in logs and metrics.
            labels = (route_template(scope), scope["method"], str(status))
            self.requests.labels(*labels).inc()
            self.latency.labels(*labels).observe(time.perf_counter() - started)


def install_metrics(app: FastAPI, *, expose: bool = True) -> CollectorRegistry:
    """`GET /metrics` (not in the OpenAPI schema): request count and latency by route
    template, method and exact status, and the DB pool gauges. One registry per app.
    `expose=False`: measured, but served only by `start_metrics_listener`."""
    registry = CollectorRegistry()
    app.add_middleware(HttpMetrics, registry=registry, excluded={"/metrics"})
    if expose:
        Instrumentator(registry=registry).expose(app, include_in_schema=False, tags=["operations"])
    registry.register(PoolCollector(app))
    app.state.metrics_registry = registry
    return registry


def install_observability(app: FastAPI, settings: Settings) -> None:
    """Logging, `/metrics`, and the request-id middleware (added last: outermost)."""
    configure_logging(settings)
    install_metrics(app, expose=settings.metrics_port is None)
    app.add_middleware(RequestContext)


def start_metrics_listener(app: FastAPI, settings: Settings) -> WSGIServer | None:
    """With METRICS_PORT, serve `/metrics` on a listener of its own (a thread), so the
    public port never shows it; returns the server to shut down, or None."""
    if settings.metrics_port is None:
        return None
    server, _thread = start_http_server(
        settings.metrics_port, addr=settings.host, registry=app.state.metrics_registry
    )
    return server
