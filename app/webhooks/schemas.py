"""Request and response bodies of the webhook routes, and the event types."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.schemas import JsonNumber, NoNulSchema, _no_nul
from app.webhooks.models import DeliveryStatus
from app.webhooks.secrets import SECRET_PATTERN

MAX_ROTATION_GRACE_SECONDS = 7 * 86400


class EventType(enum.StrEnum):
    vote_down = "vote.down"
    cache_entry_flagged = "cache_entry.flagged"
    expert_feedback_created = "expert_feedback.created"
    faq_candidate_created = "faq_candidate.created"
    faq_candidate_approved = "faq_candidate.approved"
    faq_candidate_rejected = "faq_candidate.rejected"


WebhookUrl = Annotated[
    str, StringConstraints(min_length=1, max_length=2000), AfterValidator(_no_nul), NoNulSchema
]
# The schema states the secret format `secrets.secret_problem` enforces (the service's
# own message stays the one a client sees).
SecretText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    AfterValidator(_no_nul),
    Field(json_schema_extra={"pattern": SECRET_PATTERN}),
]

_URL = Field(
    description="Where deliveries are POSTed: http(s), resolving only to public addresses "
    "unless WEBHOOK_ALLOW_HOSTS allows it.",
    examples=["https://hooks.example.com/feedback"],
)
_EVENTS = Field(
    min_length=1,
    max_length=len(EventType),
    description="Event types this endpoint receives.",
    examples=[["vote.down", "cache_entry.flagged"]],
)
_SECRET_OUT = Field(
    description="The signing secret, shown only in this response; store it now.",
    examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
)


class WebhookCreate(BaseModel):
    """A receiver to register; without `secret` one is generated."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"url": "https://hooks.example.com/feedback", "events": ["vote.down"]}]
        },
    )

    url: WebhookUrl = _URL
    events: list[EventType] = _EVENTS
    secret: SecretText | None = Field(
        default=None,
        description="Your own signing secret, `whsec_<base64 of 24..64 bytes>`; omitted: "
        "32 random bytes are generated.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class WebhookCreated(BaseModel):
    """The registered endpoint and its signing secret (the only time it is shown)."""

    id: uuid.UUID = Field(description="The endpoint id.", examples=[uuid.UUID(int=1)])
    secret: str = _SECRET_OUT
    url: str = _URL
    events: list[EventType] = _EVENTS
    created_at: dt.datetime = Field(
        description="When it was registered.", examples=["2026-12-01T10:00:00Z"]
    )


class WebhookRead(BaseModel):
    """A registered endpoint (never its secret)."""

    id: uuid.UUID = Field(description="The endpoint id.", examples=[uuid.UUID(int=1)])
    url: str = _URL
    events: list[EventType] = _EVENTS
    enabled: bool = Field(
        description="False once disabled: a 410 from the receiver, or failures for a whole "
        "retry schedule.",
        examples=[True],
    )
    disabled_reason: str | None = Field(
        description="Why it was disabled.", examples=["The receiver answered 410 Gone."]
    )
    disabled_at: dt.datetime | None = Field(
        description="When it was disabled.", examples=["2026-12-04T10:00:00Z"]
    )
    secret_rotation_ends_at: dt.datetime | None = Field(
        description="While set and in the future, deliveries carry signatures with both the "
        "new and the previous secret.",
        examples=["2026-12-02T10:00:00Z"],
    )
    created_at: dt.datetime = Field(
        description="When it was registered.", examples=["2026-12-01T10:00:00Z"]
    )


class DeliveryRead(BaseModel):
    """One event's delivery to one endpoint."""

    id: uuid.UUID = Field(description="The delivery id.", examples=[uuid.UUID(int=2)])
    event_id: uuid.UUID = Field(
        description="The event id: the payload's `id` and the `webhook-id` header.",
        examples=[uuid.UUID(int=3)],
    )
    event_type: EventType = Field(description="The event type.", examples=["vote.down"])
    status: DeliveryStatus = Field(
        description="`pending` (due or waiting for a retry), `delivered`, or `failed` "
        "(retry schedule used up, or the endpoint is gone).",
        examples=["pending"],
    )
    attempts: int = Field(description="HTTP attempts made so far.", examples=[2])
    last_status_code: int | None = Field(
        description="HTTP status of the last attempt; null when it got no response.",
        examples=[503],
    )
    last_error: str | None = Field(
        description="Why the last attempt failed.", examples=["HTTP 503 from the receiver"]
    )
    next_attempt_at: dt.datetime | None = Field(
        description="When the next attempt is due (null unless pending).",
        examples=["2026-12-01T10:05:00Z"],
    )
    delivered_at: dt.datetime | None = Field(
        description="When a 2xx answer was received.", examples=["2026-12-01T10:00:01Z"]
    )
    created_at: dt.datetime = Field(
        description="When the event was recorded.", examples=["2026-12-01T10:00:00Z"]
    )


class DeliveryQueued(BaseModel):
    """A delivery queued again for an immediate attempt."""

    id: uuid.UUID = Field(description="The delivery id.", examples=[uuid.UUID(int=2)])
    status: DeliveryStatus = Field(description="Now `pending`.", examples=["pending"])
    next_attempt_at: dt.datetime = Field(description="Due now.", examples=["2026-12-01T10:00:00Z"])


class SecretRotate(BaseModel):
    """A new signing secret; the previous one keeps signing during the grace period."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{}]})

    secret: SecretText | None = Field(
        default=None,
        description="The new secret (`whsec_<base64>`); omitted: one is generated.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )
    grace_seconds: Annotated[int, Field(ge=0, le=MAX_ROTATION_GRACE_SECONDS), JsonNumber] = Field(
        default=86400,
        description="How long deliveries also carry the previous secret's signatures.",
        examples=[86400],
    )


class SecretRotated(BaseModel):
    """The endpoint's new secret (the only time it is shown)."""

    id: uuid.UUID = Field(description="The endpoint id.", examples=[uuid.UUID(int=1)])
    secret: str = _SECRET_OUT
    secret_rotation_ends_at: dt.datetime | None = Field(
        description="Until then both secrets sign each delivery.",
        examples=["2026-12-02T10:00:00Z"],
    )
