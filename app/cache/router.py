"""HTTP routes of the cache domain (adapters: body, principal, session in; one service call out)."""

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response, status

from app.auth.dependencies import Admin, CacheRater, IngestOrAdmin
from app.cache import service
from app.cache.flagging import FlagRule
from app.cache.models import CacheEntryStatus
from app.cache.schemas import (
    CacheAnalytics,
    CacheEntryRead,
    CacheEntryUpsert,
    CacheFeedbackCreate,
    CacheFeedbackCreated,
)
from app.config import SettingsDep
from app.db import SessionDep
from app.idempotency.dependencies import Idempotent
from app.query_params import Page, PaginationDep, TimeWindowDep
from app.schemas import CacheKey
from app.transaction import TransactionalRoute

router = APIRouter(tags=["cache"], route_class=TransactionalRoute)

CacheKeyPath = Annotated[CacheKey, Path(description="The gateway's cache key, as stored.")]
UNKNOWN_KEY: dict[int | str, dict[str, Any]] = {
    status.HTTP_404_NOT_FOUND: {"description": "No cache entry with that key."}
}


@router.post(
    "/cache/entries",
    dependencies=[Idempotent],
    status_code=status.HTTP_201_CREATED,
    response_model=CacheEntryRead,
    responses={status.HTTP_200_OK: {"model": CacheEntryRead, "description": "Updated."}},
)
async def upsert_cache_entry(
    payload: CacheEntryUpsert, principal: IngestOrAdmin, session: SessionDep, response: Response
) -> CacheEntryRead:
    """Store a cached response by `cache_key`: 201 when new, 200 when it updated the entry."""
    inserted, cache_key = await service.upsert_entry(session, payload)
    if not inserted:
        response.status_code = status.HTTP_200_OK
    return await service.get_entry(session, cache_key)


@router.get("/cache/entries", status_code=status.HTTP_200_OK, response_model=Page[CacheEntryRead])
async def list_cache_entries(
    principal: IngestOrAdmin,
    session: SessionDep,
    page: PaginationDep,
    entry_status: Annotated[
        CacheEntryStatus | None,
        Query(alias="status", description="Only entries with this status, e.g. `flagged`."),
    ] = None,
) -> Page[CacheEntryRead]:
    """Entries newest first; `?status=flagged` lists the ones the gateway should evict."""
    return await service.list_entries(session, page, status=entry_status)


@router.get(
    "/cache/entries/{cache_key:path}",
    status_code=status.HTTP_200_OK,
    response_model=CacheEntryRead,
    responses=UNKNOWN_KEY,
)
async def get_cache_entry(
    cache_key: CacheKeyPath, principal: IngestOrAdmin, session: SessionDep
) -> CacheEntryRead:
    """An entry with its hits, ratings and status (`flagged`: the gateway should evict it)."""
    return await service.get_entry(session, cache_key)


@router.delete(
    "/cache/entries/{cache_key:path}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
    responses=UNKNOWN_KEY,
)
async def delete_cache_entry(
    cache_key: CacheKeyPath, principal: Admin, session: SessionDep
) -> None:
    """Delete an entry together with its ratings and hit counts (admin only: users' ratings
    go with it)."""
    await service.delete_entry(session, cache_key)


@router.post(
    "/cache/entries/{cache_key:path}/hits",
    dependencies=[Idempotent],
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
    responses=UNKNOWN_KEY,
)
async def record_cache_hit(
    cache_key: CacheKeyPath, principal: IngestOrAdmin, session: SessionDep
) -> None:
    """Count one hit on the entry (atomic in the database; also counted for today, UTC)."""
    await service.record_hit(session, cache_key)


@router.post(
    "/cache/entries/{cache_key:path}/feedback",
    dependencies=[Idempotent],
    status_code=status.HTTP_201_CREATED,
    response_model=CacheFeedbackCreated,
    responses=UNKNOWN_KEY,
)
async def rate_cache_entry(
    cache_key: CacheKeyPath,
    payload: CacheFeedbackCreate,
    principal: CacheRater,
    session: SessionDep,
    settings: SettingsDep,
    user_agent: Annotated[
        str | None,
        Header(alias="User-Agent", description="The rating client, stored with the rating."),
    ] = None,
) -> CacheFeedbackCreated:
    """Rate a cached response 1..5; the rating that shows it is bad flags the entry."""
    user_id = principal.user_for_cache_key(cache_key, payload.user_id)
    recorded = await service.rate_entry(
        session,
        cache_key=cache_key,
        payload=payload,
        user_id=user_id,
        user_agent=user_agent,
        rule=FlagRule(
            min_ratings=settings.cache_flag_min_ratings,
            good_share_upper_bound=settings.cache_flag_good_share_upper_bound,
        ),
        rater=service.token_rater(principal.token),
    )
    return CacheFeedbackCreated(id=recorded.id, entry_status=recorded.entry_status)


@router.post(
    "/cache/entries/{cache_key:path}/unflag",
    dependencies=[Idempotent],
    status_code=status.HTTP_200_OK,
    response_model=CacheEntryRead,
    responses=UNKNOWN_KEY,
)
async def unflag_cache_entry(
    cache_key: CacheKeyPath, principal: Admin, session: SessionDep
) -> CacheEntryRead:
    """Clear an entry's flag (admin); the next rating re-applies the flagging rule."""
    await service.clear_flag(session, cache_key)
    return await service.get_entry(session, cache_key)


@router.get("/analytics/cache", status_code=status.HTTP_200_OK, response_model=CacheAnalytics)
async def cache_analytics(
    window: TimeWindowDep, principal: Admin, session: SessionDep
) -> CacheAnalytics:
    """Entries, hits, cost saved, rating histogram, satisfaction and flagged keys in a window
    (default: `to` = now, `from` = `to` minus 30 days; hits count per whole UTC day), served
    from rollups kept by database triggers."""
    return await service.cache_analytics(session, window)
