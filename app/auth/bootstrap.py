"""First start on an empty embedded database: make an admin key so /docs works at once."""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth_service
from app.auth.models import ApiKey, Scope
from app.config import get_settings
from app.db import create_engine


async def print_first_admin_key(url: str) -> None:
    """Create and print an admin key if no key exists yet (printed once, never stored)."""
    engine = create_engine(get_settings(), url)
    try:
        async with AsyncSession(engine) as session:
            if await session.scalar(sa.select(sa.func.count()).select_from(ApiKey)):
                return
            _, token = await auth_service.create_key(
                session, scope=Scope.admin, name="bootstrap admin"
            )
            await session.commit()
        print(
            "\n  First start: created an admin API key. It is shown only now; keep it:\n"
            f"    {token}\n"
            "  Use it as `Authorization: Bearer <key>` (the Authorize button in /docs).\n",
            flush=True,
        )
    finally:
        await engine.dispose()
