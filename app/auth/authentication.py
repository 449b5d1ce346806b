"""The caller, resolved once per request, before the body is read.

`Authentication` is a pure ASGI middleware in front of `/api/v1`: it turns
`Authorization: Bearer <key-or-token>` into a `Principal` (or answers 401 / 429 / 503
itself), charges the caller's rate bucket exactly once, and leaves the principal in the
request scope for the route dependencies (`app/auth/dependencies.py`) to authorise.

Unauthenticated traffic is bounded: failed attempts spend a per-client-address budget
(429 once it is spent, before any database lookup), and every per-identity table here is
an LRU of bounded size, so a flood of random ids evicts only the oldest entries.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth import keys
from app.auth import service as auth_service
from app.auth.models import Scope as KeyScope
from app.auth.principal import Principal, token_digest
from app.auth.tokens import TOKEN_PREFIX, TokenInvalid, TokenSigner, ensure_token_standing
from app.errors import TooManyRequests, Unauthorized, render_error

K = TypeVar("K")
V = TypeVar("V")

TOUCH_INTERVAL_SECONDS = 60.0
PRINCIPAL_STATE = "principal"
INVALID_TOKEN = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


class LRU(Generic[K, V]):
    """A dict that forgets its least recently used entries beyond `capacity`."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.capacity:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimiter:
    """Token bucket per identity, in process: the limit is per replica (see README)."""

    per_minute: int
    capacity: int = 100_000
    message: str = "Rate limit exceeded for this credential."
    _buckets: LRU[str, _Bucket] = field(init=False)

    def __post_init__(self) -> None:
        self._buckets = LRU(self.capacity)

    def _refill(self, identity: str, per_minute: int) -> _Bucket:
        now = time.monotonic()
        bucket = self._buckets.get(identity)
        if bucket is None:
            bucket = _Bucket(float(per_minute), now)
            self._buckets.put(identity, bucket)
        bucket.tokens = min(
            float(per_minute), bucket.tokens + (now - bucket.updated) * per_minute / 60
        )
        bucket.updated = now
        return bucket

    def _refusal(self, bucket: _Bucket, per_minute: int) -> TooManyRequests:
        retry_after = max(1, math.ceil((1.0 - bucket.tokens) * 60 / per_minute))
        return TooManyRequests(self.message, headers={"Retry-After": str(retry_after)})

    def check(self, identity: str, per_minute: int | None = None) -> None:
        """Take one token from `identity`'s bucket (of `per_minute`, default the limiter's
        own), or raise 429."""
        limit = self.per_minute if per_minute is None else per_minute
        if limit <= 0:
            return
        bucket = self._refill(identity, limit)
        if bucket.tokens < 1.0:
            raise self._refusal(bucket, limit)
        bucket.tokens -= 1.0

    def ensure_left(self, identity: str) -> None:
        """429 if `identity` has no token left, without taking one."""
        if self.per_minute <= 0:
            return
        bucket = self._refill(identity, self.per_minute)
        if bucket.tokens < 1.0:
            raise self._refusal(bucket, self.per_minute)


def rate_limit_for(principal: Principal, token_limit: int) -> int:
    """Requests per minute for this caller (0 = unlimited): a key's own limit if it has
    one; else browser tokens and expert keys get TOKEN_RATE_LIMIT_PER_MINUTE, while
    server-to-server keys (ingest, admin) are unlimited, so one gateway key is not
    throttled by a limit meant for browsers."""
    if principal.token is not None:
        return token_limit
    if principal.key_rate_limit is not None:
        return principal.key_rate_limit
    return token_limit if principal.scope is KeyScope.expert else 0


class KeyCache:
    """Per-process cache of key lookups (unknown ids too), bounded in age so a revocation
    reaches every replica within `ttl_seconds`, and in size so random ids evict only the
    oldest entries."""

    def __init__(self, ttl_seconds: float, capacity: int = 10_000) -> None:
        self.ttl_seconds = ttl_seconds
        self._entries: LRU[str, tuple[float, auth_service.KeyRecord | None]] = LRU(capacity)

    def get(self, public_id: str) -> tuple[bool, auth_service.KeyRecord | None]:
        hit = self._entries.get(public_id)
        if hit is None or time.monotonic() - hit[0] > self.ttl_seconds:
            return False, None
        return True, hit[1]

    def put(self, public_id: str, record: auth_service.KeyRecord | None) -> None:
        self._entries.put(public_id, (time.monotonic(), record))


