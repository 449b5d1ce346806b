"""Registering user ids on first sight."""

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.users.models import User

_REGISTERED = "registered_user_ids"
# Each attempt outlives one concurrent erasure of the same user; three is already absurd.
_REGISTER_ATTEMPTS = 3


def registered_user_ids(session: AsyncSession) -> set[int]:
    """The user ids registered in this session's transaction (what erasure must find)."""
    found: set[int] = session.info.get(_REGISTERED, set())
    return found


def _note(session: AsyncSession, user_ids: Iterable[int]) -> None:
    session.info.setdefault(_REGISTERED, set()).update(user_ids)


async def register_users(session: AsyncSession, user_ids: Iterable[int]) -> None:
    """Register many user ids in one statement (sorted: concurrent batches lock in order),
    and hold their rows until the transaction ends."""
    ids = sorted(set(user_ids))
    if not ids:
        return
    _note(session, ids)
    param = sa.cast(
        sa.bindparam("user_ids", ids, type_=pg.ARRAY(sa.BigInteger)), pg.ARRAY(sa.BigInteger)
    )
    for _attempt in range(_REGISTER_ATTEMPTS):
        await session.execute(
            insert(User)
            .from_select(["id"], sa.select(sa.func.unnest(param)))
            .on_conflict_do_nothing(index_elements=["id"])
        )
        # An erasure holds the row FOR UPDATE while it runs; DO NOTHING does not wait for it,
        # so the caller's foreign key would then find the row gone (a 404 for a valid write).
        # KEY SHARE (what that foreign key takes anyway) waits; a row erased meanwhile is
        # missing here and is registered again, as a write after the erasure would be.
        held = await session.scalars(
            sa.text(
                "SELECT id FROM users WHERE id = ANY(:user_ids) ORDER BY id FOR KEY SHARE"
            ).bindparams(sa.bindparam("user_ids", ids, type_=pg.ARRAY(sa.BigInteger)))
        )
        if len(set(held)) == len(ids):
            return


async def register_user(session: AsyncSession, user_id: int | None) -> None:
    """Make sure `user_id` exists in `users`, inside the caller's transaction."""
    if user_id is not None:
        await register_users(session, [user_id])
