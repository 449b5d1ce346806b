"""Request and response bodies of the experts routes."""

from __future__ import annotations

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
from app.schemas import (
    Comment,
    JsonNumber,
    NoNulSchema,
    NotBlankSchema,
    UserId,
    UtcDateTime,
    _no_nul,
)

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


class ProfileDetails(BaseModel):
    """The optional profile fields an expert is created with and an admin may update."""

    experience_years: Annotated[int, Field(ge=0, le=80), JsonNumber] | None = Field(
        default=None,
        description="Years of professional experience (0..80).",
        examples=[12],
    )
    professional_registration_number: RegistrationNumber | None = Field(
        default=None,
        description="Registration number in the professional order.",
        examples=["MI-12345"],
    )
    organization: Organization | None = Field(
        default=None, description="Firm or organisation.", examples=["Studio Rossi"]
    )
    location_city: City | None = Field(
        default=None, description="City of practice.", examples=["Milano"]
    )


class ExpertCreate(ProfileDetails):
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

    user_id: UserId = Field(examples=[4211])
    credential_types: list[ExpertCredentialType] = Field(
        max_length=5, description="Professional credentials.", examples=[["dottore_commercialista"]]
    )
    credentials: list[ShortText] = Field(
        default_factory=list,
        max_length=50,
        description="Credentials as written, e.g. the order and city.",
        examples=[["ODCEC Milano"]],
    )
    specializations: list[ShortText] = Field(
        default_factory=list,
        max_length=50,
        description="Areas of expertise.",
        examples=[["iva", "redditi_persone_fisiche"]],
    )


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


class ExpertUpdate(ProfileDetails):
    """Fields to change; omitted fields stay as they are. `is_verified: true` stamps
    `verification_date`; `false` clears it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_update_schema)

    is_verified: Annotated[bool, Strict()] | None = Field(
        default=None,
        description="Mark the credentials as checked (sets `verification_date`).",
        examples=[True],
    )
    is_active: Annotated[bool, Strict()] | None = Field(
        default=None,
        description="Deactivate (false) or reactivate (true) the expert.",
        examples=[False],
    )
    credential_types: list[ExpertCredentialType] | None = Field(
        default=None,
        max_length=5,
        description="Replace the credential types.",
        examples=[["revisore_legale"]],
    )
    credentials: list[ShortText] | None = Field(
        default=None,
        max_length=50,
        description="Replace the credentials.",
        examples=[["ODCEC Milano"]],
    )
    specializations: list[ShortText] | None = Field(
        default=None,
        max_length=50,
        description="Replace the specializations.",
        examples=[["iva", "lavoro"]],
    )

    @field_validator(*_NOT_NULL)
    @classmethod
    def not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null")
        return value


class ExpertRead(BaseModel):
    """An expert profile with its trust score and the evidence behind it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(
        description="The expert profile's id.", examples=["9b2e4c3a-1f5d-4e8b-a7c6-0d9e8f7a6b5c"]
    )
    user_id: int = Field(description="The platform's integer user id.", examples=[4211])
    credential_types: list[ExpertCredentialType] = Field(
        description="Professional credentials.", examples=[["dottore_commercialista"]]
    )
    credentials: list[str] = Field(
        description="Credentials as written, e.g. the order and city.", examples=[["ODCEC Milano"]]
    )
    specializations: list[str] = Field(
        description="Areas of expertise.", examples=[["iva", "redditi_persone_fisiche"]]
    )
    experience_years: int | None = Field(
        description="Years of professional experience (0..80).", examples=[12]
    )
    professional_registration_number: str | None = Field(
        description="Registration number in the professional order.", examples=["MI-12345"]
    )
    organization: str | None = Field(description="Firm or organisation.", examples=["Studio Rossi"])
    location_city: str | None = Field(description="City of practice.", examples=["Milano"])
    is_verified: bool = Field(description="Credentials checked by an admin.", examples=[True])
    verification_date: UtcDateTime | None = Field(
        description="When an admin verified the credentials; null if not verified.",
        examples=["2026-10-02T09:00:00Z"],
    )
    is_active: bool = Field(description="May submit reviews.", examples=[True])
    trust_score: float = Field(
        description="Trust in the expert, 0..1 (starts at 0.5; see the README).", examples=[0.62]
    )
    feedback_count: int = Field(description="Reviews the expert submitted.", examples=[48])
    feedback_accuracy_rate: float | None = Field(
        description="Confirmed / checked verdicts; null until there is evidence.", examples=[0.86]
    )
    average_response_time_seconds: float | None = Field(
        description="Mean time spent per review, in seconds; null before the first.",
        examples=[210.5],
    )
    approved_count: int = Field(
        description="The expert's FAQ candidates approved by an admin.", examples=[9]
    )
    rejected_count: int = Field(
        description="The expert's FAQ candidates rejected by an admin.", examples=[2]
    )
    agreement_count: int = Field(
        description="Times another expert's latest verdict on the same query agreed.", examples=[14]
    )
    disagreement_count: int = Field(
        description="Times another expert's latest verdict on the same query differed.",
        examples=[3],
    )
    created_at: UtcDateTime = Field(
        description="When it was stored (ISO-8601, UTC).", examples=["2026-11-23T20:15:00Z"]
    )
    updated_at: UtcDateTime = Field(
        description="When it last changed (ISO-8601, UTC).", examples=["2026-11-24T08:02:11Z"]
    )


