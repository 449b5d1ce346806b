"""Short-lived feedback tokens for browsers: HMAC-signed (itsdangerous), bound to one
conversation or one cache entry, optionally to one user id. Stateless: nothing stored.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from app.config import Settings

TOKEN_PREFIX = "fbt_"
_SALT = "feedback-token/v1"
SECRET_FILE = "feedback-token-secret"


class TokenInvalid(Exception):
    """Tampered, malformed or expired."""


@dataclass(frozen=True)
class FeedbackToken:
    conversation_id: str | None
    cache_key: str | None
    user_id: int | None
    expires_at: dt.datetime


class TokenSigner:
    """Mints and verifies feedback tokens with one secret."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeSerializer(secret, salt=_SALT)

    def mint(
        self,
        *,
        conversation_id: str | None,
        cache_key: str | None,
        user_id: int | None,
        ttl_seconds: int,
        now: dt.datetime | None = None,
    ) -> tuple[str, dt.datetime]:
        now = now or dt.datetime.now(dt.UTC)
        expires_at = (now + dt.timedelta(seconds=ttl_seconds)).replace(microsecond=0)
        payload: dict[str, Any] = {"exp": int(expires_at.timestamp())}
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
        if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int):
            raise TokenInvalid("malformed")
        expires_at = dt.datetime.fromtimestamp(payload["exp"], dt.UTC)
        if expires_at <= (now or dt.datetime.now(dt.UTC)):
            raise TokenInvalid("expired")
        return FeedbackToken(
            conversation_id=payload.get("c"),
            cache_key=payload.get("k"),
            user_id=payload.get("u"),
            expires_at=expires_at,
        )


def load_secret(settings: Settings) -> str:
    """The configured secret; on the embedded default, one generated once in the data dir.

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
