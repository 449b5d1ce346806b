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
    app = create_app(make_settings(demo_database_url, api_key_cache_seconds=0))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="session")
async def demo_admin_key(demo_app: FastAPI) -> str:
    """The demo rows (committed) and an admin key on the demo database."""
    return await live.prepare_demo_database(demo_app.state.engine)


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
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = live.launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


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

    def csp_violations(self, page: Any) -> list[str]:
        violations: list[str] = page.evaluate("window.__cspViolations || []")
        return violations


# Recorded before any page script runs: every securitypolicyviolation of the document.
CSP_RECORDER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@pytest.fixture
def browser_page(chromium: Any, live_base_url: str) -> Iterator[tuple[Any, PageProblems]]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(CSP_RECORDER)
    page = context.new_page()
    problems = PageProblems()
    problems.attach(page)
    try:
        yield page, problems
    finally:
        context.close()


def assert_clean(page: Any, problems: PageProblems) -> None:
    assert problems.console_errors == []
    assert problems.page_errors == []
    assert problems.csp_violations(page) == []