class ExpertKeyCreate(BaseModel):
    """Optional label for the new expert key."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "Mario Rossi laptop"}]}
    )

    name: KeyName | None = Field(
        default=None,
        description="A label for people (e.g. whose laptop).",
        examples=["Mario Rossi laptop"],
    )


class ExpertKeyCreated(BaseModel):
    """The new key's secret, shown only in this response."""

    key: str = Field(
        description="The bearer secret; it is not stored and cannot be shown again.",
        examples=["fbk_k3y1d_s3cr3tv4lu3"],
    )
    id: uuid.UUID = Field(
        description="The key's id (as `keys list` shows it).",
        examples=["3b241101-e2bb-4255-8caf-4136c566a962"],
    )
    expert_id: uuid.UUID = Field(
        description="The profile the key is bound to.",
        examples=["9b2e4c3a-1f5d-4e8b-a7c6-0d9e8f7a6b5c"],
    )
    name: str | None = Field(description="The label given.", examples=["Mario Rossi laptop"])


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
        default=None,
        description="Required with an admin key; an expert key acts for itself.",
        examples=["9b2e4c3a-1f5d-4e8b-a7c6-0d9e8f7a6b5c"],
    )
    query_id: uuid.UUID = Field(
        description="The answered query (the same id votes and expert reviews use).",
        examples=["3f1c1a52-7d0e-4a59-9d5b-6f2d1f0c9a11"],
    )
    feedback_type: FeedbackType = Field(
        description="The expert's verdict on the answer.", examples=["incorrect"]
    )
    category: ItalianFeedbackCategory | None = Field(
        default=None,
        validate_default=True,
        description="What is wrong with the answer; required unless `feedback_type` is `correct`.",
        examples=["normativa_obsoleta"],
    )
    query_text: QueryText = Field(
        description="The user's question.",
        examples=["Qual è l'aliquota IVA per i servizi di consulenza?"],
    )
    original_answer: AnswerText = Field(
        description="The AI's answer under review.", examples=["L'aliquota è del 20%."]
    )
    expert_answer: AnswerText | None = Field(
        default=None,
        validate_default=True,
        description="The expert's correct answer; required when `incorrect`.",
        examples=["L'aliquota ordinaria è del 22% (art. 16 DPR 633/1972)."],
    )
    improvement_suggestions: Comment | None = Field(
        default=None,
        description="How the answer could be improved.",
        examples=["Citare la norma e le aliquote ridotte."],
    )
    regulatory_references: list[Reference] = Field(
        default_factory=list,
        max_length=50,
        description="Laws and rules that support the answer.",
        examples=[["DPR 633/1972 art. 16"]],
    )
    confidence_score: Annotated[float, Field(ge=0, le=1), JsonNumber] = Field(
        description="The expert's confidence in the verdict, 0..1.", examples=[0.9]
    )
    time_spent_seconds: Annotated[int, Field(gt=0, le=86_400 * 7), JsonNumber] = Field(
        description="Time the review took, in seconds (> 0).", examples=[180]
    )
    complexity_rating: Annotated[int, Field(ge=1, le=5), JsonNumber] | None = Field(
        default=None, description="How hard the question is, 1..5.", examples=[3]
    )

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
    id: uuid.UUID = Field(
        description="The candidate's id.", examples=["3b241101-e2bb-4255-8caf-4136c566a962"]
    )
    approval_status: ApprovalStatus = Field(
        description="`pending`, or `auto_approved` for a trusted expert.", examples=["pending"]
    )


