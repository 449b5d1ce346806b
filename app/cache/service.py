"""Cache entries, their hits and ratings, quality-aware flagging, and cache analytics.

Services only flush; `TransactionalRoute` commits before the response is sent.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics import queries as analytics_queries
from app.analytics.models import CacheHitRollup
from app.auth.tokens import FeedbackToken
from app.cache.flagging import GOOD_RATING, FlagRule
from app.cache.models import CacheEntry, CacheEntryStatus, CacheFeedback, CacheHitDay
from app.cache.schemas import CacheAnalytics, CacheEntryRead, CacheEntryUpsert, CacheFeedbackCreate
from app.errors import NotFound
from app.query_params import (
    Page,
    Pagination,
    TimeWindow,
    cursor_datetime,
    fetch_page,
    parse_cursor,
    window_conditions,
)
from app.users.service import register_user
from app.webhooks import service as webhooks
from app.webhooks.schemas import EventType

entries = CacheEntry.__table__  # type: ignore[attr-defined]
feedback = CacheFeedback.__table__  # type: ignore[attr-defined]
hit_days = CacheHitDay.__table__  # type: ignore[attr-defined]
hit_rollups = CacheHitRollup.__table__  # type: ignore[attr-defined]

USER_AGENT_MAX = 512
FLAGGED_LIST_MAX = 1000


class UnknownCacheKey(NotFound):
    """No cache entry with that key."""


def _unknown(cache_key: str) -> UnknownCacheKey:
    return UnknownCacheKey(f"No cache entry with cache_key {cache_key!r}.")


async def upsert_entry(session: AsyncSession, payload: CacheEntryUpsert) -> tuple[bool, str]:
    """Insert or update the entry for `payload.cache_key`; returns (inserted, cache_key).

    An update replaces provider, model, prompt hash, cost and expiry, and keeps hits,
    ratings and status (a flag stays until an admin clears it or the entry is deleted).
    """
    expires_at: Any = (
        sa.func.now() + sa.literal(dt.timedelta(seconds=payload.ttl_seconds), sa.Interval())
        if payload.ttl_seconds is not None
        else sa.null()
    )
    values = pg_insert(entries).values(
        cache_key=payload.cache_key,
        provider=payload.provider,
        model=payload.model,
        prompt_hash=payload.prompt_hash,
        cost_usd=payload.cost_usd,
        expires_at=expires_at,
    )
    stmt = values.on_conflict_do_update(
        index_elements=[entries.c.cache_key],
        set_={
            "provider": values.excluded.provider,
            "model": values.excluded.model,
            "prompt_hash": values.excluded.prompt_hash,
            "cost_usd": values.excluded.cost_usd,
            "expires_at": values.excluded.expires_at,
        },
    ).returning(sa.literal_column("(xmax = 0)", sa.Boolean()).label("inserted"))
    inserted = (await session.execute(stmt)).scalar_one()
    return bool(inserted), payload.cache_key


def _entries_with_stats() -> sa.Select[Any]:
    """Entries with their mean rating (from the trigger-kept tallies: no aggregation)."""
    avg_rating = (
        sa.cast(entries.c.rating_sum, sa.Float) / sa.func.nullif(entries.c.rating_count, 0)
    ).label("avg_rating")
    return sa.select(entries, avg_rating)


async def get_entry(session: AsyncSession, cache_key: str) -> CacheEntryRead:
    """The entry with its rating count and mean rating; 404 if unknown."""
    stmt = _entries_with_stats().where(entries.c.cache_key == cache_key)
    row = (await session.execute(stmt)).mappings().one_or_none()
    if row is None:
        raise _unknown(cache_key)
    return CacheEntryRead.model_validate(dict(row))


async def list_entries(
    session: AsyncSession, page: Pagination, *, status: CacheEntryStatus | None
) -> Page[CacheEntryRead]:
    """Entries newest first, optionally only those with `status` (e.g. flagged ones to evict)."""
    where: list[Any] = []
    if status is not None:
        where.append(entries.c.status == status)
    cursor = parse_cursor(page.cursor, cursor_datetime, str)
    if cursor is not None:
        last_at, last_key = cursor
        where.append(sa.tuple_(entries.c.created_at, entries.c.cache_key) < (last_at, last_key))
    stmt = (
        _entries_with_stats()
        .where(*where)
        .order_by(entries.c.created_at.desc(), entries.c.cache_key.desc())
    )
    return await fetch_page(
        session,
        stmt,
        page,
        build=lambda row: CacheEntryRead.model_validate(dict(row)),
        cursor_of=lambda item: [item.created_at.isoformat(), item.cache_key],
    )


async def record_hit(session: AsyncSession, cache_key: str) -> None:
    """Count one hit: atomic increment of the entry and of today's (UTC) hit-day row."""
    hit = (
        sa.update(entries)
        .where(entries.c.cache_key == cache_key)
        .values(hit_count=entries.c.hit_count + 1, last_hit_at=sa.func.now())
        .returning(entries.c.cache_key, entries.c.last_hit_at)
        .cte("hit")
    )
    day = sa.cast(sa.func.timezone("UTC", hit.c.last_hit_at), sa.Date)
    increment = pg_insert(hit_days).from_select(
        ["cache_key", "day", "hits"], sa.select(hit.c.cache_key, day, sa.literal(1))
    )
    stmt = (
        increment.on_conflict_do_update(
            index_elements=[hit_days.c.cache_key, hit_days.c.day],
            set_={"hits": hit_days.c.hits + increment.excluded.hits},
        )
        .returning(hit_days.c.cache_key)
        .add_cte(hit)
    )
    if (await session.execute(stmt)).first() is None:
        raise _unknown(cache_key)


