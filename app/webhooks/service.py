"""Webhook endpoints (register, list, delete, rotate a secret), their deliveries, and
`emit`: the transactional outbox write every other domain calls.

`emit(session, event_type, data)` runs in the caller's transaction, so an event exists
exactly when the change that caused it commits (a rolled-back request emits nothing). One
statement inserts the event and one delivery per enabled endpoint subscribed to its type,
and `pg_notify`s the dispatchers, which PostgreSQL delivers only at commit. With no
subscriber nothing is written.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from pydantic_core import to_jsonable_python
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.tokens import load_secret
from app.config import Settings
from app.errors import Conflict, NotFound, UnprocessableEntity
from app.query_params import Page, Pagination, cursor_datetime, encode_cursor, parse_cursor
from app.webhooks import ssrf
from app.webhooks.models import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from app.webhooks.schemas import (
    DeliveryQueued,
    DeliveryRead,
    EventType,
    SecretRotate,
    SecretRotated,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
)
from app.webhooks.secrets import SecretBox, generate_secret, secret_problem

endpoints = WebhookEndpoint.__table__  # type: ignore[attr-defined]
events = WebhookEvent.__table__  # type: ignore[attr-defined]
deliveries = WebhookDelivery.__table__  # type: ignore[attr-defined]

NOTIFY_CHANNEL = "webhook_outbox"


class UnknownWebhook(NotFound): ...


class UnknownDelivery(NotFound): ...


class WebhookDisabled(Conflict): ...


@lru_cache(maxsize=4)
def _box(server_secret: str) -> SecretBox:
    return SecretBox(server_secret)


def secret_box(settings: Settings) -> SecretBox:
    """The box for this server's key: WEBHOOK_SECRET_KEY, else FEEDBACK_TOKEN_SECRET."""
    key = settings.webhook_secret_key
    return _box(key.get_secret_value() if key is not None else load_secret(settings))


# ---------------------------------------------------------------- the outbox


# One statement for any number of events of one type (the group-commit writer's batches
# would otherwise pay a round trip per event): the subscription lock, one event per payload
# in order, one delivery per event and endpoint, one NOTIFY; the first event's id.
_EMIT_SQL = sa.text(
    """
WITH subscribed AS (
    -- KEY SHARE (what the foreign key check takes anyway), so an endpoint deleted
    -- concurrently is waited for and then skipped instead of failing the caller's change.
    SELECT id FROM webhook_endpoints
    WHERE enabled AND CAST(:type AS text) = ANY(events)
    FOR KEY SHARE
),
event AS (
    INSERT INTO webhook_events (type, data, user_id, created_at)
    SELECT CAST(:type AS text), e.item -> 'data', CAST(e.item ->> 'user_id' AS bigint),
           clock_timestamp()
    FROM jsonb_array_elements(CAST(:items AS jsonb)) WITH ORDINALITY AS e(item, n)
    WHERE EXISTS (SELECT 1 FROM subscribed)
    ORDER BY e.n
    RETURNING id, created_at
),
queued AS (
    INSERT INTO webhook_deliveries (event_id, endpoint_id, next_attempt_at, created_at)
    SELECT event.id, subscribed.id, event.created_at, event.created_at
    FROM event CROSS JOIN subscribed
    RETURNING event_id
)
SELECT pg_notify(CAST(:channel AS text), ''),
       (SELECT id FROM event ORDER BY created_at, id LIMIT 1)
FROM (SELECT 1 FROM queued LIMIT 1) AS any_queued
"""
)


async def emit_many(
    session: AsyncSession, event_type: EventType, items: Sequence[Mapping[str, Any]]
) -> uuid.UUID | None:
    """Record one `event_type` event per item for every subscribed endpoint, in the
    caller's transaction; the first event's id, or None when nobody subscribes. Each item
    holds ids and the fields a receiver needs, never an e-mail, a comment or a secret; its
    `user_id`, if any, is also kept in a column so erasure can find the payload."""
    if not items:
        return None
    payloads = []
    for data in items:
        payload = to_jsonable_python(dict(data))
        user_id = payload.get("user_id")
        payloads.append({"data": payload, "user_id": user_id if isinstance(user_id, int) else None})
    row = (
        await session.execute(
            _EMIT_SQL,
            {
                "type": EventType(event_type).value,
                "items": json.dumps(payloads),
                "channel": NOTIFY_CHANNEL,
            },
        )
    ).first()
    return None if row is None else row[1]


async def emit(
    session: AsyncSession, event_type: EventType, data: Mapping[str, Any]
) -> uuid.UUID | None:
    """One event (see `emit_many`); its id, or None when nobody subscribes."""
    return await emit_many(session, event_type, [data])


# ---------------------------------------------------------------- endpoints


