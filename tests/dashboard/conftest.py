"""Dashboard fixtures: one database with the demo data for the whole run, an app on it
(server-side tests through ASGITransport), and for the browser tests the shared live
service and Debian chromium of tests/browser.py on that database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser

from app.auth import service as auth_service
from app.auth.models import Scope
from app.main import create_app
from tests.browser import PageProbe, browser, probed_page, running_service  # noqa: F401
from tests.conftest import DatabaseFactory, make_settings
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
async def live_base_url(
    demo_database_url: str, demo_admin_key: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """The service under uvicorn (tests/browser.py) on the demo database."""
    log = tmp_path_factory.mktemp("dashboard-live") / "uvicorn.log"
    async with running_service(demo_database_url, log, **live.LIVE_SETTINGS) as service:
        yield service.base_url


@pytest.fixture
async def browser_page(
    browser: Browser,  # noqa: F811  (the fixture imported above)
    live_base_url: str,
) -> AsyncIterator[tuple[Any, PageProbe]]:
    """A 1280 px wide page with its console, error and CSP collectors."""
    async with probed_page(browser, viewport=viewport("desktop")) as probe:
        yield probe.page, probe


def viewport(width: str) -> dict[str, int]:
    return {"width": live.WIDTHS[width], "height": 900}


async def assert_clean(probe: PageProbe) -> None:
    """No console error, no uncaught error, no CSP violation on the page."""
    assert probe.console_errors == []
    assert probe.page_errors == []
    assert await probe.csp_violations() == []
