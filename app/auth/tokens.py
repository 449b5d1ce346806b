"""Short-lived feedback tokens for browsers: HMAC-SHA256-signed (itsdangerous), bound to one
conversation or one cache entry, optionally to one user id.

A token names the key that minted it (`kid`), when it was minted (`iat`) and itself
(`jti`), so it can be refused when its key is revoked or its user was erased after it
was minted (`ensure_token_standing`). Nothing is stored per token.

Secrets rotate without downtime: `FEEDBACK_TOKEN_SECRET=new,old` signs with the first and
verifies with any, so tokens minted before the rotation keep working until they expire.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import Unauthorized

TOKEN_PREFIX = "fbt_"
# v2: HMAC-SHA256 and the kid/iat/jti claims; v1 tokens (HMAC-SHA1) no longer verify.
_SALT = "feedback-token/v2"
SECRET_FILE = "feedback-token-secret"
MIN_SECRET_BYTES = 32
_ERASURE_HASH_CONTEXT = b"user-erasure/v1:"
_KEY_STATES_MAX = 10_000


class TokenInvalid(Exception):
    """Tampered, malformed or expired."""


@dataclass(frozen=True)
class FeedbackToken:
    conversation_id: str | None
    cache_key: str | None
    user_id: int | None
    expires_at: dt.datetime
    key_id: uuid.UUID | None = None
    issued_at: dt.datetime | None = None
    token_id: str | None = None


def split_secrets(value: str) -> list[str]:
    """`new,old` → ["new", "old"] (blank parts ignored)."""
    return [part.strip() for part in value.split(",") if part.strip()]


class TokenSigner:
    """Mints (with the first secret) and verifies (with any) feedback tokens; also knows
    which minting keys were revoked, cached for `key_cache_seconds` like API keys."""

    def __init__(self, secret: str | Sequence[str], *, key_cache_seconds: float = 5.0) -> None:
        keys = split_secrets(secret) if isinstance(secret, str) else list(secret)
        if not keys:
            raise ValueError("at least one feedback token secret is needed")
        self._secrets = [k.encode() for k in keys]
        # itsdangerous signs with the *last* key and tries every key when verifying.
        self._serializer = URLSafeSerializer(
            list(reversed(keys)), salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256}
        )
        self.key_cache_seconds = key_cache_seconds
        self._key_states: OrderedDict[uuid.UUID, tuple[float, bool]] = OrderedDict()

    def mint(
        self,
        *,
        conversation_id: str | None,
        cache_key: str | None,
        user_id: int | None,
        ttl_seconds: int,
        key_id: uuid.UUID,
        now: dt.datetime | None = None,
    ) -> tuple[str, dt.datetime]:
        now = now or dt.datetime.now(dt.UTC)
        expires_at = (now + dt.timedelta(seconds=ttl_seconds)).replace(microsecond=0)
        payload: dict[str, Any] = {
            "exp": int(expires_at.timestamp()),
            # Milliseconds: a token minted just after an erasure must not look older.
            "iat": int(now.timestamp() * 1000),
            "kid": key_id.hex,
            "jti": secrets.token_urlsafe(9),
        }
        if conversation_id is not None:
            payload["c"] = conversation_id
        if cache_key is not None:
            payload["k"] = cache_key
        if user_id is not None:
            payload["u"] = user_id
        return TOKEN_PREFIX + str(self._serializer.dumps(payload)), expires_at

    def verify(self, token: str, *, now: dt.datetime | None = None) -> FeedbackToken:
        if not token.startswith(TOKEN_PREFIX):
            raise TokenInvalid("not a feedback token")
        try:
            payload = self._serializer.loads(token[len(TOKEN_PREFIX) :])
        except BadSignature as exc:
            raise TokenInvalid("bad signature") from exc
        if (
            not isinstance(payload, dict)
            or not isinstance(payload.get("exp"), int)
            or not isinstance(payload.get("iat"), int)
            or not isinstance(payload.get("kid"), str)
            or not isinstance(payload.get("jti"), str)
        ):
            raise TokenInvalid("malformed")
        try:
            key_id = uuid.UUID(hex=payload["kid"])
        except ValueError as exc:
            raise TokenInvalid("malformed") from exc
        expires_at = dt.datetime.fromtimestamp(payload["exp"], dt.UTC)
        if expires_at <= (now or dt.datetime.now(dt.UTC)):
            raise TokenInvalid("expired")
        return FeedbackToken(
            conversation_id=payload.get("c"),
            cache_key=payload.get("k"),
            user_id=payload.get("u"),
            expires_at=expires_at,
            key_id=key_id,
            issued_at=dt.datetime.fromtimestamp(payload["iat"] / 1000, dt.UTC),
            token_id=payload["jti"],
        )

    def erasure_hash(self, user_id: int) -> str:
        """The keyed hash an erasure record stores instead of the user id (first secret)."""
        return self.erasure_hashes(user_id)[0]

    def erasure_hashes(self, user_id: int) -> list[str]:
        """The user's erasure hash under every configured secret (a record written before
        a rotation still matches while its secret is configured)."""
        message = _ERASURE_HASH_CONTEXT + str(user_id).encode()
        return [hmac.new(key, message, hashlib.sha256).hexdigest() for key in self._secrets]

    def cached_key_state(self, key_id: uuid.UUID) -> bool | None:
        hit = self._key_states.get(key_id)
        if hit is None or time.monotonic() - hit[0] > self.key_cache_seconds:
            return None
        return hit[1]

    def remember_key_state(self, key_id: uuid.UUID, revoked: bool) -> None:
        self._key_states[key_id] = (time.monotonic(), revoked)
        self._key_states.move_to_end(key_id)
        while len(self._key_states) > _KEY_STATES_MAX:
            self._key_states.popitem(last=False)  # least recently stored


_INVALID = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


async def ensure_token_standing(
    session: AsyncSession, signer: TokenSigner, token: FeedbackToken
) -> None:
    """Refuse (401) a token whose minting key is revoked or gone (seen within the key
    cache's bound), or whose bound user was erased after the token was minted."""
    if token.key_id is None or token.issued_at is None:
        raise Unauthorized("The feedback token is not valid.", headers=_INVALID)
    revoked = signer.cached_key_state(token.key_id)
    if revoked is None:
        row = await session.scalar(
            sa.text("SELECT revoked_at IS NOT NULL FROM api_keys WHERE id = :id"),
            {"id": token.key_id},
        )
        revoked = row is None or bool(row)  # a deleted key counts as revoked
        signer.remember_key_state(token.key_id, revoked)
    if revoked:
        raise Unauthorized(
            "The API key that minted this feedback token was revoked.", headers=_INVALID
        )
    if token.user_id is not None:
        erased_at = await session.scalar(
            sa.text(
                "SELECT max(created_at) FROM user_erasures "
                "WHERE user_hash = ANY(CAST(:hashes AS text[]))"
            ),
            {"hashes": signer.erasure_hashes(token.user_id)},
        )
        if erased_at is not None and token.issued_at <= erased_at:
            raise Unauthorized(
                "This feedback token's user was erased after it was minted; mint a new token.",
                headers=_INVALID,
            )


def load_secret(settings: Settings) -> str:
    """The configured secret(s) (comma-separated); on the embedded default, one generated
    once in the data dir.

    With an external database and no secret the service must not start: replicas would
    each invent their own and reject each other's tokens.
    """
    if settings.feedback_token_secret is not None:
        return settings.feedback_token_secret.get_secret_value()
    if not settings.embedded:
        raise RuntimeError(
            "FEEDBACK_TOKEN_SECRET must be set when DATABASE_URL points to an external database."
        )
    path = Path(settings.feedback_data_dir) / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # made by an earlier run (or a concurrent one)
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
