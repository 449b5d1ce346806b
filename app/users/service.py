"""Registering user ids on first sight."""

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.users.models import User


async def register_user(session: AsyncSession, user_id: int | None) -> None:
    """Make sure `user_id` exists in `users`, inside the caller's transaction."""
    if user_id is None:
        return
    stmt = insert(User).values(id=user_id).on_conflict_do_nothing(index_elements=["id"])
    await session.execute(stmt)
