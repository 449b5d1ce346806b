"""The route class every `/api/v1` router uses: one session per request, committed after
the endpoint returns and before the response is sent, with Idempotency-Key handled in
that same transaction. Services only flush; nothing is acknowledged uncommitted.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from app.auth.dependencies import access_guard_of, authenticate, bearer
from app.db import request_session
from app.idempotency import service as idempotency

IDEMPOTENCY_HEADER = "Idempotency-Key"


class TransactionalRoute(APIRoute):
    """Commit before responding; replay or refuse a reused Idempotency-Key."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        guard = access_guard_of(self.dependant)

        async def transactional_handler(request: Request) -> Response:
            session = request_session(request)
            try:
                claim = None
                key = request.headers.get(IDEMPOTENCY_HEADER)
                if key is not None and request.method == "POST":
                    if guard is not None:
                        # A replay must not outlive the credential: authenticate and
                        # authorise first (the endpoint's dependencies reuse the result).
                        await guard(request, await authenticate(request, await bearer(request)))
                    claim = await idempotency.claim(
                        session,
                        caller=idempotency.caller_of(request.headers.get("authorization")),
                        key=key,
                        request_fingerprint=idempotency.fingerprint(
                            request.method, request.url.path, await request.body()
                        ),
                    )
                    if claim.replay is not None:
                        await session.rollback()
                        return Response(
                            content=claim.replay.body,
                            status_code=claim.replay.status_code,
                            media_type="application/json",
                            headers={"Idempotent-Replayed": "true"},
                        )
                response = await handler(request)
                if claim is not None and response.status_code < 400:
                    # Every committed outcome is remembered, so a replay never finds the
                    # claim's placeholder (status 0).
                    await idempotency.record(
                        session,
                        claim.id,
                        status_code=response.status_code,
                        body=bytes(getattr(response, "body", b"")).decode(),
                    )
                if response.status_code < 400:
                    await session.commit()
                else:
                    await session.rollback()
                return response
            except BaseException:
                await session.rollback()
                raise
            finally:
                await session.close()
                request.state.db_session = None

        return transactional_handler
