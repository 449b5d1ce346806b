"""Helpers for the webhook tests: a real HTTP receiver on 127.0.0.1, stubbed DNS, an app
on its own database (real commits), and dispatchers started by the test itself."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from app.config import Settings
from app.main import create_app
from app.webhooks.dispatcher import Dispatcher
from app.webhooks.schemas import WebhookCreate
from app.webhooks.service import register_endpoint
from tests.conftest import DatabaseFactory, make_settings

PUBLIC_IP = "93.184.215.14"  # a globally routable address (never contacted: DNS is stubbed)


def stub_resolver(answers: dict[str, list[str]]) -> Callable[[str, int], Awaitable[list[str]]]:
    """A resolver answering from `answers` (the dict may change between calls)."""

    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError(f"no such host {host}")
        return list(answers[host])

    return resolve


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A threaded HTTP server; answers from `script` in order, then `default`."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    default: tuple[int, dict[str, str]] = (200, {})
    hold: threading.Event | None = None  # while set, requests wait for `release`
    release: threading.Event = field(default_factory=threading.Event)
    entered: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self) -> tuple[int, dict[str, str]]:
        with self.lock:
            return self.script.pop(0) if self.script else self.default


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if receiver.hold is not None and receiver.hold.is_set():
                receiver.entered.set()
                receiver.release.wait(timeout=30)
            status, headers = receiver.answer()
            with receiver.lock:
                receiver.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
    server.daemon_threads = True
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    rec.release.set()
    server.shutdown()
    server.server_close()


FAST = {
    "webhook_allow_hosts": "127.0.0.1",
    "webhook_dispatcher": False,  # each test starts the dispatchers it needs
    "webhook_poll_seconds": 0.1,
    "webhook_timeout_seconds": 5.0,
    "webhook_lease_seconds": 10.0,
    "webhook_retry_schedule_seconds": [0.05, 0.05, 0.05],
}


@dataclass
class WebhookEnv:
    app: FastAPI
    settings: Settings
    url: str
    dispatchers: list[Dispatcher] = field(default_factory=list)

    def dispatcher(self, **overrides: Any) -> Dispatcher:
        """A dispatcher on this database (stopped at the end of the test)."""
        resolver = overrides.pop("resolver", None)
        transport = overrides.pop("transport", None)
        settings = self.settings.model_copy(update=overrides)
        kwargs: dict[str, Any] = {}
        if resolver is not None:
            kwargs["resolver"] = resolver
        d = Dispatcher(settings, self.url, transport=transport, **kwargs)
        self.dispatchers.append(d)
        return d

    async def register(
        self, url: str, events: list[str] | None = None, resolver: Any = None, **fields: Any
    ) -> Any:
        payload = WebhookCreate.model_validate(
            {"url": url, "events": events or ["vote.down"], **fields}
        )
        extra = {"resolver": resolver} if resolver is not None else {}
        async with self.app.state.sessionmaker() as session:
            created = await register_endpoint(session, payload, settings=self.settings, **extra)
            await session.commit()
        return created

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.app.state.engine.connect() as conn:
            return await conn.scalar(sa.text(sql), params)

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.app.state.engine.connect() as conn:
            return list((await conn.execute(sa.text(sql), params)).all())


@pytest.fixture
async def webhook_env(databases: DatabaseFactory) -> AsyncIterator[WebhookEnv]:
    url = await databases.migrated()
    settings = make_settings(url, db_pool_timeout_seconds=60, **FAST)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        env = WebhookEnv(application, settings, url)
        try:
            yield env
        finally:
            for d in env.dispatchers:
                await d.stop()


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], *, within: float = 30.0, what: str = "condition"
) -> None:
    """Poll `predicate` until true; fail (not hang) after `within` seconds."""
    deadline = time.monotonic() + within
    while not await predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
