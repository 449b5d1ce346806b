"""API keys in the database: create, list, revoke, and authenticate a presented key."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth import keys
from app.auth.models import ApiKey, Scope
from app.errors import NotFound, UnprocessableEntity
from app.users.service import register_user


class UnknownApiKey(NotFound):
    """No key with that id."""


@dataclass(frozen=True)
class KeyRecord:
    """What authentication needs of a key, cacheable in process."""

    id: uuid.UUID
    public_id: str
    secret_hash: str
    scope: Scope
    expert_id: uuid.UUID | None
    user_id: int | None
    revoked: bool
    rate_limit_per_minute: int | None = None


class InvalidRateLimit(UnprocessableEntity):
    """A rate limit that is not a positive number of requests per minute."""


def parse_rate_limit(text: str) -> int | None:
    """`600/min`, `600` → 600; `none`/`unlimited` → None (the scope's default)."""
    value = text.strip().lower()
    if value in {"none", "unlimited", "default"}:
        return None
    number = value.removesuffix("/min").removesuffix("/m").strip()
    if not number.isdigit() or int(number) <= 0:
        raise InvalidRateLimit(
            "A rate limit is N/min with N > 0, or `none`.", field=["rate_limit_per_minute"]
        )
    return int(number)


async def create_key(
    session: AsyncSession,
    *,
    scope: Scope,
    name: str | None = None,
    expert_id: uuid.UUID | None = None,
    user_id: int | None = None,
    rate_limit_per_minute: int | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key; returns the row and the full secret token (shown once, never stored)."""
    if scope is Scope.expert and expert_id is None:
        raise UnprocessableEntity("An expert key needs an expert_id.", field=["expert_id"])
    if scope is not Scope.expert and expert_id is not None:
        raise UnprocessableEntity("Only expert keys are bound to an expert.", field=["expert_id"])
    # An unknown expert_id fails on the foreign key: a 404 (see app/errors.py).
    await register_user(session, user_id)
    new = keys.generate()
    row = ApiKey(
        public_id=new.public_id,
        secret_hash=keys.hash_secret(new.secret),
        name=name,
        scope=scope,
        expert_id=expert_id,
        user_id=user_id,
        rate_limit_per_minute=rate_limit_per_minute,
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row, new.token


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    """Every key, newest first (hashes are never shown by callers)."""
    result = await session.scalars(sa.select(ApiKey).order_by(col(ApiKey.created_at).desc()))
    return list(result.all())


async def revoke_key(session: AsyncSession, key_id: uuid.UUID | str) -> ApiKey:
    """Mark a key revoked (by id or public id); idempotent."""
    condition = (
        col(ApiKey.public_id) == key_id
        if isinstance(key_id, str) and not _is_uuid(key_id)
        else col(ApiKey.id) == uuid.UUID(str(key_id))
    )
    row = await session.scalar(sa.select(ApiKey).where(condition))
    if row is None:
        raise UnknownApiKey(f"No API key {key_id}.")
    if row.revoked_at is None:
        row.revoked_at = dt.datetime.now(dt.UTC)
        await session.flush()
    return row


async def revoke_unused_keys(session: AsyncSession, *, name: str, unused_for: dt.timedelta) -> int:
    """Revoke the live keys called `name` not used for `unused_for`; returns how many."""
    last_seen = sa.func.coalesce(col(ApiKey.last_used_at), col(ApiKey.created_at))
    result = await session.execute(
        sa.update(ApiKey)
        .where(
            col(ApiKey.name) == name,
            col(ApiKey.revoked_at).is_(None),
            last_seen < sa.func.now() - unused_for,
        )
        .values(revoked_at=sa.func.now())
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def set_rate_limit(
    session: AsyncSession, key_id: uuid.UUID | str, rate_limit_per_minute: int | None
) -> ApiKey:
    """Set a key's own limit (None: back to its scope's default); every replica applies it
    within the key cache lifetime."""
    if rate_limit_per_minute is not None and rate_limit_per_minute <= 0:
        raise InvalidRateLimit("A rate limit must be positive.", field=["rate_limit_per_minute"])
    row = await session.scalar(sa.select(ApiKey).where(_key_condition(key_id)))
    if row is None:
        raise UnknownApiKey(f"No API key {key_id}.")
    row.rate_limit_per_minute = rate_limit_per_minute
    await session.flush()
    return row


def _key_condition(key_id: uuid.UUID | str) -> sa.ColumnElement[bool]:
    if isinstance(key_id, str) and not _is_uuid(key_id):
        return col(ApiKey.public_id) == key_id
    return col(ApiKey.id) == uuid.UUID(str(key_id))


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def find_key(session: AsyncSession, public_id: str) -> KeyRecord | None:
    """Load what authentication needs of one key."""
    row = await session.scalar(sa.select(ApiKey).where(col(ApiKey.public_id) == public_id))
    if row is None or row.id is None:
        return None
    return KeyRecord(
        id=row.id,
        public_id=row.public_id,
        secret_hash=row.secret_hash,
        scope=row.scope,
        expert_id=row.expert_id,
        user_id=row.user_id,
        revoked=row.revoked_at is not None,
        rate_limit_per_minute=row.rate_limit_per_minute,
    )


async def touch_last_used(session: AsyncSession, key_id: uuid.UUID) -> None:
    """Record use, at most once a minute per key (the WHERE keeps writes rare)."""
    await session.execute(
        sa.update(ApiKey)
        .where(
            col(ApiKey.id) == key_id,
            sa.or_(
                col(ApiKey.last_used_at).is_(None),
                col(ApiKey.last_used_at) < sa.func.now() - sa.text("interval '1 minute'"),
            ),
        )
        .values(last_used_at=sa.func.now())
    )