def _allow_list(settings: Settings) -> ssrf.AllowList:
    return ssrf.AllowList.parse(settings.webhook_allow_hosts)


async def _check_url(url: str, settings: Settings, resolver: ssrf.Resolver) -> None:
    try:
        await ssrf.check_url(url, _allow_list(settings), resolver)
    except ssrf.AddressRefused as exc:
        raise UnprocessableEntity(str(exc), field=["url"]) from exc


def _checked_secret(secret: str | None) -> str:
    if secret is None:
        return generate_secret()
    problem = secret_problem(secret)
    if problem is not None:
        raise UnprocessableEntity(problem, field=["secret"])
    return secret


def _rotation_end(row: Mapping[Any, Any]) -> dt.datetime | None:
    ends: dt.datetime | None = row["previous_secret_expires_at"]
    return ends if row["previous_secret_ciphertext"] is not None else None


def _read(row: Mapping[Any, Any]) -> WebhookRead:
    return WebhookRead(
        id=row["id"],
        url=row["url"],
        events=row["events"],
        enabled=row["enabled"],
        disabled_reason=row["disabled_reason"],
        disabled_at=row["disabled_at"],
        secret_rotation_ends_at=_rotation_end(row),
        created_at=row["created_at"],
    )


async def register_endpoint(
    session: AsyncSession,
    payload: WebhookCreate,
    *,
    settings: Settings,
    resolver: ssrf.Resolver = ssrf.system_resolver,
) -> WebhookCreated:
    """Check the URL against the address policy, then store it with its encrypted secret."""
    await _check_url(payload.url, settings, resolver)
    secret = _checked_secret(payload.secret)
    endpoint_id = uuid.uuid4()  # chosen here: it is the ciphertext's associated data
    row = (
        await session.execute(
            sa.insert(endpoints)
            .values(
                id=endpoint_id,
                url=payload.url,
                events=sorted({e.value for e in payload.events}),
                secret_ciphertext=secret_box(settings).seal(secret, endpoint_id),
            )
            .returning(endpoints.c.created_at, endpoints.c.events)
        )
    ).one()
    return WebhookCreated(
        id=endpoint_id,
        secret=secret,
        url=payload.url,
        events=row.events,
        created_at=row.created_at,
    )


def _keyset(created: Any, id_col: Any, cursor: Sequence[Any] | None) -> list[Any]:
    """WHERE terms for the page after `cursor` in `ORDER BY created_at DESC, id DESC`."""
    parsed = parse_cursor(list(cursor) if cursor is not None else None, cursor_datetime, uuid.UUID)
    if parsed is None:
        return []
    return [sa.tuple_(created, id_col) < sa.tuple_(parsed[0], parsed[1])]


async def list_endpoints(session: AsyncSession, page: Pagination) -> Page[WebhookRead]:
    """Endpoints newest first (disabled ones show why)."""
    e = endpoints.c
    rows = (
        (
            await session.execute(
                sa.select(endpoints)
                .where(*_keyset(e.created_at, e.id, page.cursor))
                .order_by(e.created_at.desc(), e.id.desc())
                .limit(page.limit + 1)
            )
        )
        .mappings()
        .all()
    )
    items = [_read(r) for r in rows[: page.limit]]
    last = items[-1] if items else None
    more = len(rows) > page.limit and last is not None
    cursor = encode_cursor([last.created_at.isoformat(), str(last.id)]) if more and last else None
    return Page[WebhookRead](items=items, next_cursor=cursor)


# The endpoint's deliveries, and the events no other endpoint still has a delivery of (the
# NOT EXISTS sees the rows before this statement's deletes, hence the endpoint filter).
_DELETE_DELIVERIES_SQL = sa.text(
    """
WITH gone AS (
    DELETE FROM webhook_deliveries WHERE endpoint_id = :id RETURNING event_id
)
DELETE FROM webhook_events AS e
WHERE e.id IN (SELECT event_id FROM gone)
  AND NOT EXISTS (
    SELECT 1 FROM webhook_deliveries AS d WHERE d.event_id = e.id AND d.endpoint_id <> :id
  )
"""
)


async def delete_endpoint(session: AsyncSession, endpoint_id: uuid.UUID) -> None:
    """Remove an endpoint with its deliveries (undelivered ones are dropped) and the events
    only it was to receive."""
    found = await session.scalar(
        sa.select(endpoints.c.id).where(endpoints.c.id == endpoint_id).with_for_update()
    )
    if found is None:
        raise UnknownWebhook(f"No webhook {endpoint_id}.")
    await session.execute(_DELETE_DELIVERIES_SQL, {"id": endpoint_id})
    await session.execute(sa.delete(endpoints).where(endpoints.c.id == endpoint_id))


