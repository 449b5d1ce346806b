"""Webhook signing secrets: generated as `whsec_<base64 of 32 random bytes>`, encrypted at
rest with AES-256-GCM, and used to sign each delivery both ways.

A signing secret must be readable again to sign, so it cannot be hashed like an API key.
It is stored as `v1.<base64(nonce | ciphertext+tag)>`, encrypted under a key derived with
HKDF-SHA256 from `WEBHOOK_SECRET_KEY` (or, when unset, `FEEDBACK_TOKEN_SECRET`); the
endpoint id is the associated data, so a ciphertext copied to another row does not decrypt.
A database dump alone therefore reveals no secret.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from standardwebhooks.webhooks import Webhook

PREFIX = "whsec_"
SECRET_BYTES = 32
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
_VERSION = "v1"
_NONCE_BYTES = 12
_HKDF_INFO = b"feedback-service webhook secrets v1"


class SecretUnreadable(Exception):
    """The stored ciphertext does not decrypt with this server's key."""


def _secret_pattern() -> str:
    # `whsec_` + standard base64 of MIN..MAX bytes, stated for the OpenAPI schema (what
    # `secret_problem` accepts): full 4-character groups, then an optional padded tail.
    b64 = "[A-Za-z0-9+/]"
    alternatives = []
    for tail_bytes, tail in ((0, ""), (1, f"{b64}{{2}}=="), (2, f"{b64}{{3}}=")):
        groups = [
            g
            for g in range(MAX_SECRET_BYTES // 3 + 1)
            if MIN_SECRET_BYTES <= 3 * g + tail_bytes <= MAX_SECRET_BYTES
        ]
        alternatives.append(f"(?:{b64}{{4}}){{{groups[0]},{groups[-1]}}}{tail}")
    return f"^{PREFIX}(?:{'|'.join(alternatives)})$"


SECRET_PATTERN = _secret_pattern()
# Canonical padded base64. `b64decode(validate=True)` alone also takes `AAAA====` or a
# trailing `=` after a full group, which the published pattern (rightly) refuses.
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def generate_secret() -> str:
    """A new signing secret in the Standard Webhooks format."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_problem(secret: str) -> str | None:
    """Why a caller-chosen secret is unusable, or None when it is fine."""
    if not secret.startswith(PREFIX):
        return f"A secret must look like `{PREFIX}<base64>`."
    encoded = secret[len(PREFIX) :]
    if _BASE64.fullmatch(encoded) is None:
        return f"The part after `{PREFIX}` must be standard base64."
    raw = base64.b64decode(encoded)
    if not MIN_SECRET_BYTES <= len(raw) <= MAX_SECRET_BYTES:
        return f"The secret must decode to {MIN_SECRET_BYTES}..{MAX_SECRET_BYTES} bytes."
    return None


class SecretBox:
    """Encrypts and decrypts signing secrets with a key derived from a server secret."""

    def __init__(self, server_secret: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
            server_secret.encode()
        )
        self._aead = AESGCM(key)

    def seal(self, secret: str, endpoint_id: uuid.UUID) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode(), endpoint_id.bytes)
        return f"{_VERSION}.{base64.b64encode(nonce + sealed).decode()}"

    def open(self, stored: str, endpoint_id: uuid.UUID) -> str:
        version, _, payload = stored.partition(".")
        if version != _VERSION:
            raise SecretUnreadable("unknown ciphertext version")
        try:
            raw = base64.b64decode(payload)
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], endpoint_id.bytes)
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise SecretUnreadable("ciphertext does not decrypt with this key") from exc
        return plain.decode()


def feedback_signature(secrets_: list[str], body: bytes) -> str:
    """`X-Feedback-Signature`: `sha256=<hex HMAC-SHA256 of the raw body>`, keyed with the
    secret string as given (GitHub style); one comma-separated entry per secret."""
    return ", ".join(
        "sha256=" + hmac.new(s.encode(), body, hashlib.sha256).hexdigest() for s in secrets_
    )


def standard_signature(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature`: `v1,<base64 HMAC of "id.timestamp.body">` per secret, spaces
    between (the Standard Webhooks rule; the key is the base64-decoded part of whsec_)."""

    when = dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)
    return " ".join(Webhook(s).sign(msg_id, when, body.decode()) for s in secrets_)
