"""The lean path of `POST /api/v1/feedback`: the vote ingest without FastAPI's routing and
dependency solving, which were a third of a vote's CPU (py-spy, docs/benchmarks.md).

`FastVotes` is pure ASGI middleware just inside the authentication middleware, so the
request id, access log, metrics, in-flight limit, body size limit, authentication and rate
limit run exactly as for every route. For a well-formed vote it does what the FastAPI
route (`app/votes/router.py::submit_vote`, still declared: it is the OpenAPI document and
the reference) does, with the same functions: the same `TypeAdapter` validation of the
same parsed JSON, the same access rule (`VOTE_WRITERS`), the same token binding check,
the same writer call and rendering, the app's own exception handlers for every error.

Anything else is handed to the FastAPI route with the body it sent, unchanged: an invalid
or non-JSON body, another content type, an invalid Idempotency-Key header, a client that
went away mid-body. FastAPI then answers exactly as it always did (the 422 with its field
locations, the 400 for an unreadable body), so the fast path needs no copy of those rules.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.authentication import PRINCIPAL_STATE
from app.auth.dependencies import VOTE_WRITERS
from app.auth.principal import Principal
from app.errors import handler_for
from app.idempotency.service import MAX_KEY_LENGTH
from app.votes.ingest import VOTES
from app.votes.schemas import VoteCreate
from app.writer import JSON, GroupWriter, claim_for

PATH = "/api/v1/feedback"
# FastAPI validates a body model with this call on the parsed JSON (`ModelField.validate`:
# `validate_python(value, from_attributes=True)` after `json.loads`). `validate_json` on the
# raw bytes is ~5 µs faster here but is not the same parser (NaN, surrogates, duplicate
# keys can differ), and the fast path must accept exactly what the route accepts.
_VOTE = TypeAdapter(VoteCreate)
_JSON_TYPE = b"application/json"
_CONTENT_TYPE = (b"content-type", JSON.encode())


def _is_json(content_type: bytes) -> bool:
    """`application/json`, any case, with or without parameters: a type FastAPI parses as
    JSON too (it also takes `+json` and missing types; those go to the route)."""
    return content_type.split(b";", 1)[0].strip().lower() == _JSON_TYPE


class FastVotes:
    """Serve well-formed `POST /api/v1/feedback` requests directly; pass the rest on."""

    def __init__(self, app: ASGIApp, *, enabled: bool = True) -> None:
        self.app = app
        self.enabled = enabled
        self.served = 0  # requests answered here (tests prove the fast path was taken)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            not self.enabled
            or scope["type"] != "http"
            or scope["path"] != PATH
            or scope["method"] != "POST"
        ):
            await self.app(scope, receive, send)
            return
        principal: Principal | None = scope.get("state", {}).get(PRINCIPAL_STATE)
        content_type: bytes | None = None
        idempotency_key: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"content-type" and content_type is None:
                content_type = value
            elif name == b"idempotency-key" and idempotency_key is None:
                idempotency_key = value
        messages: list[Message] = []
        chunks: list[bytes] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":  # gone mid-body: the route's answer
                await self.app(scope, _replay(messages, receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        key = None if idempotency_key is None else idempotency_key.decode("latin-1")
        if (
            principal is None
            or not body
            or content_type is None
            or not _is_json(content_type)
            or (key is not None and not 1 <= len(key) <= MAX_KEY_LENGTH)
        ):
            await self.app(scope, _replay(messages, receive), send)
            return
        try:
            payload = _VOTE.validate_python(json.loads(body), from_attributes=True)
        except Exception:  # not JSON, not a valid vote, too deep: the route's 422 / 400
            await self.app(scope, _replay(messages, receive), send)
            return
        try:
            VOTE_WRITERS.check(principal)
            user_id = principal.user_for_conversation(payload.conversation_id, payload.user_id)
            claim = None
            if key is not None:
                path = Request(scope).url.path
                claim = claim_for(principal, key, scope["method"], path, body)
            writer: GroupWriter = scope["app"].state.writer
            written = await writer.submit(VOTES, (payload, user_id), claim=claim)
        except Exception as exc:
            self.served += 1
            await self._error(scope, messages, receive, send, exc)
            return
        self.served += 1
        await send(
            {
                "type": "http.response.start",
                "status": written.status_code,
                "headers": [(b"content-length", b"%d" % len(written.body)), _CONTENT_TYPE],
            }
        )
        await send({"type": "http.response.body", "body": written.body})

    async def _error(
        self,
        scope: Scope,
        messages: list[Message],
        receive: Receive,
        send: Send,
        exc: Exception,
    ) -> None:
        """Answer `exc` with the handler the app registered for it, as the route would
        have; an error no handler takes goes up to the server-error middleware (500)."""
        handler = handler_for(scope["app"], exc)
        if handler is None:
            raise exc
        request = Request(scope, _replay(messages, receive))
        response: Any = handler(request, exc)
        if inspect.isawaitable(response):
            response = await response
        await response(scope, receive, send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A `receive` that yields the messages already read, then defers to the real one."""
    pending = list(reversed(messages))

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def fast_votes_of(app: Any) -> FastVotes | None:
    """The `FastVotes` layer of a started app's middleware stack, if it has one."""
    layer = getattr(app, "middleware_stack", None)
    while layer is not None and not isinstance(layer, FastVotes):
        layer = getattr(layer, "app", None)
    return layer
