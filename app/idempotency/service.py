"""Idempotency-Key storage: the first response to (caller, key) is stored in the same
transaction as the write it acknowledges, so a replay returns exactly what was sent and
creates nothing.

Concurrency: the claim is an `INSERT ... ON CONFLICT DO NOTHING` on a unique index, so a
second request with the same key waits for the first transaction; it then finds the stored
response (replay) or, if the first rolled back, claims the key itself. Never two writes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.errors import Conflict
from app.idempotency.models import IdempotencyKey

RETENTION = dt.timedelta(hours=24)
MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(Conflict):
    """The key was used before with a different request."""


class SecretShownOnce(Conflict):
    """The key's request created a secret, which is never stored to be replayed."""


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: str | None
    replayable: bool


@dataclass
class Claim:
    id: object
    replay: StoredResponse | None = None


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same": method, path and the exact body."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def caller_digest(identity: str) -> str:
    """Keys are scoped to the resolved caller (`Principal.identity`), stored hashed."""
    return hashlib.sha256(identity.encode()).hexdigest()


async def claim(session: AsyncSession, *, caller: str, key: str, request_fingerprint: str) -> Claim:
    """Claim `key` for this request, or return the stored response to replay."""
    now = dt.datetime.now(dt.UTC)
    # An expired key is forgotten: its row is replaced by this request's claim.
    await session.execute(
        sa.delete(IdempotencyKey).where(
            col(IdempotencyKey.caller) == caller,
            col(IdempotencyKey.key) == key,
            col(IdempotencyKey.expires_at) < now,
        )
    )
    inserted = await session.scalar(
        insert(IdempotencyKey)
        .values(
            caller=caller,
            key=key,
            request_fingerprint=request_fingerprint,
            status_code=0,
            expires_at=now + RETENTION,
        )
        .on_conflict_do_nothing(index_elements=["caller", "key"])
        .returning(col(IdempotencyKey.id))
    )
    if inserted is not None:
        return Claim(id=inserted)
    stored = (
        await session.execute(
            sa.select(IdempotencyKey).where(
                col(IdempotencyKey.caller) == caller,
                col(IdempotencyKey.key) == key,
            )
        )
    ).scalar_one()
    if stored.request_fingerprint != request_fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request."
        )
    if not stored.replayable:
        raise SecretShownOnce(
            "This request was already completed with this Idempotency-Key. Its response "
            "held a secret, which was shown once and is not stored; nothing new was created."
        )
    return Claim(
        id=stored.id,
        replay=StoredResponse(stored.status_code, stored.response_body, stored.replayable),
    )


async def record(
    session: AsyncSession,
    claim_id: object,
    *,
    status_code: int,
    body: str | None,
    owner_user_ids: Iterable[int] = (),
) -> None:
    """Store the response to replay (None: a secret, not replayable), in the transaction
    of the write it acknowledges."""
    await session.execute(
        sa.update(IdempotencyKey)
        .where(col(IdempotencyKey.id) == claim_id)
        .values(
            status_code=status_code,
            response_body=body,
            replayable=body is not None,
            owner_user_ids=sorted(set(owner_user_ids)),
        )
    )


async def forget_user(session: AsyncSession, user_id: int) -> int:
    """Delete the records of requests that registered `user_id` (erasure); by index."""
    result = await session.execute(
        sa.delete(IdempotencyKey).where(col(IdempotencyKey.owner_user_ids).contains([user_id]))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def purge_expired(session: AsyncSession, *, batch_size: int = 5000) -> int:
    """Delete expired keys in small batches (short locks); returns how many went."""
    total = 0
    while True:
        ids = (
            sa.select(col(IdempotencyKey.id))
            .where(col(IdempotencyKey.expires_at) < sa.func.now())
            .limit(batch_size)
            .scalar_subquery()
        )
        result = await session.execute(
            sa.delete(IdempotencyKey).where(col(IdempotencyKey.id).in_(ids))
        )
        await session.commit()
        deleted = int(result.rowcount or 0)  # type: ignore[attr-defined]
        total += deleted
        if deleted < batch_size:
            return total
