"""Request and response bodies of the cache routes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.cache.models import CacheEntryStatus
from app.schemas import (
    CacheKey,
    Comment,
    JsonNumber,
    ModelName,
    Money,
    NoNulSchema,
    Provider,
    UserId,
    _no_nul,
)

MAX_TTL_SECONDS = 10 * 365 * 86400


PromptHash = Annotated[
    str, StringConstraints(min_length=1, max_length=128), AfterValidator(_no_nul), NoNulSchema
]


class CacheEntryUpsert(BaseModel):
    """A cached response as the gateway stored it; the same `cache_key` again updates it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "cache_key": "sha256:9f86d081884c7d65",
                    "provider": "openai",
                    "model": "gpt-4o-mini",
                    "prompt_hash": "5e884898da280471",
                    "cost_usd": 0.0042,
                    "ttl_seconds": 86400,
                }
            ]
        },
    )

    cache_key: CacheKey
    provider: Provider
    model: ModelName
    prompt_hash: PromptHash | None = None
    cost_usd: Money = Field(
        description="Cost of the original (uncached) call in USD; stored to the micro-dollar. "
        "Every hit saves this much.",
    )
    ttl_seconds: Annotated[int, Field(ge=1, le=MAX_TTL_SECONDS), JsonNumber] | None = Field(
        default=None,
        description="Sets `expires_at` to now + ttl_seconds; omitted: no expiry (an update "
        "without it clears a previous expiry).",
    )


class CacheEntryRead(BaseModel):
    """A cache entry with its hit and rating summary."""

    cache_key: str
    provider: str
    model: str
    prompt_hash: str | None
    cost_usd: float
    hit_count: int
    last_hit_at: dt.datetime | None
    rating_count: int
    avg_rating: float | None = Field(description="Mean rating 1..5; null without ratings.")
    status: CacheEntryStatus = Field(description="`flagged`: ratings show it is bad; evict it.")
    flagged_at: dt.datetime | None
    expires_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class CacheFeedbackCreate(BaseModel):
    """A user's rating of a cached response."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"rating": 2, "comment": "Outdated answer."}]},
    )

    rating: Annotated[int, Field(ge=1, le=5), JsonNumber] = Field(
        description="1 (bad) .. 5 (good); 4 and 5 count as good."
    )
    comment: Comment | None = None
    user_id: UserId | None = Field(
        default=None,
        description="With a key only; a feedback token records the user it is bound to.",
    )


class CacheFeedbackCreated(BaseModel):
    id: uuid.UUID
    entry_status: CacheEntryStatus = Field(description="The entry's status after this rating.")


class CacheAnalytics(BaseModel):
    """Cache use and quality over a time window (everything without `from`/`to`)."""

    entries: int = Field(description="Entries created in the window.")
    hits: int = Field(
        description="Hits on the UTC days that overlap the window (hits are counted per day)."
    )
    cost_saved_usd: float = Field(
        description="Sum over those days of hits times the entry's original cost."
    )
    ratings: dict[str, int] = Field(
        description='Ratings given in the window by value: {"1": n, ..., "5": n}.'
    )
    rating_count: int
    avg_rating: float | None
    satisfaction: float | None = Field(
        description="Share of the window's ratings that are 4 or 5; null without ratings."
    )
    flagged: list[str] = Field(
        description="Keys currently flagged whose flag was raised in the window, newest "
        "first (at most 1000; see `flagged_count`)."
    )
    flagged_count: int
