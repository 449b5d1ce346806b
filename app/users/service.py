"""Registering user ids on first sight."""

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.users.models import User

_REGISTERED = "registered_user_ids"


def registered_user_ids(session: AsyncSession) -> set[int]:
    """The user ids registered in this session's transaction (what erasure must find)."""
    found: set[int] = session.info.get(_REGISTERED, set())
    return found


def _note(session: AsyncSession, user_ids: Iterable[int]) -> None:
    session.info.setdefault(_REGISTERED, set()).update(user_ids)


async def register_users(session: AsyncSession, user_ids: Iterable[int]) -> None:
    """Register many user ids in one statement (sorted: concurrent batches lock in order)."""
    ids = sorted(set(user_ids))
    if not ids:
        return
    _note(session, ids)
    param = sa.cast(
        sa.bindparam("user_ids", ids, type_=pg.ARRAY(sa.BigInteger)), pg.ARRAY(sa.BigInteger)
    )
    await session.execute(
        insert(User)
        .from_select(["id"], sa.select(sa.func.unnest(param)))
        .on_conflict_do_nothing(index_elements=["id"])
    )


async def register_user(session: AsyncSession, user_id: int | None) -> None:
    """Make sure `user_id` exists in `users`, inside the caller's transaction."""
    if user_id is None:
        return
    _note(session, [user_id])
    stmt = insert(User).values(id=user_id).on_conflict_do_nothing(index_elements=["id"])
    await session.execute(stmt)
