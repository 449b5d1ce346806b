"""Dashboard sign-in state: a signed, expiring session cookie and CSRF tokens.

The cookie never holds the API key: only the key's id and public id (to re-check on every
request that the key still exists, is not revoked and is admin) and a random CSRF nonce.
Before sign-in, a separate short-lived signed cookie carries the login form's CSRF nonce
(double submit), so a cross-site page cannot sign a browser in with the attacker's key.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "fbdash_session"
LOGIN_COOKIE = "fbdash_login"
CSRF_FIELD = "csrf_token"
LOGIN_FORM_SECONDS = 3600
_SESSION_SALT = "dashboard-session/v1"
_LOGIN_SALT = "dashboard-login/v1"


@dataclass(frozen=True)
class DashboardSession:
    """What the session cookie says: which key signed in, and the CSRF nonce of its forms."""

    key_id: uuid.UUID
    public_id: str
    csrf: str


class SessionSigner:
    """Signs and verifies the dashboard's cookies with the service's token secret (a
    distinct salt, so a feedback token can never pass for a session or the reverse)."""

    def __init__(self, secret: str, *, max_age_seconds: int) -> None:
        self.max_age_seconds = max_age_seconds
        self._session = URLSafeTimedSerializer(secret, salt=_SESSION_SALT)
        self._login = URLSafeTimedSerializer(secret, salt=_LOGIN_SALT)

    def new_session(self, *, key_id: uuid.UUID, public_id: str) -> tuple[str, DashboardSession]:
        state = DashboardSession(key_id=key_id, public_id=public_id, csrf=secrets.token_urlsafe(24))
        payload = {"k": str(key_id), "p": public_id, "c": state.csrf}
        return str(self._session.dumps(payload)), state

    def read_session(self, cookie: str | None) -> DashboardSession | None:
        """The session in a cookie, or None when missing, tampered, malformed or expired."""
        if not cookie:
            return None
        try:
            payload: Any = self._session.loads(cookie, max_age=self.max_age_seconds)
            return DashboardSession(
                key_id=uuid.UUID(payload["k"]), public_id=str(payload["p"]), csrf=str(payload["c"])
            )
        except (BadSignature, KeyError, TypeError, ValueError):
            return None

    def new_login_nonce(self) -> tuple[str, str]:
        """(cookie value, form value) for the sign-in form."""
        nonce = secrets.token_urlsafe(24)
        return str(self._login.dumps(nonce)), nonce

    def read_login_nonce(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            nonce: Any = self._login.loads(cookie, max_age=LOGIN_FORM_SECONDS)
        except BadSignature:
            return None
        return nonce if isinstance(nonce, str) else None


def tokens_match(expected: str | None, presented: str | None) -> bool:
    """Constant-time comparison; a missing side never matches."""
    if not expected or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())
