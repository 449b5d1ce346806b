"""Request and response bodies of the access-control routes."""

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.schemas import CacheKey, ExternalId, UserId, UtcDateTime


class FeedbackTokenCreate(BaseModel):
    """Exactly one of `conversation_id` / `cache_key`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"conversation_id": "conv-8f14e45f", "user_id": 4211, "ttl_seconds": 3600}]
        },
    )

    conversation_id: ExternalId | None = Field(
        default=None,
        description="Bind the token to this conversation (or give `cache_key`).",
        examples=["conv-8f14e45f"],
    )
    cache_key: CacheKey | None = Field(
        default=None,
        description="Bind the token to this cache entry (or give `conversation_id`).",
        examples=["sha256:9f86d081884c7d65"],
    )
    user_id: UserId | None = Field(
        default=None,
        description="Bind the signed-in user: votes with the token record them.",
        examples=[4211],
    )
    ttl_seconds: int | None = Field(
        default=None,
        ge=1,
        le=86400,
        description="Lifetime in seconds (at most 86400); default 3600.",
        examples=[3600],
    )

    @model_validator(mode="after")
    def exactly_one_target(self) -> "FeedbackTokenCreate":
        if (self.conversation_id is None) == (self.cache_key is None):
            raise ValueError("give exactly one of conversation_id or cache_key")
        return self


class FeedbackTokenCreated(BaseModel):
    token: str = Field(
        description="The bearer token for the browser (`Authorization: Bearer …`).",
        examples=["fbt_eyJjIjoiY29udi04ZjE0ZTQ1ZiJ9.Z3x1"],
    )
    expires_at: UtcDateTime = Field(
        description="When the token stops working (ISO-8601, UTC).",
        examples=["2026-11-23T21:00:00Z"],
    )
