"""`make screenshots`: every dashboard page at 1280 and 390 px, under docs/screenshots/.

A fresh database on the embedded PostgreSQL (its own data directory, `.data/screenshots`),
migrated by Alembic, filled with the demo data, served by the browser tests' live service
(tests/browser.py: uvicorn on a free loopback port), photographed by Debian's chromium.
The service gets the tests' token secret (it only signs this throwaway run's cookies).
"""

from __future__ import annotations

import asyncio
import sys

import asyncpg
from sqlalchemy.engine import make_url

from app import embedded_postgres, migrate
from app.config import Settings
from app.db import create_engine
from tests.browser import ROOT, launch_args, running_service
from tests.conftest import TOKEN_SECRET
from tests.dashboard import live

DATA_DIR = ROOT / ".data" / "screenshots"
OUT_DIR = ROOT / "docs" / "screenshots"
DATABASE = "dashboard_screenshots"
MAX_HEIGHT = 2400  # long pages (the queue) are cut: the top shows the layout
# (file name, path, chart ids to wait for)
PAGES = [
    ("overview", "/dashboard", ["satisfaction", "quality-cost"]),
    ("votes", "/dashboard/votes?conversation_id=demo-conv-7", ["votes-series", "top-reasons"]),
    ("routing", "/dashboard/routing?group_by=model", ["quality-cost"]),
    ("cache", "/dashboard/cache", ["ratings"]),
    ("experts", "/dashboard/experts", ["trust", "by-type", "by-category", "calibration-reasons"]),
    ("approval-queue", "/dashboard/approval-queue", []),
    ("review-queue", "/dashboard/review-queue", []),
    ("webhooks", "/dashboard/webhooks", []),
    ("login", "/dashboard/login", []),
]


async def _fresh_database(server_url: str) -> tuple[str, str]:
    """(SQLAlchemy URL, admin key) of a new database with the demo data."""
    admin_dsn = make_url(server_url).set(drivername="postgresql").render_as_string(False)
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await conn.close()
    url = make_url(server_url).set(database=DATABASE).render_as_string(hide_password=False)
    await migrate.upgrade_to_head_async(url)
    settings = Settings.model_validate({"database_url": url, "feedback_token_secret": TOKEN_SECRET})
    engine = create_engine(settings, url)
    try:
        key = await live.prepare_demo_database(engine)
    finally:
        await engine.dispose()
    return url, key


async def _photograph(url: str, key: str) -> None:
    from playwright.async_api import async_playwright

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    async with (
        running_service(url, DATA_DIR / "uvicorn.log", **live.LIVE_SETTINGS) as service,
        async_playwright() as playwright,
    ):
        base = service.base_url
        browser = await playwright.chromium.launch(**launch_args())
        for label, width in live.WIDTHS.items():
            context = await browser.new_context(
                viewport={"width": width, "height": 900}, device_scale_factor=1
            )
            page = await context.new_page()
            await live.sign_in_async(page, base, key)
            for name, path, charts in PAGES:
                if name == "login":
                    await page.get_by_role("button", name="Sign out").click()
                    await page.wait_for_url(f"{base}/dashboard/login?notice=signed_out")
                else:
                    await page.goto(f"{base}{path}")
                for chart in charts:
                    await page.locator(f"figure#{chart} canvas").first.wait_for(state="attached")
                target = OUT_DIR / f"{name}-{width}.png"
                scroll_height = await page.evaluate("document.documentElement.scrollHeight")
                height = min(MAX_HEIGHT, scroll_height)
                await page.screenshot(
                    path=str(target),
                    full_page=True,
                    clip={"x": 0, "y": 0, "width": width, "height": height},
                )
                print(f"{label:7} {target.relative_to(ROOT)}")
            await context.close()
        await browser.close()


def main() -> int:
    server_url = embedded_postgres.start(DATA_DIR)
    try:
        url, key = asyncio.run(_fresh_database(server_url))
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        asyncio.run(_photograph(url, key))
    finally:
        embedded_postgres.stop(DATA_DIR)
    return 0


if __name__ == "__main__":
    sys.exit(main())
