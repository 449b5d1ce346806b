"""Request and response bodies of the cache routes."""

from __future__ import annotations

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
    UsdAmount,
    UserId,
    UtcDateTime,
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

    cache_key: CacheKey = Field(
        description="The gateway's key for the cached response, stored as given.",
        examples=["sha256:9f86d081884c7d65"],
    )
    provider: Provider = Field(description="LLM provider.", examples=["openai"])
    model: ModelName = Field(
        description="Model name as the provider spells it.", examples=["gpt-4o-mini"]
    )
    prompt_hash: PromptHash | None = Field(
        default=None,
        description="Hash of the prompt that produced the cached response.",
        examples=["5e884898da280471"],
    )
    cost_usd: Money = Field(
        description="Cost of the original (uncached) call in USD; stored to the micro-dollar. "
        "Every hit saves this much.",
        examples=[0.0042],
    )
    ttl_seconds: Annotated[int, Field(ge=1, le=MAX_TTL_SECONDS), JsonNumber] | None = Field(
        default=None,
        description="Sets `expires_at` to now + ttl_seconds; omitted: no expiry (an update "
        "without it clears a previous expiry).",
        examples=[86400],
    )


class CacheEntryRead(BaseModel):
    """A cache entry with its hit and rating summary."""

    cache_key: str = Field(
        description="The gateway's key for the cached response, stored as given.",
        examples=["sha256:9f86d081884c7d65"],
    )
    provider: str = Field(description="LLM provider.", examples=["openai"])
    model: str = Field(
        description="Model name as the provider spells it.", examples=["gpt-4o-mini"]
    )
    prompt_hash: str | None = Field(
        description="Hash of the prompt that produced the cached response.",
        examples=["5e884898da280471"],
    )
    cost_usd: UsdAmount = Field(
        description="Cost of the original call in USD; every hit saves this much.",
        examples=[0.0042],
    )
    hit_count: int = Field(description="Hits recorded.", examples=[27])
    last_hit_at: UtcDateTime | None = Field(
        description="The latest hit; null before the first.", examples=["2026-11-23T21:02:00Z"]
    )
    rating_count: int = Field(description="Ratings counted.", examples=[17])
    avg_rating: float | None = Field(
        description="Mean rating 1..5; null without ratings.", examples=[4.2]
    )
    status: CacheEntryStatus = Field(
        description="`flagged`: ratings show it is bad; evict it.", examples=["active"]
    )
    flagged_at: UtcDateTime | None = Field(
        description="When the ratings flagged it; null while active.", examples=[None]
    )
    expires_at: UtcDateTime | None = Field(
        description="When the entry expires; null: never.", examples=["2026-11-24T20:15:00Z"]
    )
    created_at: UtcDateTime = Field(
        description="When it was stored (ISO-8601, UTC).", examples=["2026-11-23T20:15:00Z"]
    )
    updated_at: UtcDateTime = Field(
        description="When it last changed (ISO-8601, UTC).", examples=["2026-11-24T08:02:11Z"]
    )


class CacheFeedbackCreate(BaseModel):
    """A user's rating of a cached response."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"rating": 2, "comment": "Outdated answer."}]},
    )

    rating: Annotated[int, Field(ge=1, le=5), JsonNumber] = Field(
        description="1 (bad) .. 5 (good); 4 and 5 count as good.", examples=[2]
    )
    comment: Comment | None = Field(
        default=None,
        description="What the user said about the answer (≤ 4000 characters).",
        examples=["Outdated answer."],
    )
    user_id: UserId | None = Field(
        default=None,
        description="With a key only; a feedback token records the user it is bound to.",
        examples=[4211],
    )


class CacheFeedbackCreated(BaseModel):
    id: uuid.UUID = Field(
        description="The rating's id.", examples=["3b241101-e2bb-4255-8caf-4136c566a962"]
    )
    entry_status: CacheEntryStatus = Field(
        description="The entry's status after this rating.", examples=["active"]
    )


class CacheAnalytics(BaseModel):
    """Cache use and quality over a time window (everything without `from`/`to`)."""

    entries: int = Field(description="Entries created in the window.", examples=[400])
    hits: int = Field(
        description="Hits on the UTC days that overlap the window (hits are counted per day).",
        examples=[5120],
    )
    cost_saved_usd: UsdAmount = Field(
        description="Sum over those days of hits times the entry's original cost.",
        examples=[12.418],
    )
    ratings: dict[str, int] = Field(
        description='Ratings given in the window by value: {"1": n, ..., "5": n}.',
        examples=[{"1": 80, "2": 95, "3": 210, "4": 600, "5": 515}],
    )
    rating_count: int = Field(description="Ratings given in the window.", examples=[1500])
    avg_rating: float | None = Field(
        description="Mean of the window's ratings; null without ratings.", examples=[3.9]
    )
    satisfaction: float | None = Field(
        description="Share of the window's ratings that are 4 or 5; null without ratings.",
        examples=[0.743],
    )
    flagged: list[str] = Field(
        description="Keys currently flagged whose flag was raised in the window, newest "
        "first (at most 1000; see `flagged_count`).",
        examples=[["sha256:9f86d081884c7d65"]],
    )
    flagged_count: int = Field(
        description="Keys flagged in the window (all of them, not only those listed).", examples=[3]
    )
