"""Reusable browser-test pieces: Debian's Chromium through playwright (async API), the real
service in a uvicorn subprocess on a free loopback port against a migrated test database,
a second loopback origin serving host pages, and collectors of console errors and CSP
violations.

Use from a test package's conftest.py:

    from tests.browser import browser, host_pages, live_service, page  # noqa: F401

and mark the tests `pytestmark = pytest.mark.browser` (`make test-browser` runs them,
`make test` deselects them). Nothing here skips: without Chromium the tests fail.

For another configuration, `running_service(database_url, log_path, **settings)` starts
one more (e.g. `async with running_service(await databases.migrated(), path, x=1)`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth_service
from app.auth.models import Scope
from app.auth.tokens import TokenSigner
from app.db import create_engine
from tests import live_server
from tests.conftest import TEST_DATA_DIR, TOKEN_SECRET, DatabaseFactory, make_settings

CHROMIUM = Path("/usr/lib/chromium/chromium")  # Debian's binary; /usr/bin/chromium is a wrapper
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
STARTUP_SECONDS = live_server.STARTUP_SECONDS
ROOT = live_server.ROOT


def launch_args() -> dict[str, Any]:
    """Keyword arguments for `playwright.chromium.launch` (pytest-playwright users: return
    these from a `browser_type_launch_args` fixture)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test-browser` (it installs chromium).")
    return {"executable_path": str(CHROMIUM), "headless": True, "args": CHROMIUM_ARGS}


# --- a second origin for host pages -------------------------------------------------


@dataclass
class HostPages:
    """Serves registered pages (body + headers) on its own loopback origin, so the widget
    runs cross-origin exactly as on an integrator's site."""

    origin: str = ""
    pages: dict[str, tuple[bytes, dict[str, str]]] = field(default_factory=dict)

    def add(
        self, path: str, body: str, content_type: str = "text/html; charset=utf-8", **headers: str
    ) -> str:
        """Register `path`; returns its absolute URL."""
        self.pages[path] = (body.encode(), {"Content-Type": content_type, **headers})
        return self.origin + path


def _host_handler(pages: HostPages) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/favicon.ico":  # asked for by every page; not a page's error
                self.send_response(204)
                self.end_headers()
                return
            found = pages.pages.get(path)
            if found is None:
                self.send_error(404)
                return
            body, headers = found
            self.send_response(200)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

    return Handler


@pytest.fixture(scope="session")
def host_pages() -> Iterator[HostPages]:
    pages = HostPages()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _host_handler(pages))
    pages.origin = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield pages
    server.shutdown()
    server.server_close()


# --- the real service in a subprocess ----------------------------------------------


@dataclass
class LiveService:
    """The service under uvicorn, with an admin and an ingest key made for the run."""

    base_url: str
    database_url: str
    admin_key: str
    ingest_key: str
    signer: TokenSigner = field(default_factory=lambda: TokenSigner(TOKEN_SECRET))

    def http(self, key: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key or self.admin_key}"}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=10)

    async def mint_token(self, **body: Any) -> str:
        """A feedback token, minted as an integrator's backend does (ingest key, HTTP)."""
        async with self.http(self.ingest_key) as http:
            response = await http.post("/api/v1/feedback-tokens", json=body)
        assert response.status_code == 201, response.text
        token: str = response.json()["token"]
        return token

    def expired_token(self, **target: Any) -> str:
        """A correctly signed token that expired an hour ago."""
        token, _ = self.signer.mint(
            conversation_id=target.get("conversation_id"),
            cache_key=target.get("cache_key"),
            user_id=None,
            ttl_seconds=60,
            key_id=uuid.uuid4(),  # expiry is checked before the minting key
            now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
        )
        return token

    async def conversation_votes(self, conversation_id: str) -> dict[str, Any]:
        """The admin read of a conversation's votes (`current`, `history` newest first)."""
        async with self.http() as http:
            response = await http.get(f"/api/v1/conversations/{conversation_id}/votes")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


async def _make_keys(database_url: str, **settings: Any) -> tuple[str, str]:
    # Behind PgBouncer (transaction mode) the keys, too, must be made without cached statements.
    cache = settings.get("db_statement_cache_size")
    overrides = {} if cache is None else {"db_statement_cache_size": int(cache)}
    engine = create_engine(make_settings(database_url, **overrides), database_url)
    try:
        async with AsyncSession(engine) as session:
            _, admin = await auth_service.create_key(session, scope=Scope.admin, name="browser")
            _, ingest = await auth_service.create_key(
                session, scope=Scope.ingest, name="browser backend"
            )
            await session.commit()
    finally:
        await engine.dispose()
    return admin, ingest


def service_env(database_url: str, **settings: Any) -> dict[str, str]:
    """The environment of a live service subprocess (settings as keyword arguments)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "FEEDBACK_TOKEN_SECRET": TOKEN_SECRET,
        "FEEDBACK_DATA_DIR": str(TEST_DATA_DIR),
        "RATE_LIMIT_PER_MINUTE": "0",
        "LOG_LEVEL": "warning",
    }
    for name, value in settings.items():
        env[name.upper()] = value if isinstance(value, str) else json.dumps(value)
    return env


@asynccontextmanager
async def running_service(
    database_url: str, log_path: Path, **settings: Any
) -> AsyncIterator[LiveService]:
    """`uvicorn app.main:app` on 127.0.0.1:<free port> against `database_url` (already
    migrated), with an admin and an ingest key; settings as keyword arguments. Stopped
    (SIGTERM, then SIGKILL after 30 s) on exit (`tests/live_server.py`)."""
    admin, ingest = await _make_keys(database_url, **settings)
    async with live_server.running(
        lambda port: live_server.uvicorn_argv(port, "--log-level", "warning"),
        env=service_env(database_url, **settings),
        log_path=log_path,
        ready_path="/readyz",
        within=STARTUP_SECONDS,
    ) as server:
        yield LiveService(server.base, database_url, admin, ingest)


@pytest.fixture(scope="session")
async def live_service(
    databases: DatabaseFactory, host_pages: HostPages, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveService]:
    """The service on its own migrated database, CORS open to the host-page origin, the
    widget demo on."""
    async with running_service(
        await databases.migrated(),
        tmp_path_factory.mktemp("live") / "uvicorn.log",
        cors_allow_origins=[host_pages.origin],
        widget_demo_enabled="true",
    ) as service:
        yield service


# --- browser and pages -------------------------------------------------------------


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    args = launch_args()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(**args)
        yield chromium
        await chromium.close()


# Recorded in the page before any of its scripts run; CDP-injected, so no CSP blocks it.
_COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push({directive: e.violatedDirective, blocked: e.blockedURI,
                               sample: e.sample});
});
"""


@dataclass
class PageProbe:
    """A page with what it logged: console errors, uncaught errors, CSP violations."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    async def csp_violations(self) -> list[dict[str, Any]]:
        """Violations reported by the page (plus console lines that name the CSP)."""
        found: list[dict[str, Any]] = await self.page.evaluate("window.__cspViolations || []")
        found += [
            {"console": text} for text in self.console_errors if "Content Security Policy" in text
        ]
        return found


@asynccontextmanager
async def probed_page(browser: Browser, **context_options: Any) -> AsyncIterator[PageProbe]:
    """A fresh context (e.g. `viewport={...}`) and page with collectors attached; the
    context is closed on exit."""
    context = await browser.new_context(**context_options)
    await context.add_init_script(_COLLECT_VIOLATIONS)
    new_page = await context.new_page()
    new_page.set_default_timeout(15_000)
    probe = PageProbe(new_page)
    new_page.on("console", probe._console)
    new_page.on("pageerror", lambda error: probe.page_errors.append(str(error)))
    try:
        yield probe
    finally:
        await context.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[PageProbe]:
    """A fresh context and page per test, with collectors attached."""
    async with probed_page(browser) as probe:
        yield probe
