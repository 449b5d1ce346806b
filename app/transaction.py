"""The route class every `/api/v1` router uses: it commits the request's session after the
endpoint returns and before the response is sent, or rolls it back. Services only flush;
nothing is acknowledged uncommitted.

Cross-cutting pieces that must write in the same transaction (Idempotency-Key records)
register a `before_commit` hook from their dependency; the route awaits the hooks with
the response just before committing a successful one. Nothing else happens here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from app.db import close_request_session, opened_session

BeforeCommit = Callable[[Response], Awaitable[None]]
_HOOKS = "before_commit_hooks"


def before_commit(request: Request, hook: BeforeCommit) -> None:
    """Run `hook(response)` in the request's transaction, just before a < 400 commits."""
    hooks: list[BeforeCommit] | None = getattr(request.state, _HOOKS, None)
    if hooks is None:
        hooks = []
        setattr(request.state, _HOOKS, hooks)
    hooks.append(hook)


class TransactionalRoute(APIRoute):
    """Commit a successful response's transaction before sending it; roll back otherwise."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def transactional_handler(request: Request) -> Response:
            try:
                response = await handler(request)
                session = opened_session(request)
                if session is not None:
                    if response.status_code < 400:
                        for hook in getattr(request.state, _HOOKS, ()):
                            await hook(response)
                        await session.commit()
                    else:
                        await session.rollback()
                return response
            except BaseException:
                session = opened_session(request)
                if session is not None:
                    await session.rollback()
                raise
            finally:
                await close_request_session(request)

        return transactional_handler
