"""Who is calling: the `Principal` resolved once per request by the authentication
middleware, and the authorisation rules that depend only on it.

Routers make every authorisation decision with these methods; services receive the plain
values they return (a user id, an expert id), never a `Principal`.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from app.auth.models import Scope
from app.auth.tokens import FeedbackToken
from app.errors import Forbidden


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: an API key, or a browser's feedback token."""

    scope: Scope | None
    key_id: uuid.UUID | None = None
    expert_id: uuid.UUID | None = None
    user_id: int | None = None
    token: FeedbackToken | None = None
    # sha256 of the presented token: a stable identity for a token without storing it.
    token_digest: str | None = None
    # The key's own requests per minute, if it has one (see `authentication.rate_limit_for`).
    key_rate_limit: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.scope is Scope.admin

    @property
    def kind(self) -> str:
        return "token" if self.token is not None else "key"

    @property
    def identity(self) -> str:
        """Whose Idempotency-Keys and rate bucket these are: the key, or the one token
        (never the raw header, so `bearer K` and `Bearer K` are one caller)."""
        if self.token is not None:
            return f"token:{self.token_digest}"
        return f"key:{self.key_id}"

    @property
    def rate_identity(self) -> str:
        """Rate limits apply per key, or per token (per bound user) within its target: one
        spamming token cannot exhaust the limit of every other rater of that target."""
        if self.token is not None:
            token = self.token
            who = f"user:{token.user_id}" if token.user_id is not None else self.token_digest
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

    def may_read_expert(self, expert_id: uuid.UUID) -> None:
        """Admins read every profile; an expert key reads exactly its own."""
        if self.is_admin or (self.scope is Scope.expert and self.expert_id == expert_id):
            return
        raise Forbidden("An expert key reads only its own profile and reviews.")


def token_digest(presented: str) -> str:
    return hashlib.sha256(presented.encode()).hexdigest()
