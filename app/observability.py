"""Logs and metrics: structlog (JSON, or a console renderer in a terminal), a request id on
every request and every log line it causes, one access line per request, and `/metrics`.

Nothing here ever logs a header, a query string, a body or a raw path: the access line
carries the route *template* (`/api/v1/users/{user_id}`, not the id), and a last
processor masks secrets, keys, tokens and e-mail addresses should any slip into an event.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import re
import sys
import time
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
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings

REQUEST_ID_HEADER = "X-Request-ID"
# Accepted as given when short and made of characters that cannot forge a log line.
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")

_GENERATED_ID_RE = re.compile(r"^[0-9a-f]{32}$")  # 32 hex digits, as RequestContext makes

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

ACCESS_LOGGER = "feedback_service.access"
access_log = structlog.stdlib.get_logger(ACCESS_LOGGER)
_access_std = logging.getLogger(ACCESS_LOGGER)
# Whether the handler renders JSON: then access lines are rendered once, here (see
# `_log_access`); the console renderer keeps the structlog chain (a terminal, not a hot path).
_access_json = False
_PRERENDERED = "_feedback_service_prerendered"
_render_json = structlog.processors.JSONRenderer()
_LEVEL_NAMES = {logging.INFO: "info", logging.WARNING: "warning", logging.ERROR: "error"}
# The line JSONRenderer gives the usual access event, key order included (a test compares).
_ACCESS_LINE = (
    '{"method": %s, "route": %s, "status": %d, "duration_ms": %s, "client": %s, '
    '"event": "request", "request_id": %s, "level": "%s", '
    '"logger": "' + ACCESS_LOGGER + '", "timestamp": "%s"}'
)
_json_str = json.encoder.encode_basestring_ascii  # what json.dumps uses for a str


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
    global _access_json
    _access_json = as_json
    formatter = _Formatter(
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


class _Formatter(structlog.stdlib.ProcessorFormatter):
    """structlog's formatter, except for access lines `RequestContext` rendered itself."""

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, _PRERENDERED, False):
            return str(record.msg)
        return super().format(record)


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


_REQUEST_ID_KEY = REQUEST_ID_HEADER.lower().encode("latin-1")


def _with_header(
    headers: Iterable[tuple[bytes, bytes]], name: bytes, value: bytes
) -> list[tuple[bytes, bytes]]:
    """`headers` with `name` set to `value`: what `MutableHeaders[name] = value` does (the
    first occurrence replaced in place, later ones dropped, else appended), without
    building a Headers object per response."""
    out: list[tuple[bytes, bytes]] = []
    placed = False
    for key, existing in headers:
        if key == name:
            if not placed:
                out.append((name, value))
                placed = True
            continue
        out.append((key, existing))
    if not placed:
        out.append((name, value))
    return out


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
        # 128 random bits as 32 hex digits, like `uuid4().hex` without building a UUID.
        request_id = valid_request_id(incoming) or os.urandom(16).hex()
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = _with_header(
                    message.get("headers", ()), _REQUEST_ID_KEY, request_id.encode("latin-1")
                )
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
            _log_access(
                level,
                method=scope.get("method"),
                route=route_template(scope),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                client=client[0] if client else None,
                generated_id=incoming is None or incoming != request_id,
            )
            structlog.contextvars.reset_contextvars(**tokens)


def _log_access(
    level: int,
    *,
    method: str | None,
    route: str,
    status: int,
    duration_ms: float,
    client: str | None,
    generated_id: bool,
) -> None:
    """One access line. With JSON logs it is rendered here, once, with exactly the fields
    and order the structlog chain gives it (the fields, event, the bound context, level,
    logger, timestamp), redacted the same way, and handed to the stdlib handlers as a
    finished line: the chain built a logger, copied the event twice and ran ~10
    processors per request (~10 % of a vote's CPU in py-spy)."""
    if not _access_json:
        access_log.log(
            level,
            "request",
            method=method,
            route=route,
            status=status,
            duration_ms=duration_ms,
            client=client,
        )
        return
    if not _access_std.isEnabledFor(level):
        return
    context = structlog.contextvars.get_contextvars()
    level_name = _LEVEL_NAMES.get(level) or logging.getLevelName(level).lower()
    timestamp = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    request_id = context.get("request_id")
    if (
        len(context) == 1
        and isinstance(request_id, str)
        and (generated_id or _scrub(request_id) == request_id)
        and method is not None
        and method.isalpha()
    ):
        # The usual line (only the request id bound, nothing in it or the method that
        # redaction would change): a precompiled template, each value encoded as
        # json.dumps encodes it. Route templates, statuses, durations and addresses
        # cannot hold a secret or an e-mail.
        line = _ACCESS_LINE % (
            _json_str(method),
            _json_str(route),
            status,
            float.__repr__(duration_ms),
            "null" if client is None else _json_str(client),
            _json_str(request_id),
            level_name,
            timestamp,
        )
    else:
        event: dict[str, Any] = {
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": duration_ms,
            "client": client,
            "event": "request",
        }
        for name, value in context.items():
            event.setdefault(name, value)
        event["level"] = level_name
        event["logger"] = ACCESS_LOGGER
        event["timestamp"] = timestamp
        redact(None, "", event)
        line = str(_render_json(None, "", event))
    record = _access_std.makeRecord(ACCESS_LOGGER, level, "(access)", 0, line, (), None)
    setattr(record, _PRERENDERED, True)
    _access_std.handle(record)


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
        # The children of each label set, resolved once: `labels()` takes a lock and
        # validates every value per call. Bounded like the metric itself: templates,
        # methods and statuses, never raw paths.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

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
            elapsed = time.perf_counter() - started
            key = (route_template(scope), scope["method"], status)
            children = self._children.get(key)
            if children is None:
                labels = (key[0], key[1], str(status))
                children = (self.requests.labels(*labels), self.latency.labels(*labels))
                self._children[key] = children
            children[0].inc()
            children[1].observe(elapsed)


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
