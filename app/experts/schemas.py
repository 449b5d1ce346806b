"""Request and response bodies of the experts routes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from app.experts.models import (
    ApprovalStatus,
    ExpertCredentialType,
    FeedbackType,
    ItalianFeedbackCategory,
)
from app.schemas import Comment, JsonNumber, NoNulSchema, NotBlankSchema, UserId, _no_nul

# Non-empty strings without NUL bytes. The constraints must come before the validator:
# `Annotated[Text, StringConstraints(...)]` would silently skip them.
_NoNul = AfterValidator(_no_nul)
ShortText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, strip_whitespace=True),
    _NoNul,
    NotBlankSchema,
]
RegistrationNumber = Annotated[
    str, StringConstraints(min_length=1, max_length=100), _NoNul, NoNulSchema
]
Organization = Annotated[str, StringConstraints(min_length=1, max_length=200), _NoNul, NoNulSchema]
City = Annotated[str, StringConstraints(min_length=1, max_length=100), _NoNul, NoNulSchema]
Reference = Annotated[str, StringConstraints(min_length=1, max_length=500), _NoNul, NoNulSchema]
QueryText = Annotated[str, StringConstraints(min_length=1, max_length=20_000), _NoNul, NoNulSchema]
AnswerText = Annotated[
    str, StringConstraints(min_length=1, max_length=100_000), _NoNul, NoNulSchema
]
Reason = Annotated[
    str,
    StringConstraints(min_length=1, max_length=4000, strip_whitespace=True),
    _NoNul,
    NotBlankSchema,
]
KeyName = Annotated[str, StringConstraints(min_length=1, max_length=200), _NoNul, NoNulSchema]


class ExpertCreate(BaseModel):
    """A new expert profile for a platform user (one per user)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "user_id": 4211,
                    "credential_types": ["dottore_commercialista"],
                    "credentials": ["ODCEC Milano"],
                    "specializations": ["iva", "redditi_persone_fisiche"],
                    "experience_years": 12,
                    "professional_registration_number": "MI-12345",
                    "organization": "Studio Rossi",
                    "location_city": "Milano",
                }
            ]
        },
    )

    user_id: UserId
    credential_types: list[ExpertCredentialType] = Field(max_length=5)
    credentials: list[ShortText] = Field(default_factory=list, max_length=50)
    specializations: list[ShortText] = Field(default_factory=list, max_length=50)
    experience_years: Annotated[int, Field(ge=0, le=80), JsonNumber] | None = None
    professional_registration_number: RegistrationNumber | None = None
    organization: Organization | None = None
    location_city: City | None = None


_NOT_NULL = ("is_verified", "is_active", "credential_types", "credentials", "specializations")


def _update_schema(schema: dict[str, Any]) -> None:
    """Examples, and no `null` for the fields that may be omitted but not cleared."""
    schema["examples"] = [
        {"is_verified": True},
        {"is_active": False},
        {"specializations": ["iva", "lavoro"], "experience_years": 13},
    ]
    for name in _NOT_NULL:
        prop = schema["properties"][name]
        branches = [b for b in prop.pop("anyOf", []) if b.get("type") != "null"]
        if branches:
            prop.update(branches[0])


class ExpertUpdate(BaseModel):
    """Fields to change; omitted fields stay as they are. `is_verified: true` stamps
    `verification_date`; `false` clears it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_update_schema)

    is_verified: Annotated[bool, Strict()] | None = None
    is_active: Annotated[bool, Strict()] | None = None
    credential_types: list[ExpertCredentialType] | None = Field(default=None, max_length=5)
    credentials: list[ShortText] | None = Field(default=None, max_length=50)
    specializations: list[ShortText] | None = Field(default=None, max_length=50)
    experience_years: Annotated[int, Field(ge=0, le=80), JsonNumber] | None = None
    professional_registration_number: RegistrationNumber | None = None
    organization: Organization | None = None
    location_city: City | None = None

    @field_validator(*_NOT_NULL)
    @classmethod
    def not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null")
        return value


class ExpertRead(BaseModel):
    """An expert profile with its trust score and the evidence behind it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: int
    credential_types: list[ExpertCredentialType]
    credentials: list[str]
    specializations: list[str]
    experience_years: int | None
    professional_registration_number: str | None
    organization: str | None
    location_city: str | None
    is_verified: bool
    verification_date: dt.datetime | None
    is_active: bool
    trust_score: float
    feedback_count: int
    feedback_accuracy_rate: float | None
    average_response_time_seconds: float | None
    approved_count: int
    rejected_count: int
    agreement_count: int
    disagreement_count: int
    created_at: dt.datetime
    updated_at: dt.datetime


class ExpertKeyCreate(BaseModel):
    """Optional label for the new expert key."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "Mario Rossi laptop"}]}
    )

    name: KeyName | None = None


class ExpertKeyCreated(BaseModel):
    """The new key's secret, shown only in this response."""

    key: str = Field(description="The bearer secret; it is not stored and cannot be shown again.")
    id: uuid.UUID
    expert_id: uuid.UUID
    name: str | None


