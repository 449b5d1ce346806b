"""Dashboard fixtures: one database with the demo data for the whole run, an app on it
(server-side tests through ASGITransport), and a live uvicorn + Debian chromium for the
browser tests (the lead folds the latter into the shared browser fixture)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.auth import service as auth_service
from app.auth.models import Scope
from app.main import create_app
from tests.conftest import TOKEN_SECRET, DatabaseFactory, make_settings
from tests.dashboard import live


@pytest.fixture(scope="session")
async def demo_database_url(databases: DatabaseFactory) -> str:
    return await databases.migrated()


@pytest.fixture(scope="session")
async def demo_app(demo_database_url: str) -> AsyncIterator[FastAPI]:
    # No dispatcher: a redelivery tested here must stay queued, and nothing may try to
    # reach the demo webhook's (non-existent) host.
    app = create_app(
        make_settings(demo_database_url, api_key_cache_seconds=0, webhook_dispatcher=False)
    )
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="session")
async def demo_admin_key(demo_app: FastAPI) -> str:
    """The demo rows (committed) and an admin key on the demo database."""
    return await live.prepare_demo_database(demo_app.state.engine)


@pytest.fixture(scope="session")
async def demo_ingest_key(demo_app: FastAPI, demo_admin_key: str) -> str:
    return await make_demo_key(demo_app, Scope.ingest, name="dashboard ingest")


async def make_demo_key(app: FastAPI, scope: Scope, **kwargs: Any) -> str:
    async with app.state.sessionmaker() as session:
        _, secret = await auth_service.create_key(session, scope=scope, **kwargs)
        await session.commit()
    return secret


@pytest.fixture
async def http(demo_app: FastAPI, demo_admin_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client (keeps cookies) over ASGITransport; not signed in."""
    transport = httpx.ASGITransport(app=demo_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture(scope="session")
def live_base_url(
    demo_database_url: str, demo_admin_key: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    log = tmp_path_factory.mktemp("dashboard-live") / "uvicorn.log"
    with live.live_server(demo_database_url, TOKEN_SECRET, log) as base:
        yield base


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Any]:
    """Debian's chromium through playwright's async API (the sync API would run its own
    event loop inside pytest-asyncio's)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(**live.chromium_launch_args())
        try:
            yield browser
        finally:
            await browser.close()


class PageProblems:
    """Console errors and CSP violations seen by a page."""

    def __init__(self) -> None:
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []

    def attach(self, page: Any) -> None:
        page.on(
            "console",
            lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None,
        )
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))

    async def csp_violations(self, page: Any) -> list[str]:
        violations: list[str] = await page.evaluate("window.__cspViolations || []")
        return violations


# Recorded before any page script runs: every securitypolicyviolation of the document.
CSP_RECORDER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


async def new_page(chromium: Any, width: int) -> tuple[Any, Any, PageProblems]:
    context = await chromium.new_context(viewport={"width": width, "height": 900})
    await context.add_init_script(CSP_RECORDER)
    page = await context.new_page()
    problems = PageProblems()
    problems.attach(page)
    return context, page, problems


@pytest.fixture
async def browser_page(
    chromium: Any, live_base_url: str
) -> AsyncIterator[tuple[Any, PageProblems]]:
    context, page, problems = await new_page(chromium, live.WIDTHS["desktop"])
    try:
        yield page, problems
    finally:
        await context.close()


async def assert_clean(page: Any, problems: PageProblems) -> None:
    assert problems.console_errors == []
    assert problems.page_errors == []
    assert await problems.csp_violations(page) == []
