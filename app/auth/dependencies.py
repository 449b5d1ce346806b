"""Who is calling: `Authorization: Bearer <key-or-token>` → a `Principal`, and the named
`Annotated` aliases routes declare (`Admin`, `IngestOrAdmin`, `ExpertOrAdmin`, ...).

Missing, unknown, revoked, tampered or expired credentials → 401; a valid credential
without the right → 403. Feedback tokens are accepted only where a route says so.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Literal

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth import keys
from app.auth import service as auth_service
from app.auth.models import Scope
from app.auth.tokens import (
    TOKEN_PREFIX,
    FeedbackToken,
    TokenInvalid,
    TokenSigner,
    ensure_token_standing,
)
from app.db import request_session
from app.errors import Forbidden, TooManyRequests, Unauthorized

TokenTarget = Literal["conversation", "cache"]
TOUCH_INTERVAL_SECONDS = 60.0


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: an API key, or a browser's feedback token."""

    scope: Scope | None
    key_id: uuid.UUID | None = None
    expert_id: uuid.UUID | None = None
    user_id: int | None = None
    token: FeedbackToken | None = None

    @property
    def is_admin(self) -> bool:
        return self.scope is Scope.admin

    @property
    def rate_identity(self) -> str:
        """Rate limits apply per key, or per token (per bound user) within its target: one
        spamming token cannot exhaust the limit of every other rater of that target."""
        if self.token is not None:
            token = self.token
            who = f"user:{token.user_id}" if token.user_id is not None else token.token_id
            return f"token:{token.conversation_id or ''}:{token.cache_key or ''}:{who}"
        return f"key:{self.key_id}"

    def user_for_conversation(self, conversation_id: str, user_id: int | None) -> int | None:
        """Check a token's binding to `conversation_id`; return the user id to record."""
        if self.token is None:
            return user_id
        if self.token.conversation_id is None or self.token.conversation_id != conversation_id:
            raise Forbidden("This feedback token is for another conversation.")
        return self._token_user(user_id)

    def user_for_cache_key(self, cache_key: str, user_id: int | None = None) -> int | None:
        """Check a token's binding to `cache_key`; return the user id to record."""
        if self.token is None:
            return user_id
        if self.token.cache_key is None or self.token.cache_key != cache_key:
            raise Forbidden("This feedback token is for another cache entry.")
        return self._token_user(user_id)

    def _token_user(self, user_id: int | None) -> int | None:
        assert self.token is not None
        bound = self.token.user_id
        if user_id is not None and user_id != bound:
            raise Forbidden(
                "A feedback token cannot claim a user_id it is not bound to."
                if bound is None
                else "user_id differs from the one this token is bound to."
            )
        return bound

    def acting_expert(self, expert_id: uuid.UUID | None) -> uuid.UUID | None:
        """The expert an expert key acts for; it may act only for its own profile."""
        if self.scope is Scope.expert:
            if expert_id is not None and expert_id != self.expert_id:
                raise Forbidden("An expert key acts only for its own profile.")
            return self.expert_id
        return expert_id


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimiter:
    """Token bucket per identity, in process: the limit is per replica (see README)."""

    per_minute: int
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def check(self, identity: str) -> None:
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        rate = self.per_minute / 60.0
        bucket = self._buckets.get(identity)
        if bucket is None:
            if len(self._buckets) > 100_000:
                self._buckets.clear()
            bucket = self._buckets[identity] = _Bucket(float(self.per_minute), now)
        bucket.tokens = min(float(self.per_minute), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens < 1.0:
            retry_after = max(1, math.ceil((1.0 - bucket.tokens) / rate))
            raise TooManyRequests(
                "Rate limit exceeded for this credential.",
                headers={"Retry-After": str(retry_after)},
            )
        bucket.tokens -= 1.0


@dataclass
class AuthState:
    """Per-process authentication state, kept on `app.state.auth`."""

    signer: TokenSigner
    key_cache: auth_service.KeyCache
    limiter: RateLimiter
    last_touch: dict[uuid.UUID, float] = field(default_factory=dict)
    background: set[asyncio.Task[None]] = field(default_factory=set)


bearer = HTTPBearer(auto_error=False, description="An API key (fbk_...) or a feedback token.")


def _auth_state(request: Request) -> AuthState:
    state: AuthState = request.app.state.auth
    return state


async def _lookup_key(request: Request, public_id: str) -> auth_service.KeyRecord | None:
    state = _auth_state(request)
    cached, record = state.key_cache.get(public_id)
    if not cached:
        record = await auth_service.find_key(request_session(request), public_id)
        state.key_cache.put(public_id, record)
    return record


def _touch_later(request: Request, key_id: uuid.UUID) -> None:
    """Update `last_used_at` off the request path, at most once a minute per process."""
    state = _auth_state(request)
    now = time.monotonic()
    if now - state.last_touch.get(key_id, -math.inf) < TOUCH_INTERVAL_SECONDS:
        return
    state.last_touch[key_id] = now
    engine = request.app.state.engine

    async def touch() -> None:
        from sqlalchemy.ext.asyncio import AsyncSession

        try:
            async with AsyncSession(engine) as session:
                await auth_service.touch_last_used(session, key_id)
                await session.commit()
        except Exception:  # noqa: S110  (bookkeeping must never fail a request)
            pass

    task = asyncio.create_task(touch())
    state.background.add(task)
    task.add_done_callback(state.background.discard)


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """Resolve the bearer credential to a principal, or 401 (once per request)."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal = await _authenticate(request, credentials)
    request.state.principal = principal
    return principal


async def _authenticate(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send `Authorization: Bearer <key-or-token>`.")
    presented = credentials.credentials
    if presented.startswith(TOKEN_PREFIX):
        try:
            token = _auth_state(request).signer.verify(presented)
        except TokenInvalid as exc:
            raise Unauthorized(
                "The feedback token is expired."
                if str(exc) == "expired"
                else "The feedback token is not valid.",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ) from None
        signer = _auth_state(request).signer
        await ensure_token_standing(request_session(request), signer, token)
        return Principal(scope=None, user_id=token.user_id, token=token)
    parsed = keys.parse(presented)
    record = await _lookup_key(request, parsed[0]) if parsed else None
    if parsed is None or record is None or not keys.matches(parsed[1], record.secret_hash):
        raise Unauthorized(
            "Unknown API key.", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )
    if record.revoked:
        raise Unauthorized(
            "This API key was revoked.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    _touch_later(request, record.id)
    return Principal(
        scope=record.scope, key_id=record.id, expert_id=record.expert_id, user_id=record.user_id
    )


def require(
    *scopes: Scope, token: TokenTarget | None = None
) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting keys of `scopes` (admin always) and, if named, feedback tokens
    for that kind of target. Rate limits are applied here, after authentication."""
    allowed = {Scope.admin, *scopes}

    async def dependency(
        request: Request, principal: Annotated[Principal, Depends(authenticate)]
    ) -> Principal:
        if principal.token is not None:
            bound = (
                principal.token.conversation_id
                if token == "conversation"
                else principal.token.cache_key
                if token == "cache"
                else None
            )
            if bound is None:
                raise Forbidden("Feedback tokens cannot be used here.")
        elif principal.scope not in allowed:
            needed = " or ".join(sorted(s.value for s in allowed))
            raise Forbidden(f"This route needs a key with scope {needed}.")
        if not getattr(request.state, "rate_limited", False):
            request.state.rate_limited = True  # one request, one token from the bucket
            _auth_state(request).limiter.check(principal.rate_identity)
        return principal

    dependency.is_access_guard = True  # type: ignore[attr-defined]
    return dependency


def access_guard_of(dependant: Dependant) -> Callable[..., Awaitable[Principal]] | None:
    """The `require(...)` dependency of a route, if it has one (found by walking it)."""
    for sub in dependant.dependencies:
        if getattr(sub.call, "is_access_guard", False):
            return sub.call
        found = access_guard_of(sub)
        if found is not None:
            return found
    return None


Admin = Annotated[Principal, Depends(require(Scope.admin))]
IngestOrAdmin = Annotated[Principal, Depends(require(Scope.ingest))]
ExpertOrAdmin = Annotated[Principal, Depends(require(Scope.expert))]
VoteWriter = Annotated[Principal, Depends(require(Scope.ingest, token="conversation"))]
CacheRater = Annotated[Principal, Depends(require(Scope.ingest, token="cache"))]