@dataclass(frozen=True)
class RatingRecorded:
    id: uuid.UUID
    entry_status: CacheEntryStatus


def token_rater(token: FeedbackToken | None) -> str | None:
    """Who rates with a feedback token: its bound user, else the token itself. One rater's
    later rating replaces their earlier one in the tallies. Ratings sent with a key come
    from the trusted backend and have no rater: each counts as sent."""
    if token is None:
        return None
    if token.user_id is not None:
        return f"user:{token.user_id}"
    return f"token:{token.token_id}"


async def rate_entry(
    session: AsyncSession,
    *,
    cache_key: str,
    payload: CacheFeedbackCreate,
    user_id: int | None,
    user_agent: str | None,
    rule: FlagRule,
    rater: str | None = None,
) -> RatingRecorded:
    """Store a rating and, in the same transaction, flag the entry if its ratings tip it.
    A `rater`'s earlier rating of the entry is superseded (by the database trigger)."""
    await register_user(session, user_id)
    if user_agent is not None:
        user_agent = user_agent.replace("\x00", "")[:USER_AGENT_MAX]
    values = sa.select(
        entries.c.cache_key,
        sa.literal(payload.rating, sa.SmallInteger()),
        sa.literal(payload.comment, sa.Text()),
        sa.literal(user_agent, sa.String()),
        sa.literal(user_id, sa.BigInteger()),
        sa.literal(rater, sa.String()),
    ).where(entries.c.cache_key == cache_key)
    insert = (
        pg_insert(feedback)
        .from_select(["cache_key", "rating", "comment", "user_agent", "user_id", "rater"], values)
        .returning(feedback.c.id)
    )
    rating_id = (await session.execute(insert)).scalar_one_or_none()
    if rating_id is None:
        raise _unknown(cache_key)

    # The insert's trigger updated the entry's tallies and holds its row lock until commit,
    # so concurrent ratings of one entry queue here and each sees every earlier one: the
    # rating that tips the rule is the one that flags.
    tally = (
        await session.execute(
            sa.select(entries.c.status, entries.c.rating_count, entries.c.good_count).where(
                entries.c.cache_key == cache_key
            )
        )
    ).one()
    status = CacheEntryStatus(tally.status)
    if status is CacheEntryStatus.active and rule.should_flag(
        ratings=tally.rating_count, good=tally.good_count
    ):
        flagged = (
            await session.execute(
                sa.update(entries)
                .where(entries.c.cache_key == cache_key)
                .values(status=CacheEntryStatus.flagged, flagged_at=sa.func.now())
                .returning(entries.c.provider, entries.c.model, entries.c.flagged_at)
            )
        ).one()
        status = CacheEntryStatus.flagged
        # Emitted here, where the flag flips (the tally trigger only counts).
        await webhooks.emit(
            session,
            EventType.cache_entry_flagged,
            {
                "cache_key": cache_key,
                **flagged._asdict(),
                "rating_count": tally.rating_count,
                "good_count": tally.good_count,
            },
        )
    return RatingRecorded(id=rating_id, entry_status=status)