@dataclass
class AuthState:
    """Per-process authentication state, kept on `app.state.auth`."""

    signer: TokenSigner
    key_cache: KeyCache
    limiter: RateLimiter
    failed_auth: RateLimiter
    last_touch: LRU[uuid.UUID, float] = field(default_factory=lambda: LRU(10_000))
    background: set[asyncio.Task[None]] = field(default_factory=set)


async def _lookup_key(
    state: AuthState, sessionmaker: async_sessionmaker[AsyncSession], public_id: str
) -> auth_service.KeyRecord | None:
    cached, record = state.key_cache.get(public_id)
    if not cached:
        async with sessionmaker() as session:
            record = await auth_service.find_key(session, public_id)
        state.key_cache.put(public_id, record)
    return record


def _touch_later(state: AuthState, engine: AsyncEngine, key_id: uuid.UUID) -> None:
    """Update `last_used_at` off the request path, at most once a minute per process."""
    now = time.monotonic()
    last = state.last_touch.get(key_id)
    if last is not None and now - last < TOUCH_INTERVAL_SECONDS:
        return
    state.last_touch.put(key_id, now)

    async def touch() -> None:
        try:
            async with AsyncSession(engine) as session:
                await auth_service.touch_last_used(session, key_id)
                await session.commit()
        except Exception:  # noqa: S110  (bookkeeping must never fail a request)
            pass

    task = asyncio.create_task(touch())
    state.background.add(task)
    task.add_done_callback(state.background.discard)


def _bearer(authorization: str | None) -> str:
    scheme, _, credential = (authorization or "").partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise Unauthorized("Send `Authorization: Bearer <key-or-token>`.")
    return credential


async def authenticate(app: FastAPI, authorization: str | None) -> Principal:
    """The principal behind an `Authorization` header, or 401."""
    state: AuthState = app.state.auth
    presented = _bearer(authorization)
    if presented.startswith(TOKEN_PREFIX):
        try:
            token = state.signer.verify(presented)
        except TokenInvalid as exc:
            raise Unauthorized(
                "The feedback token is expired."
                if str(exc) == "expired"
                else "The feedback token is not valid.",
                headers=INVALID_TOKEN,
            ) from None
        async with app.state.sessionmaker() as session:
            await ensure_token_standing(session, state.signer, token)
        return Principal(
            scope=None, user_id=token.user_id, token=token, token_digest=token_digest(presented)
        )
    parsed = keys.parse(presented)
    record = await _lookup_key(state, app.state.sessionmaker, parsed[0]) if parsed else None
    if parsed is None or record is None or not keys.matches(parsed[1], record.secret_hash):
        raise Unauthorized("Unknown API key.", headers=INVALID_TOKEN)
    if record.revoked:
        raise Unauthorized("This API key was revoked.", headers=INVALID_TOKEN)
    _touch_later(state, app.state.engine, record.id)
    return Principal(
        scope=record.scope,
        key_id=record.id,
        expert_id=record.expert_id,
        user_id=record.user_id,
        key_rate_limit=record.rate_limit_per_minute,
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class Authentication:
    """Resolve the caller of every request under `prefix` before the app sees the body."""

    def __init__(self, app: ASGIApp, *, prefix: str = "/api/v1") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] == "OPTIONS"
            or not str(scope["path"]).startswith(self.prefix)
        ):
            await self.app(scope, receive, send)
            return
        app: FastAPI = scope["app"]
        state: AuthState = app.state.auth
        client = scope.get("client")
        address = f"addr:{client[0] if client else '-'}"
        try:
            state.failed_auth.ensure_left(address)
            try:
                principal = await authenticate(app, _header(scope, b"authorization"))
            except Unauthorized:
                state.failed_auth.check(address)
                raise
            state.limiter.check(
                principal.rate_identity, rate_limit_for(principal, state.limiter.per_minute)
            )
        except Exception as exc:  # rendered here: this runs outside the app's handlers
            response = render_error(exc, retry_after_seconds=app.state.settings.retry_after_seconds)
            if response is None:
                raise
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})[PRINCIPAL_STATE] = principal
        await self.app(scope, receive, send)
