"""Request and response bodies of the votes routes."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal

import email_validator
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
from app.schemas import (
    NO_NUL_PATTERN,
    Comment,
    ExternalId,
    RefusesServerOwned,
    Text,
    UserId,
    UtcDateTime,
)
from app.votes.models import VoteDirection

MAX_REASONS = 20
MAX_REASON_LENGTH = 100
MAX_EXPERT_IDS = 100


def _number_as_text(value: Any) -> Any:
    # Earlier frontends sent numeric conversation/expert ids; store them as the text they are.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    # JSON Schema counts 273.0 as the integer 273 (the schema says integer): same text.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value


def _any_case(name: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in name)


# email-validator refuses addresses in special-use domains (RFC 6761: `.test`, `.local`...):
# stated in the schema from the library's own list, so the schema admits only what it accepts.
_SPECIAL_USE = (
    "[@.](?:"
    + "|".join(_any_case(name) for name in email_validator.SPECIAL_USE_DOMAIN_NAMES)
    + r")\.?$"
)


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
        description="The chat's conversation id, stored as given (1..200 characters).",
        examples=["conv-8f14e45f"],
    )
    vote: VoteDirection = Field(description="`up` or `down`.", examples=["down"])
    query_id: uuid.UUID | None = Field(
        default=None,
        description="The answered query (the same id experts review).",
        examples=["3f1c1a52-7d0e-4a59-9d5b-6f2d1f0c9a11"],
    )
    user_id: UserId | None = Field(
        default=None,
        description="The platform's user id; refused with a token that binds none.",
        examples=[4211],
    )
    email: Annotated[
        EmailStr | None,
        BeforeValidator(_blank_as_missing),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string", "format": "email", "not": {"pattern": _SPECIAL_USE}},
                    {"type": "string", "pattern": r"^\s*$"},
                    {"type": "null"},
                ]
            }
        ),
    ] = Field(
        default=None,
        description="Contact email; an empty string counts as absent.",
        examples=["mario.rossi@example.com"],
    )
    expert_ids: Annotated[
        list[LenientExternalId], BeforeValidator(_null_as_empty), Field(max_length=MAX_EXPERT_IDS)
    ] = Field(
        default_factory=list, description="Experts shown with the answer.", examples=[["exp-12"]]
    )
    reasons: Annotated[
        list[Reason], BeforeValidator(_null_as_empty), Field(max_length=MAX_REASONS)
    ] = Field(
        default_factory=list,
        description=f"At most {MAX_REASONS} reasons of 1..{MAX_REASON_LENGTH} characters.",
        examples=[["incorrect"]],
    )
    comment: Comment | None = Field(
        default=None, description="At most 4000 characters.", examples=["Wrong VAT rate"]
    )


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

    status: Literal["ok"] = Field(default="ok", description="Always `ok`.", examples=["ok"])
    id: uuid.UUID = Field(
        description="The vote's id.", examples=["3b241101-e2bb-4255-8caf-4136c566a962"]
    )
    created_at: UtcDateTime = Field(
        description="When it was cast (UTC).", examples=["2026-11-23T20:15:00Z"]
    )


class VoteHistoryItem(BaseModel):
    id: uuid.UUID = Field(
        description="The vote's id.", examples=["3b241101-e2bb-4255-8caf-4136c566a962"]
    )
    vote: VoteDirection = Field(description="`up` or `down`.", examples=["down"])
    reasons: list[str] = Field(
        description="Reasons picked with the vote (at most 20).",
        examples=[["incorrect", "outdated"]],
    )
    comment: str | None = Field(
        default=None,
        description="Free text from the user (at most 4000 characters).",
        examples=["The VAT rate is outdated."],
    )
    created_at: UtcDateTime = Field(
        description="When it was cast (UTC).", examples=["2026-11-23T20:15:00Z"]
    )
    query_id: uuid.UUID | None = Field(
        default=None,
        description="The answered query (the same id votes and expert reviews use).",
        examples=["3f1c1a52-7d0e-4a59-9d5b-6f2d1f0c9a11"],
    )
    user_id: int | None = Field(
        default=None, description="The platform's integer user id.", examples=[4211]
    )
    email: str | None = Field(
        default=None,
        description="E-mail the user left for a follow-up.",
        examples=["mario.rossi@example.com"],
    )
    expert_ids: list[str] = Field(
        default_factory=list,
        description="Experts the frontend showed with the answer.",
        examples=[["exp-12"]],
    )


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

    current: VoteDirection | None = Field(
        description="Null when the conversation has no votes.", examples=["down"]
    )
    history: list[VoteHistoryItem] = Field(
        description="Every vote, newest first.",
        examples=[
            [
                {
                    "id": "3b241101-e2bb-4255-8caf-4136c566a962",
                    "vote": "down",
                    "reasons": ["incorrect"],
                    "comment": None,
                    "created_at": "2026-11-23T20:15:00Z",
                }
            ]
        ],
    )


class VoteTotals(BaseModel):
    up: int = Field(description="Current up votes in the window.", examples=[120])
    down: int = Field(description="Current down votes in the window.", examples=[31])
    satisfaction: float | None = Field(
        description="up / (up + down); null when no votes.", examples=[0.795]
    )


class VoteSeriesPoint(BaseModel):
    bucket_start: UtcDateTime = Field(
        description="Start of the bucket (UTC).", examples=["2026-11-23T00:00:00Z"]
    )
    up: int = Field(description="Current up votes cast in the bucket.", examples=[12])
    down: int = Field(description="Current down votes cast in the bucket.", examples=[3])
    satisfaction: float | None = Field(
        description="up / (up + down); null without votes.", examples=[0.795]
    )


class ReasonCount(BaseModel):
    reason: str = Field(description="A reason as sent.", examples=["incorrect"])
    count: int = Field(description="Current votes giving this reason.", examples=[17])


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

    from_: UtcDateTime = Field(
        alias="from",
        description="Window start (inclusive), UTC.",
        examples=["2026-10-31T00:00:00Z"],
    )
    to: UtcDateTime = Field(
        description="Window end (exclusive), UTC.", examples=["2026-11-30T00:00:00Z"]
    )
    bucket: Bucket = Field(description="Size of the series' buckets.", examples=["day"])
    totals: VoteTotals = Field(
        description="Current votes in the window.",
        examples=[{"up": 120, "down": 31, "satisfaction": 0.795}],
    )
    series: list[VoteSeriesPoint] = Field(
        description="One point per bucket with votes, oldest first.",
        examples=[
            [{"bucket_start": "2026-11-23T00:00:00Z", "up": 12, "down": 3, "satisfaction": 0.8}]
        ],
    )
    top_reasons: list[ReasonCount] = Field(
        description="Reasons given with the window's current votes, most given first.",
        examples=[[{"reason": "incorrect", "count": 17}]],
    )
