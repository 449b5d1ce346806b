"""The demo page's backend: it plays the part of an integrator's server. It holds an ingest
key (created for this process, kept only in memory, never sent to the page) and calls the
service's own public API with it, exactly as a chat backend would, to mint feedback tokens.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth_service
from app.auth.models import Scope
from app.errors import AppError

DEMO_KEY_NAME = "widget-demo"
DEMO_CACHE_KEY = "widget-demo"
# Tokens are handed out without a credential only for conversations of this shape, so the
# demo can never mint a token for a real conversation.
DEMO_CONVERSATION = re.compile(r"^widget-demo-[0-9a-f]{12}$")
DEMO_TOKEN_TTL_SECONDS = 900
# Each process makes its own demo key (its secret lives only in memory). Keys of processes
# gone for a day are revoked, so restarts do not pile up live keys; tokens are signed by
# the token secret, not by a key, so revoking never breaks a page already open.
STALE_DEMO_KEY = dt.timedelta(days=1)


class DemoBackendError(AppError):
    status, title, slug = 503, "Service Unavailable", "widget-demo-unavailable"


def new_conversation_id() -> str:
    return f"widget-demo-{secrets.token_hex(6)}"


def is_demo_conversation(conversation_id: str) -> bool:
    return DEMO_CONVERSATION.fullmatch(conversation_id) is not None


@dataclass
class DemoBackend:
    """One per app; the key and the demo cache entry are made on first use."""

    _key: str | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def _ingest_key(self, app: FastAPI) -> str:
        async with self._lock:
            if self._key is None:
                async with app.state.sessionmaker() as session:
                    await revoke_stale_demo_keys(session)
                    _, token = await auth_service.create_key(
                        session, scope=Scope.ingest, name=DEMO_KEY_NAME
                    )
                    await session.commit()
                self._key = token
                # What a chat backend does once: register the cached answer users may rate.
                await self._call(
                    app,
                    "/api/v1/cache/entries",
                    {
                        "cache_key": DEMO_CACHE_KEY,
                        "provider": "demo",
                        "model": "demo-model",
                        "cost_usd": 0.002,
                    },
                    expect=(200, 201),
                )
            return self._key

    async def _call(
        self, app: FastAPI, path: str, body: dict[str, Any], *, expect: tuple[int, ...]
    ) -> dict[str, Any]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://widget-demo") as http:
            response = await http.post(
                path, json=body, headers={"Authorization": f"Bearer {self._key}"}
            )
        if response.status_code not in expect:
            raise DemoBackendError(f"The demo backend got {response.status_code} from {path}.")
        result: dict[str, Any] = response.json()
        return result

    async def mint_token(
        self, app: FastAPI, *, conversation_id: str | None = None, cache_key: str | None = None
    ) -> dict[str, Any]:
        """`POST /api/v1/feedback-tokens` with the demo's ingest key, as a backend would."""
        await self._ingest_key(app)
        body: dict[str, Any] = {"ttl_seconds": DEMO_TOKEN_TTL_SECONDS}
        if conversation_id is not None:
            body["conversation_id"] = conversation_id
        else:
            body["cache_key"] = cache_key
        return await self._call(app, "/api/v1/feedback-tokens", body, expect=(201,))


async def revoke_stale_demo_keys(session: AsyncSession) -> int:
    """Revoke demo keys unused for a day (their processes are gone); returns how many."""
    return await auth_service.revoke_unused_keys(
        session, name=DEMO_KEY_NAME, unused_for=STALE_DEMO_KEY
    )


def demo_backend(app: FastAPI) -> DemoBackend:
    """The app's demo backend, made lazily so the app factory stays untouched."""
    backend: DemoBackend | None = getattr(app.state, "widget_demo", None)
    if backend is None:
        backend = app.state.widget_demo = DemoBackend()
    return backend
