"""Request and response bodies of the access-control routes."""

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.auth.models import Scope
from app.schemas import CacheKey, ExternalId, JsonNumber, UserId, UtcDateTime


class FeedbackTokenCreate(BaseModel):
    """Exactly one of `conversation_id` / `cache_key`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"conversation_id": "conv-8f14e45f", "user_id": 4211, "ttl_seconds": 3600}
            ],
            # Exactly one target (null counts as absent), as `exactly_one_target` enforces.
            "oneOf": [
                {
                    "required": ["conversation_id"],
                    "properties": {"conversation_id": {"type": "string"}},
                },
                {"required": ["cache_key"], "properties": {"cache_key": {"type": "string"}}},
            ],
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
    ttl_seconds: Annotated[int, Field(ge=1, le=86400), JsonNumber] | None = Field(
        default=None,
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


class Caller(BaseModel):
    """Who the presented credential is, as the service sees it (never the secret)."""

    kind: Literal["key", "token"] = Field(
        description="An API key or a feedback token.", examples=["key"]
    )
    scope: Scope | None = Field(
        default=None, description="The key's scope; null for a token.", examples=["ingest"]
    )
    key_id: uuid.UUID | None = Field(
        default=None,
        description="The key's id (as in `keys list`); null for a token.",
        examples=["3f0c1b9e-5d2a-4f7b-9c1e-2a6b8d4e0f13"],
    )
    expert_id: uuid.UUID | None = Field(
        default=None,
        description="The expert profile an expert key is bound to.",
        examples=[None],
    )
    conversation_id: str | None = Field(
        default=None, description="A token's conversation.", examples=["conv-8f14e45f"]
    )
    cache_key: str | None = Field(
        default=None, description="A token's cache entry.", examples=[None]
    )
    user_id: int | None = Field(
        default=None, description="The user the key or token is bound to.", examples=[4211]
    )
    expires_at: UtcDateTime | None = Field(
        default=None, description="When a token expires.", examples=["2026-12-01T21:00:00Z"]
    )
