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

    conversation_id: ExternalId | None = None
    cache_key: CacheKey | None = None
    user_id: UserId | None = None
    ttl_seconds: int | None = Field(default=None, ge=1, le=86400)

    @model_validator(mode="after")
    def exactly_one_target(self) -> "FeedbackTokenCreate":
        if (self.conversation_id is None) == (self.cache_key is None):
            raise ValueError("give exactly one of conversation_id or cache_key")
        return self


class FeedbackTokenCreated(BaseModel):
    token: str
    expires_at: UtcDateTime