class ExpertFeedbackCreate(BaseModel):
    """One expert's verdict on one AI answer.

    `category` is required unless `feedback_type` is `correct`; `expert_answer` is required
    when it is `incorrect`. An expert key submits for its own profile (`expert_id` may be
    omitted); an admin key must name `expert_id`.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            # The two cross-field rules below, stated for clients and schemathesis.
            "allOf": [
                {
                    "if": {"properties": {"feedback_type": {"const": "incorrect"}}},
                    "then": {
                        "properties": {"expert_answer": {"type": "string"}},
                        "required": ["expert_answer"],
                    },
                },
                {
                    "if": {"properties": {"feedback_type": {"not": {"const": "correct"}}}},
                    "then": {
                        "properties": {"category": {"type": "string"}},
                        "required": ["category"],
                    },
                },
            ],
            "examples": [
                {
                    "query_id": "3f1c1a52-7d0e-4a59-9d5b-6f2d1f0c9a11",
                    "feedback_type": "incorrect",
                    "category": "normativa_obsoleta",
                    "query_text": "Qual è l'aliquota IVA per i servizi di consulenza?",
                    "original_answer": "L'aliquota è del 20%.",
                    "expert_answer": "L'aliquota ordinaria è del 22% (art. 16 DPR 633/1972).",
                    "regulatory_references": ["DPR 633/1972 art. 16"],
                    "confidence_score": 0.95,
                    "time_spent_seconds": 180,
                    "complexity_rating": 2,
                },
                {
                    "query_id": "9b2e4c3a-1f5d-4e8b-a7c6-0d9e8f7a6b5c",
                    "feedback_type": "correct",
                    "query_text": "Scadenza del 730 precompilato?",
                    "original_answer": "Il 30 settembre.",
                    "confidence_score": 0.9,
                    "time_spent_seconds": 45,
                    "expert_id": "0b7d6c1e-2a3f-4b5c-8d9e-0f1a2b3c4d5e",
                },
            ],
        },
    )

    expert_id: uuid.UUID | None = Field(
        default=None, description="Required with an admin key; an expert key acts for itself."
    )
    query_id: uuid.UUID
    feedback_type: FeedbackType
    category: ItalianFeedbackCategory | None = Field(default=None, validate_default=True)
    query_text: QueryText
    original_answer: AnswerText
    expert_answer: AnswerText | None = Field(default=None, validate_default=True)
    improvement_suggestions: Comment | None = None
    regulatory_references: list[Reference] = Field(default_factory=list, max_length=50)
    confidence_score: Annotated[float, Field(ge=0, le=1), JsonNumber]
    time_spent_seconds: Annotated[int, Field(gt=0, le=86_400 * 7), JsonNumber]
    complexity_rating: Annotated[int, Field(ge=1, le=5), JsonNumber] | None = None

    @field_validator("category")
    @classmethod
    def category_unless_correct(
        cls, value: ItalianFeedbackCategory | None, info: ValidationInfo
    ) -> ItalianFeedbackCategory | None:
        feedback_type = info.data.get("feedback_type")
        if value is None and feedback_type is not None and feedback_type != FeedbackType.correct:
            raise ValueError("category is required unless feedback_type is correct")
        return value

    @field_validator("expert_answer")
    @classmethod
    def answer_when_incorrect(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("feedback_type") == FeedbackType.incorrect:
            raise ValueError("expert_answer is required when feedback_type is incorrect")
        return value


class FaqCandidateRef(BaseModel):
    id: uuid.UUID
    approval_status: ApprovalStatus


class ExpertFeedbackCreated(BaseModel):
    """The stored review and, for a correction, the FAQ candidate it created or strengthened."""

    id: uuid.UUID
    expert_id: uuid.UUID
    created_at: dt.datetime
    faq_candidate: FaqCandidateRef | None


class ExpertFeedbackRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    query_id: uuid.UUID
    expert_id: uuid.UUID
    feedback_type: FeedbackType
    category: ItalianFeedbackCategory | None
    query_text: str
    original_answer: str
    expert_answer: str | None
    improvement_suggestions: str | None
    regulatory_references: list[str]
    confidence_score: float
    time_spent_seconds: int
    complexity_rating: int | None
    created_at: dt.datetime


class FaqCandidateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    query_id: uuid.UUID
    question: str
    answer: str
    source_feedback_id: uuid.UUID | None
    expert_id: uuid.UUID | None
    expert_trust_score: float
    approval_status: ApprovalStatus
    approved_by: int | None
    approved_at: dt.datetime | None
    rejection_reason: str | None
    suggested_category: ItalianFeedbackCategory | None
    suggested_tags: list[str]
    regulatory_references: list[str]
    priority_score: float
    supporting_count: int
    created_at: dt.datetime
    updated_at: dt.datetime


class FaqCandidateReject(BaseModel):
    """Why the candidate is refused (required)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "Risposta già coperta dalla FAQ 12."}]},
    )

    reason: Reason


class LeaderboardEntry(BaseModel):
    id: uuid.UUID
    user_id: int
    trust_score: float
    feedback_count: int
    accuracy_rate: float | None
    average_response_time_seconds: float | None
    approved_count: int
    rejected_count: int
    is_verified: bool


class ExpertAnalytics(BaseModel):
    """Leaderboard (active experts, highest trust first) and review/candidate counts."""

    experts: list[LeaderboardEntry]
    feedback_by_type: dict[str, int] = Field(
        description="Reviews in the window per feedback_type; every type is present."
    )
    feedback_by_category: dict[str, int] = Field(
        description="Reviews in the window per category; every category is present."
    )
    candidates_by_status: dict[str, int] = Field(
        description="FAQ candidates per approval_status (all time); every status is present."
    )
    window_start: dt.datetime | None
    window_end: dt.datetime | None
