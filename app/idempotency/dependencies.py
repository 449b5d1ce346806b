"""Idempotency-Key, switched on per route: `dependencies=[Idempotent]` on a creating POST,
or `[IdempotentSecret]` when its response carries a secret (an API key, a token).

A secret is never stored: the record keeps only that the request succeeded, so a retry
with the same key and body gets 409 ("shown once") and creates nothing, instead of a
replay of the secret.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request, Response

from app.auth.dependencies import AnyCaller
from app.db import SessionDep
from app.idempotency import service
from app.idempotency.service import StoredResponse
from app.transaction import before_commit
from app.users.service import registered_user_ids

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"

# Declared once; routes on the group-commit writer (`app/writer.py`) take it directly.
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias=IDEMPOTENCY_HEADER,
        min_length=1,
        max_length=service.MAX_KEY_LENGTH,
        description="Makes the POST safe to retry: the same key with the same body "
        "returns the first response (`Idempotent-Replayed: true`) and creates "
        "nothing; with another body → 409. Kept 24 h per credential.",
        examples=["5f2b7c1e-8d0a-4c9e-9a57-2b1f0c3d4e5f"],
    ),
]


class Replay(Exception):
    """Answer with the stored first response instead of running the endpoint."""

    def __init__(self, stored: StoredResponse) -> None:
        super().__init__("idempotent replay")
        self.stored = stored


async def _replay_response(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Replay)
    return Response(
        content=exc.stored.body,
        status_code=exc.stored.status_code,
        media_type="application/json" if exc.stored.body else None,
        headers={REPLAYED_HEADER: "true"},
    )


def install(app: FastAPI) -> None:
    """Render replays (raised from the dependency, so the transaction rolls back)."""
    app.add_exception_handler(Replay, _replay_response)


def _idempotency(*, store_body: bool) -> Callable[..., Coroutine[Any, Any, None]]:
    async def idempotency(
        request: Request,
        principal: AnyCaller,
        session: SessionDep,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> None:
        if idempotency_key is None:
            return
        claim = await service.claim(
            session,
            caller=service.caller_digest(principal.identity),
            key=idempotency_key,
            request_fingerprint=service.fingerprint(
                request.method, request.url.path, await request.body()
            ),
        )
        if claim.replay is not None:
            raise Replay(claim.replay)

        async def remember(response: Response) -> None:
            await service.record(
                session,
                claim.id,
                status_code=response.status_code,
                body=bytes(response.body).decode() if store_body else None,
                owner_user_ids=registered_user_ids(session),
            )

        before_commit(request, remember)

    return idempotency


Idempotent = Depends(_idempotency(store_body=True))
IdempotentSecret = Depends(_idempotency(store_body=False))