async def clear_flag(session: AsyncSession, cache_key: str) -> None:
    """Set the entry active again (idempotent); the next rating re-applies the rule."""
    stmt = (
        sa.update(entries)
        .where(entries.c.cache_key == cache_key)
        .values(status=CacheEntryStatus.active, flagged_at=None)
        .returning(entries.c.cache_key)
    )
    if (await session.execute(stmt)).first() is None:
        raise _unknown(cache_key)


async def delete_entry(session: AsyncSession, cache_key: str) -> None:
    """Delete the entry; its ratings and hit days go with it (FK ON DELETE CASCADE)."""
    stmt = sa.delete(entries).where(entries.c.cache_key == cache_key).returning(entries.c.id)
    if (await session.execute(stmt)).first() is None:
        raise _unknown(cache_key)


def _hit_day_range(window: TimeWindow) -> tuple[dt.date, dt.date]:
    """The UTC days overlapping `[start, end)`: `[first, after_last)`."""
    end = window.end
    after_last = end.date() if end.time() == dt.time(0) else end.date() + dt.timedelta(days=1)
    return window.start.date(), after_last


async def cache_analytics(session: AsyncSession, window: TimeWindow) -> CacheAnalytics:
    """Entries, hits, cost saved, rating histogram, satisfaction and flagged keys; counts
    come from the rollups (window default: the last 30 days)."""
    start, end = window.start, window.end
    window = TimeWindow(start=start, end=end)
    parts = analytics_queries.window_parts(start, end) if start < end else None
    first_day, after_last_day = _hit_day_range(window)
    hits = (
        sa.select(
            sa.func.coalesce(sa.func.sum(hit_rollups.c.hits), 0).label("hits"),
            sa.func.coalesce(sa.func.sum(hit_rollups.c.cost_saved), 0).label("cost_saved_usd"),
        )
        .where(*window_conditions(hit_rollups.c.day, first_day, after_last_day))
        .subquery("hits")
    )
    flagged_filter = [
        entries.c.status == CacheEntryStatus.flagged,
        *window_conditions(entries.c.flagged_at, window.start, window.end),
    ]
    newest_flagged = (
        sa.select(entries.c.cache_key, entries.c.flagged_at)
        .where(*flagged_filter)
        .order_by(entries.c.flagged_at.desc(), entries.c.cache_key)
        .limit(FLAGGED_LIST_MAX)
        .subquery("newest_flagged")
    )
    flagged_keys = (
        sa.select(
            sa.func.array_agg(
                aggregate_order_by(
                    newest_flagged.c.cache_key,
                    newest_flagged.c.flagged_at.desc(),
                    newest_flagged.c.cache_key,
                )
            )
        )
        .select_from(newest_flagged)
        .scalar_subquery()
    )
    flagged_count = (
        sa.select(sa.func.count()).select_from(entries).where(*flagged_filter).scalar_subquery()
    )
    stmt = sa.select(
        hits.c.hits,
        hits.c.cost_saved_usd,
        flagged_keys.label("flagged"),
        flagged_count.label("flagged_count"),
    ).select_from(hits)
    row = (await session.execute(stmt)).mappings().one()
    entries_created, by_rating = 0, [0] * 5
    if parts is not None:
        await analytics_queries.plan_per_window(session)
        counted = (await session.execute(analytics_queries.cache_statement(parts))).one()
        entries_created, by_rating = int(counted.entries), [int(n) for n in counted.ratings]
    count = sum(by_rating)
    rating_sum = sum(value * n for value, n in zip(range(1, 6), by_rating, strict=True))
    good = sum(n for value, n in zip(range(1, 6), by_rating, strict=True) if value >= GOOD_RATING)
    return CacheAnalytics(
        entries=entries_created,
        hits=row["hits"],
        cost_saved_usd=row["cost_saved_usd"],
        ratings={str(value): by_rating[value - 1] for value in range(1, 6)},
        rating_count=count,
        avg_rating=rating_sum / count if count else None,
        satisfaction=good / count if count else None,
        flagged=row["flagged"] or [],
        flagged_count=row["flagged_count"],
    )
