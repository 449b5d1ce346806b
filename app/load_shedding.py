"""A bounded number of requests in flight per process; the excess is refused at once.

Without it, overload queues every request on the database pool until `pool_timeout`, so
*all* requests get slow and then fail together. Refusing the excess up front (503 +
Retry-After, before the body is read) keeps the accepted ones at their normal latency and
tells clients and load balancers to back off. Operational routes stay exempt: a busy
process is alive, and its readiness and metrics must stay observable.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import problem

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class InFlightLimit:
    """Pure ASGI middleware: at most `limit` HTTP requests at once (0 = no limit)."""

    def __init__(self, app: ASGIApp, *, limit: int, retry_after_seconds: int) -> None:
        self.app = app
        self.limit = limit
        self.retry_after = str(retry_after_seconds)
        self.in_flight = 0
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limit == 0 or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            self.refused += 1
            response = problem(
                503,
                "Service Unavailable",
                "The service is at capacity; retry later.",
                slug="overloaded",
                headers={"Retry-After": self.retry_after},
            )
            await response(scope, receive, send)
            return
        # One event loop per process: the counter needs no lock.
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