async def rotate_secret(
    session: AsyncSession, endpoint_id: uuid.UUID, payload: SecretRotate, *, settings: Settings
) -> SecretRotated:
    """A new secret; the current one becomes the previous one for `grace_seconds`."""
    secret = _checked_secret(payload.secret)
    box = secret_box(settings)
    e = endpoints.c
    current = await session.scalar(
        sa.select(e.secret_ciphertext).where(e.id == endpoint_id).with_for_update()
    )
    if current is None:
        raise UnknownWebhook(f"No webhook {endpoint_id}.")
    keep_previous = payload.grace_seconds > 0
    ends = (
        sa.func.now() + sa.func.make_interval(0, 0, 0, 0, 0, 0, payload.grace_seconds)
        if keep_previous
        else None
    )
    row = (
        await session.execute(
            sa.update(endpoints)
            .where(e.id == endpoint_id)
            .values(
                secret_ciphertext=box.seal(secret, endpoint_id),
                previous_secret_ciphertext=current if keep_previous else None,
                previous_secret_expires_at=ends,
            )
            .returning(e.previous_secret_expires_at)
        )
    ).one()
    return SecretRotated(
        id=endpoint_id, secret=secret, secret_rotation_ends_at=row.previous_secret_expires_at
    )


async def enable_endpoint(session: AsyncSession, endpoint_id: uuid.UUID) -> WebhookRead:
    """Enable a disabled endpoint again (after the receiver is fixed): the reason is cleared
    and its pending deliveries are due now, each with a fresh retry schedule."""
    e, d = endpoints.c, deliveries.c
    row = (
        (
            await session.execute(
                sa.update(endpoints)
                .where(e.id == endpoint_id)
                .values(enabled=True, disabled_reason=None, disabled_at=None, failing_since=None)
                .returning(*endpoints.c)
            )
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise UnknownWebhook(f"No webhook {endpoint_id}.")
    await session.execute(
        sa.update(deliveries)
        .where(d.endpoint_id == endpoint_id, d.status == DeliveryStatus.pending)
        .values(next_attempt_at=sa.func.now(), schedule_start=d.attempts)
    )
    await session.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, "")))
    return _read(row)


# ---------------------------------------------------------------- deliveries


async def _endpoint_enabled(session: AsyncSession, endpoint_id: uuid.UUID) -> bool:
    enabled = await session.scalar(
        sa.select(endpoints.c.enabled).where(endpoints.c.id == endpoint_id)
    )
    if enabled is None:
        raise UnknownWebhook(f"No webhook {endpoint_id}.")
    return bool(enabled)


async def list_deliveries(
    session: AsyncSession, endpoint_id: uuid.UUID, page: Pagination
) -> Page[DeliveryRead]:
    """An endpoint's deliveries, newest first, with status, attempts and the last error."""
    await _endpoint_enabled(session, endpoint_id)
    d, ev = deliveries.c, events.c
    rows = (
        (
            await session.execute(
                sa.select(
                    d.id,
                    d.event_id,
                    ev.type.label("event_type"),
                    d.status,
                    d.attempts,
                    d.last_status_code,
                    d.last_error,
                    d.next_attempt_at,
                    d.delivered_at,
                    d.created_at,
                )
                .join(events, ev.id == d.event_id)
                .where(d.endpoint_id == endpoint_id, *_keyset(d.created_at, d.id, page.cursor))
                .order_by(d.created_at.desc(), d.id.desc())
                .limit(page.limit + 1)
            )
        )
        .mappings()
        .all()
    )
    items = [
        DeliveryRead.model_validate(
            {
                **r,
                "next_attempt_at": (
                    r["next_attempt_at"] if r["status"] is DeliveryStatus.pending else None
                ),
            }
        )
        for r in rows[: page.limit]
    ]
    cursor = (
        encode_cursor([items[-1].created_at.isoformat(), str(items[-1].id)])
        if len(rows) > page.limit
        else None
    )
    return Page[DeliveryRead](items=items, next_cursor=cursor)


async def retry_delivery(
    session: AsyncSession, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> DeliveryQueued:
    """Queue a delivery for an attempt now, with a fresh retry schedule (any status)."""
    if not await _endpoint_enabled(session, endpoint_id):
        raise WebhookDisabled("The webhook is disabled; it receives no deliveries.")
    d = deliveries.c
    row = (
        await session.execute(
            sa.update(deliveries)
            .where(d.id == delivery_id, d.endpoint_id == endpoint_id)
            .values(
                status=DeliveryStatus.pending,
                next_attempt_at=sa.func.now(),
                schedule_start=d.attempts,
            )
            .returning(d.id, d.status, d.next_attempt_at)
        )
    ).one_or_none()
    if row is None:
        raise UnknownDelivery(f"No delivery {delivery_id} for webhook {endpoint_id}.")
    await session.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, "")))
    return DeliveryQueued(id=row.id, status=row.status, next_attempt_at=row.next_attempt_at)
