"""Cache hits and ratings on the group-commit writer (`app/writer.py`): how a batch of them
is written and what each answers.

Both are written one after the other inside the writer's one transaction, so each sees
the ones before it (a rating's tally, the rating that tips the flagging rule, a rater's
earlier rating that it supersedes) exactly as if committed alone, and they share one
COMMIT."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fastapi import status
from sqlalchemy.ext.asyncio import AsyncSession

from app.cache import service
from app.cache.flagging import FlagRule
from app.cache.schemas import CacheFeedbackCreate
from app.writer import RowKind, render_json


async def _record_hits(session: AsyncSession, cache_keys: Sequence[str]) -> list[None]:
    for cache_key in cache_keys:
        await service.record_hit(session, cache_key)
    return [None] * len(cache_keys)


HITS: RowKind[str, None] = RowKind(
    name="cache_hits",
    insert=_record_hits,
    render=lambda _result: b"",
    status_code=status.HTTP_204_NO_CONTENT,
)


@dataclass(frozen=True)
class Rating:
    """One rating as the route authorised it (the user id it may record, its rater)."""

    cache_key: str
    payload: CacheFeedbackCreate
    user_id: int | None
    user_agent: str | None
    rule: FlagRule
    rater: str | None


async def _rate(session: AsyncSession, ratings: Sequence[Rating]) -> list[service.RatingRecorded]:
    return [
        await service.rate_entry(
            session,
            cache_key=r.cache_key,
            payload=r.payload,
            user_id=r.user_id,
            user_agent=r.user_agent,
            rule=r.rule,
            rater=r.rater,
        )
        for r in ratings
    ]


def _render_rating(recorded: service.RatingRecorded) -> bytes:
    return render_json({"id": str(recorded.id), "entry_status": recorded.entry_status.value})


def _rating_user_ids(rating: Rating) -> Iterable[int]:
    return () if rating.user_id is None else (rating.user_id,)


RATINGS: RowKind[Rating, service.RatingRecorded] = RowKind(
    name="cache_ratings", insert=_rate, render=_render_rating, user_ids=_rating_user_ids
)
