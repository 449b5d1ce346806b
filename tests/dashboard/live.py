"""What the dashboard's browser work adds to `tests/browser.py` (which runs the live
service and Debian's chromium): the demo rows, the two widths, and signing in.

Shared by the browser tests' fixtures and `make screenshots`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app import demo_data
from app.auth import service as auth_service
from app.auth.models import Scope
from app.config import Settings
from app.db import make_sessionmaker

WIDTHS = {"desktop": 1280, "mobile": 390}
# Settings of the live service: no webhook dispatcher, so a redelivery stays queued (the
# tests look at it) and nothing tries to reach the demo webhook's host (loopback only).
LIVE_SETTINGS: dict[str, Any] = {"webhook_dispatcher": "false"}


async def prepare_demo_database(engine: AsyncEngine) -> str:
    """Load the demo rows (through the same code as `feedback-service demo-data`) and
    create an admin key; returns the key's secret."""
    await demo_data.load_demo_data(
        engine,
        auto_approval_threshold=Settings.model_fields["expert_auto_approval_threshold"].default,
    )
    # Fresh bulk-loaded tables have no planner statistics until autovacuum gets to them;
    # without them the analytics plans take seconds instead of milliseconds.
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(sa.text("ANALYZE"))
    async with make_sessionmaker(engine)() as session:
        _, secret = await auth_service.create_key(session, scope=Scope.admin, name="dashboard")
        await session.commit()
    return secret


async def sign_in_async(page: Any, base: str, admin_key: str) -> None:
    await page.goto(f"{base}/dashboard/login")
    await page.get_by_label("API key").fill(admin_key)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{base}/dashboard")
