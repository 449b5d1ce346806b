"""API key secrets: generation, parsing and hashing (pure; no database)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

KEY_PREFIX = "fbk_"


@dataclass(frozen=True)
class NewKey:
    public_id: str
    secret: str
    token: str  # what the client sends: fbk_<public_id>_<secret>


def generate() -> NewKey:
    """A fresh key: a short public id to find it, and 32 random bytes as its secret."""
    public_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewKey(public_id, secret, f"{KEY_PREFIX}{public_id}_{secret}")


def parse(token: str) -> tuple[str, str] | None:
    """`fbk_<public_id>_<secret>` → (public_id, secret), or None if it is not a key."""
    if not token.startswith(KEY_PREFIX):
        return None
    public_id, sep, secret = token[len(KEY_PREFIX) :].partition("_")
    if not sep or not public_id or not secret:
        return None
    return public_id, secret


def hash_secret(secret: str) -> str:
    """SHA-256 is enough for 256-bit random secrets (no dictionary to attack)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret with a stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)