class ExpertFeedbackCreated(BaseModel):
    """The stored review and, for a correction, the FAQ candidate it created or strengthened."""

    id: uuid.UUID = Field(
        description="The review's id.", examples=["3b241101-e2bb-4255-8caf-4136c566a962"]
    )
    expert_id: uuid.UUID = Field(
        description="The expert profile's id.", examples=["9b2e4c3a-1f5d-4e8b-a7c6-0d9e8f7a6b5c"]
    )
    created_at: UtcDateTime = Field(
        description="When it was stored (ISO-8601, UTC).", examples=["2026-11-23T20:15:00Z"]
    )
    faq_candidate: FaqCandidateRef | None = Field(
        description="The FAQ candidate this correction proposed or supported; null otherwise.",
        examples=[{"id": "3b241101-e2bb-4255-8caf-4136c566a962", "approval_status": "pending"}],
    )


class ExpertFeedbackRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(
        description="The review's id.", examples=["3b241101-e2bb-4255-8caf-4136c566a962"]
    )
    query_id: uuid.UUID = Field(
        description="The answered query (the same id votes and expert reviews use).",
        examples=["3f1c1a52-7d0e-4a59-9d5b-6f2d1f0c9a11"],
    )
    expert_id: uuid.UUID = Field(
        description="The expert profile's id.", examples=["9b2e4c3a-1f5d-4e8b-a7c6-0d9e8f7a6b5c"]
    )
    feedback_type: FeedbackType = Field(
        description="The expert's verdict on the answer.", examples=["incorrect"]
    )
    category: ItalianFeedbackCategory | None = Field(
        description="What is wrong with the answer; required unless `feedback_type` is `correct`.",
        examples=["normativa_obsoleta"],
    )
    query_text: str = Field(
        description="The user's question.",
        examples=["Qual è l'aliquota IVA per i servizi di consulenza?"],
    )
    original_answer: str = Field(
        description="The AI's answer under review.", examples=["L'aliquota è del 20%."]
    )
    expert_answer: str | None = Field(
        description="The expert's correct answer; required when `incorrect`.",
        examples=["L'aliquota ordinaria è del 22% (art. 16 DPR 633/1972)."],
    )
    improvement_suggestions: str | None = Field(
        description="How the answer could be improved.",
        examples=["Citare la norma e le aliquote ridotte."],
    )
    regulatory_references: list[str] = Field(
        description="Laws and rules that support the answer.", examples=[["DPR 633/1972 art. 16"]]
    )
    confidence_score: float = Field(
        description="The expert's confidence in the verdict, 0..1.", examples=[0.9]
    )
    time_spent_seconds: int = Field(
        description="Time the review took, in seconds (> 0).", examples=[180]
    )
    complexity_rating: int | None = Field(
        description="How hard the question is, 1..5.", examples=[3]
    )
    created_at: UtcDateTime = Field(
        description="When it was stored (ISO-8601, UTC).", examples=["2026-11-23T20:15:00Z"]
    )


class FaqCandidateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(
        description="The candidate's id.", examples=["3b241101-e2bb-4255-8caf-4136c566a962"]
    )
    query_id: uuid.UUID = Field(
        description="The answered query (the same id votes and expert reviews use).",
        examples=["3f1c1a52-7d0e-4a59-9d5b-6f2d1f0c9a11"],
    )
    question: str = Field(
        description="The question, from the reviewed query.",
        examples=["Qual è l'aliquota IVA ordinaria?"],
    )
    answer: str = Field(
        description="The proposed answer (the most trusted correction's).",
        examples=["L'aliquota ordinaria è del 22%."],
    )
    source_feedback_id: uuid.UUID | None = Field(
        description="The review it came from; null once that review is purged.",
        examples=["9b2e4c3a-1f5d-4e8b-a7c6-0d9e8f7a6b5c"],
    )
    expert_id: uuid.UUID | None = Field(
        description="The author's profile; null once erased.",
        examples=["9b2e4c3a-1f5d-4e8b-a7c6-0d9e8f7a6b5c"],
    )
    expert_trust_score: float = Field(
        description="The author's trust when the candidate was made.", examples=[0.62]
    )
    approval_status: ApprovalStatus = Field(
        description="Where the candidate is in the approval queue.", examples=["pending"]
    )
    approved_by: int | None = Field(
        description="User id of the operator behind the approving or rejecting admin key "
        "(null when that key names no user, and for auto-approvals).",
        examples=[5150],
    )
    approved_at: UtcDateTime | None = Field(
        description="When an admin approved it or it was auto-approved; null otherwise "
        "(kept for compatibility: `decided_at` covers rejections too).",
        examples=["2026-11-23T20:15:00Z"],
    )
    decided_by_key_id: uuid.UUID | None = Field(
        default=None,
        description="Id of the admin API key that approved or rejected it (as `keys list` "
        "shows); null while pending and for auto-approvals.",
        examples=["0b6f2c1e-4d7a-4f0e-9a51-3c2d1e0f9b8a"],
    )
    decided_at: UtcDateTime | None = Field(
        default=None,
        description="When it was approved, rejected or auto-approved; null while pending.",
        examples=["2026-11-23T20:15:00Z"],
    )
    rejection_reason: str | None = Field(
        description="Why an admin rejected it; null otherwise.", examples=[None]
    )
    suggested_category: ItalianFeedbackCategory | None = Field(
        description="Category of the correction behind it.", examples=["normativa_obsoleta"]
    )
    suggested_tags: list[str] = Field(description="Tags for the FAQ.", examples=[["fisco", "iva"]])
    regulatory_references: list[str] = Field(
        description="Laws and rules the answer relies on.", examples=[["DPR 633/1972 art. 16"]]
    )
    priority_score: float = Field(
        description="Sum of trust x confidence over the corrections that support it.",
        examples=[1.35],
    )
    supporting_count: int = Field(description="Corrections that support it.", examples=[2])
    created_at: UtcDateTime = Field(
        description="When it was stored (ISO-8601, UTC).", examples=["2026-11-23T20:15:00Z"]
    )
    updated_at: UtcDateTime = Field(
        description="When it last changed (ISO-8601, UTC).", examples=["2026-11-24T08:02:11Z"]
    )


class FaqCandidateReject(BaseModel):
    """Why the candidate is refused (required)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "Risposta già coperta dalla FAQ 12."}]},
    )

    reason: Reason = Field(
        description="Why the candidate is refused (required, not blank).",
        examples=["Risposta già coperta dalla FAQ 12."],
    )


class LeaderboardEntry(BaseModel):
    id: uuid.UUID = Field(
        description="The expert profile's id.", examples=["9b2e4c3a-1f5d-4e8b-a7c6-0d9e8f7a6b5c"]
    )
    user_id: int = Field(description="The platform's integer user id.", examples=[4211])
    trust_score: float = Field(description="Trust, 0..1.", examples=[0.62])
    feedback_count: int = Field(description="Reviews the expert submitted.", examples=[48])
    accuracy_rate: float | None = Field(
        description="Confirmed / checked verdicts; null until there is evidence.", examples=[0.86]
    )
    average_response_time_seconds: float | None = Field(
        description="Mean time spent per review, in seconds; null before the first.",
        examples=[210.5],
    )
    approved_count: int = Field(
        description="The expert's FAQ candidates approved by an admin.", examples=[9]
    )
    rejected_count: int = Field(
        description="The expert's FAQ candidates rejected by an admin.", examples=[2]
    )
    is_verified: bool = Field(description="Credentials checked by an admin.", examples=[True])


class ExpertAnalytics(BaseModel):
    """Leaderboard (active experts, highest trust first) and review/candidate counts."""

    experts: list[LeaderboardEntry] = Field(
        description="The leaderboard: active experts by trust, highest first.",
        examples=[
            [{"id": "9b2e4c3a-1f5d-4e8b-a7c6-0d9e8f7a6b5c", "user_id": 4211, "trust_score": 0.62}]
        ],
    )
    feedback_by_type: dict[str, int] = Field(
        description="Reviews in the window per feedback_type; every type is present.",
        examples=[{"correct": 300, "incomplete": 180, "incorrect": 120}],
    )
    feedback_by_category: dict[str, int] = Field(
        description="Reviews in the window per category; every category is present.",
        examples=[{"normativa_obsoleta": 120, "caso_mancante": 60}],
    )
    candidates_by_status: dict[str, int] = Field(
        description="FAQ candidates per approval_status (all time); every status is present.",
        examples=[{"pending": 40, "approved": 55, "rejected": 15, "auto_approved": 10}],
    )
    window_start: UtcDateTime | None = Field(
        description="Start of the window (inclusive, UTC).", examples=["2026-10-31T00:00:00Z"]
    )
    window_end: UtcDateTime | None = Field(
        description="End of the window (exclusive, UTC).", examples=["2026-11-30T00:00:00Z"]
    )
