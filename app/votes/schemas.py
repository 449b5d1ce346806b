"""Request and response bodies of the votes routes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from app.query_params import Bucket
from app.schemas import NO_NUL_PATTERN, Comment, ExternalId, RefusesServerOwned, Text, UserId
from app.votes.models import VoteDirection

MAX_REASONS = 20
MAX_REASON_LENGTH = 100
MAX_EXPERT_IDS = 100


def _number_as_text(value: Any) -> Any:
    # Earlier frontends sent numeric conversation/expert ids; store them as the text they are.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _blank_as_missing(value: Any) -> Any:
    # A frontend without an email on file sends "" rather than omitting the field.
    if isinstance(value, str) and value.strip() == "":
        return None
    return value


def _null_as_empty(value: Any) -> Any:
    return [] if value is None else value


LenientExternalId = Annotated[
    ExternalId,
    BeforeValidator(_number_as_text),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "minLength": 1, "maxLength": 200, "pattern": NO_NUL_PATTERN},
                # Stored as its decimal text, which must fit the 200 characters.
                {"type": "integer", "minimum": -(10**198), "maximum": 10**199},
            ]
        }
    ),
]
Reason = Annotated[Text, StringConstraints(min_length=1, max_length=MAX_REASON_LENGTH)]

VOTE_EXAMPLE: dict[str, Any] = {
    "conversation_id": "conv-8f14e45f",
    "vote": "down",
    "query_id": "5b1f0e2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
    "user_id": 4211,
    "email": "ana@example.com",
    "expert_ids": ["exp-102", "exp-877"],
    "reasons": ["Wrong tax year", "Missing source"],
    "comment": "The answer quotes the 2024 threshold; 2026 changed it.",
}


class VoteCreate(RefusesServerOwned):
    """A thumbs vote on one answer of a conversation; unknown extra fields are ignored
    (server-owned ones are refused)."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                VOTE_EXAMPLE,
                {"conversation_id": "conv-8f14e45f", "vote": "up"},
            ]
        },
    )

    conversation_id: LenientExternalId = Field(
        description="The chat's conversation id, stored as given (1..200 characters)."
    )
    vote: VoteDirection = Field(description="`up` or `down`.")
    query_id: uuid.UUID | None = Field(
        default=None, description="The answered query (the same id experts review)."
    )
    user_id: UserId | None = None
    email: Annotated[
        EmailStr | None,
        BeforeValidator(_blank_as_missing),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string", "format": "email"},
                    {"type": "string", "pattern": r"^\s*$"},
                    {"type": "null"},
                ]
            }
        ),
    ] = Field(default=None, description="Contact email; an empty string counts as absent.")
    expert_ids: Annotated[
        list[LenientExternalId], BeforeValidator(_null_as_empty), Field(max_length=MAX_EXPERT_IDS)
    ] = Field(default_factory=list, description="Experts shown with the answer.")
    reasons: Annotated[
        list[Reason], BeforeValidator(_null_as_empty), Field(max_length=MAX_REASONS)
    ] = Field(
        default_factory=list,
        description=f"At most {MAX_REASONS} reasons of 1..{MAX_REASON_LENGTH} characters.",
    )
    comment: Comment | None = Field(default=None, description="At most 4000 characters.")


class VoteRecorded(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ok",
                    "id": "0b9e7c1e-6f1a-4a53-9d9e-2f4c1b7a8e10",
                    "created_at": "2026-11-24T09:15:02.113Z",
                }
            ]
        }
    )

    status: Literal["ok"] = "ok"
    id: uuid.UUID
    created_at: dt.datetime


class VoteHistoryItem(BaseModel):
    id: uuid.UUID
    vote: VoteDirection
    reasons: list[str]
    comment: str | None = None
    created_at: dt.datetime
    query_id: uuid.UUID | None = None
    user_id: int | None = None
    email: str | None = None
    expert_ids: list[str] = Field(default_factory=list)


class ConversationVotes(BaseModel):
    """The current vote (the newest row) and every vote cast, newest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "current": "up",
                    "history": [
                        {
                            "id": "7d0c4b1e-2f4e-4f6a-9a51-3a2b1c0d9e8f",
                            "vote": "up",
                            "reasons": [],
                            "comment": None,
                            "created_at": "2026-11-24T09:17:40.002Z",
                            "query_id": None,
                            "user_id": 4211,
                            "email": None,
                            "expert_ids": [],
                        },
                        {
                            "id": "0b9e7c1e-6f1a-4a53-9d9e-2f4c1b7a8e10",
                            "vote": "down",
                            "reasons": ["Wrong tax year"],
                            "comment": "Quotes the 2024 threshold.",
                            "created_at": "2026-11-24T09:15:02.113Z",
                            "query_id": "5b1f0e2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
                            "user_id": 4211,
                            "email": "ana@example.com",
                            "expert_ids": ["exp-102"],
                        },
                    ],
                }
            ]
        }
    )

    current: VoteDirection | None = Field(description="Null when the conversation has no votes.")
    history: list[VoteHistoryItem]


class VoteTotals(BaseModel):
    up: int
    down: int
    satisfaction: float | None = Field(description="up / (up + down); null when no votes.")


class VoteSeriesPoint(BaseModel):
    bucket_start: dt.datetime
    up: int
    down: int
    satisfaction: float | None


class ReasonCount(BaseModel):
    reason: str
    count: int


class VoteAnalytics(BaseModel):
    """Vote totals, a per-bucket series and the most frequent reasons over one window."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "from": "2026-11-17T00:00:00Z",
                    "to": "2026-11-19T00:00:00Z",
                    "bucket": "day",
                    "totals": {"up": 3, "down": 1, "satisfaction": 0.75},
                    "series": [
                        {
                            "bucket_start": "2026-11-17T00:00:00Z",
                            "up": 2,
                            "down": 1,
                            "satisfaction": 0.6666666666666666,
                        },
                        {
                            "bucket_start": "2026-11-18T00:00:00Z",
                            "up": 1,
                            "down": 0,
                            "satisfaction": 1.0,
                        },
                    ],
                    "top_reasons": [{"reason": "Wrong tax year", "count": 1}],
                }
            ]
        },
    )

    from_: dt.datetime = Field(alias="from", description="Window start (inclusive), UTC.")
    to: dt.datetime = Field(description="Window end (exclusive), UTC.")
    bucket: Bucket
    totals: VoteTotals
    series: list[VoteSeriesPoint]
    top_reasons: list[ReasonCount]
