"""Expert profiles, their reviews of AI answers, and FAQ candidates built from corrections."""

import datetime as dt
import enum
import uuid

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field, SQLModel

from app.db import (
    QUERY_ID,
    created_at_column,
    pg_enum,
    text_array,
    updated_at_column,
    user_fk,
    uuid_pk,
)


class FeedbackType(enum.StrEnum):
    correct = "correct"
    incomplete = "incomplete"
    incorrect = "incorrect"


class ItalianFeedbackCategory(enum.StrEnum):
    normativa_obsoleta = "normativa_obsoleta"
    interpretazione_errata = "interpretazione_errata"
    caso_mancante = "caso_mancante"
    calcolo_sbagliato = "calcolo_sbagliato"
    troppo_generico = "troppo_generico"


class ExpertCredentialType(enum.StrEnum):
    dottore_commercialista = "dottore_commercialista"
    revisore_legale = "revisore_legale"
    consulente_fiscale = "consulente_fiscale"
    consulente_lavoro = "consulente_lavoro"
    caf_operator = "caf_operator"


class ApprovalStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    auto_approved = "auto_approved"


def _counter() -> sa.Column[int]:
    return sa.Column(sa.Integer, nullable=False, server_default="0")


class ExpertProfile(SQLModel, table=True):
    """A tax professional who reviews AI answers, with evidence-based trust."""

    __tablename__ = "expert_profiles"
    __table_args__ = (
        sa.CheckConstraint("trust_score >= 0 AND trust_score <= 1", name="trust_score_range"),
        sa.CheckConstraint(
            "feedback_accuracy_rate >= 0 AND feedback_accuracy_rate <= 1",
            name="feedback_accuracy_rate_range",
        ),
        sa.CheckConstraint(
            "experience_years >= 0 AND experience_years <= 80", name="experience_years_range"
        ),
        sa.CheckConstraint("feedback_count >= 0", name="feedback_count_non_negative"),
        sa.CheckConstraint(
            "average_response_time_seconds >= 0", name="average_response_time_non_negative"
        ),
        sa.CheckConstraint(
            "approved_count >= 0 AND rejected_count >= 0 AND agreement_count >= 0 "
            "AND disagreement_count >= 0",
            name="evidence_counts_non_negative",
        ),
        # Trust leaderboard and "experts above min_trust": active first, highest trust.
        sa.Index(
            "ix_expert_profiles_is_active_trust_score",
            "is_active",
            sa.text("trust_score DESC"),
            "id",
        ),
        sa.Index("ix_expert_profiles_trust_score", sa.text("trust_score DESC"), "id"),
        sa.Index("ix_expert_profiles_specializations", "specializations", postgresql_using="gin"),
    )

    id: uuid.UUID | None = uuid_pk()
    user_id: int = Field(
        sa_type=sa.BigInteger,
        foreign_key="users.id",
        ondelete="CASCADE",
        nullable=False,
        unique=True,
    )
    credentials: list[str] = Field(default_factory=list, sa_column=text_array())
    credential_types: list[ExpertCredentialType] = Field(
        default_factory=list,
        sa_column=sa.Column(
            pg.ARRAY(pg_enum(ExpertCredentialType, "expert_credential_type")),
            nullable=False,
            server_default=sa.text("'{}'::expert_credential_type[]"),
        ),
    )
    specializations: list[str] = Field(default_factory=list, sa_column=text_array())
    experience_years: int | None = Field(default=None, sa_type=sa.Integer)
    feedback_count: int = Field(default=0, sa_column=_counter())
    feedback_accuracy_rate: float | None = Field(default=None, sa_type=sa.Float)
    average_response_time_seconds: float | None = Field(default=None, sa_type=sa.Float)
    trust_score: float = Field(
        default=0.5, sa_type=sa.Float, nullable=False, sa_column_kwargs={"server_default": "0.5"}
    )
    approved_count: int = Field(default=0, sa_column=_counter())
    rejected_count: int = Field(default=0, sa_column=_counter())
    agreement_count: int = Field(default=0, sa_column=_counter())
    disagreement_count: int = Field(default=0, sa_column=_counter())
    professional_registration_number: str | None = Field(default=None, sa_type=sa.String(100))
    organization: str | None = Field(default=None, sa_type=sa.String(200))
    location_city: str | None = Field(default=None, sa_type=sa.String(100))
    is_verified: bool = Field(
        default=False, nullable=False, sa_column_kwargs={"server_default": sa.false()}
    )
    verification_date: dt.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    is_active: bool = Field(
        default=True, nullable=False, sa_column_kwargs={"server_default": sa.true()}
    )
    created_at: dt.datetime | None = created_at_column()
    updated_at: dt.datetime | None = updated_at_column()


class ExpertFeedback(SQLModel, table=True):
    """One expert's verdict on one AI answer."""

    __tablename__ = "expert_feedback"
    __table_args__ = (
        sa.CheckConstraint(
            "confidence_score >= 0 AND confidence_score <= 1", name="confidence_score_range"
        ),
        sa.CheckConstraint("time_spent_seconds > 0", name="time_spent_seconds_positive"),
        sa.CheckConstraint(
            "complexity_rating >= 1 AND complexity_rating <= 5", name="complexity_rating_range"
        ),
        sa.CheckConstraint(
            "feedback_type = 'correct' OR category IS NOT NULL", name="category_unless_correct"
        ),
        sa.CheckConstraint(
            "feedback_type <> 'incorrect' OR expert_answer IS NOT NULL",
            name="expert_answer_when_incorrect",
        ),
        # An expert's recent reviews, newest first.
        sa.Index(
            "ix_expert_feedback_expert_id_created_at", "expert_id", sa.text("created_at DESC")
        ),
        sa.Index("ix_expert_feedback_query_id", "query_id"),
        sa.Index("ix_expert_feedback_created_at", "created_at"),
    )

    id: uuid.UUID | None = uuid_pk()
    query_id: uuid.UUID = Field(sa_type=QUERY_ID, nullable=False)
    expert_id: uuid.UUID = Field(
        sa_type=pg.UUID(as_uuid=True),
        foreign_key="expert_profiles.id",
        ondelete="CASCADE",
        nullable=False,
    )
    feedback_type: FeedbackType = Field(
        sa_type=pg_enum(FeedbackType, "feedback_type"), nullable=False
    )
    category: ItalianFeedbackCategory | None = Field(
        default=None, sa_type=pg_enum(ItalianFeedbackCategory, "italian_feedback_category")
    )
    query_text: str = Field(sa_type=sa.Text, nullable=False)
    original_answer: str = Field(sa_type=sa.Text, nullable=False)
    expert_answer: str | None = Field(default=None, sa_type=sa.Text)
    improvement_suggestions: str | None = Field(default=None, sa_type=sa.Text)
    regulatory_references: list[str] = Field(default_factory=list, sa_column=text_array())
    confidence_score: float = Field(sa_type=sa.Float, nullable=False)
    time_spent_seconds: int = Field(sa_type=sa.Integer, nullable=False)
    complexity_rating: int | None = Field(default=None, sa_type=sa.SmallInteger)
    created_at: dt.datetime | None = created_at_column()
    updated_at: dt.datetime | None = updated_at_column()


class ExpertFaqCandidate(SQLModel, table=True):
    """A question/answer pair proposed for the FAQ from an expert's correction."""

    __tablename__ = "expert_faq_candidates"
    __table_args__ = (
        sa.CheckConstraint(
            "expert_trust_score >= 0 AND expert_trust_score <= 1", name="expert_trust_score_range"
        ),
        sa.CheckConstraint("priority_score >= 0", name="priority_score_non_negative"),
        sa.CheckConstraint("supporting_count >= 1", name="supporting_count_positive"),
        # The approval queue: by status, highest priority first.
        sa.Index(
            "ix_expert_faq_candidates_status_priority",
            "approval_status",
            sa.text("priority_score DESC"),
            "id",
        ),
        # At most one open candidate per answered query: a second correction strengthens it.
        sa.Index(
            "uq_expert_faq_candidates_pending_query_id",
            "query_id",
            unique=True,
            postgresql_where=sa.text("approval_status = 'pending'"),
        ),
        sa.Index("ix_expert_faq_candidates_source_feedback_id", "source_feedback_id"),
        sa.Index("ix_expert_faq_candidates_expert_id", "expert_id"),
        sa.Index("ix_expert_faq_candidates_approved_by", "approved_by"),
        sa.Index("ix_expert_faq_candidates_decided_by_key_id", "decided_by_key_id"),
    )

    id: uuid.UUID | None = uuid_pk()
    query_id: uuid.UUID = Field(sa_type=QUERY_ID, nullable=False)
    question: str = Field(sa_type=sa.Text, nullable=False)
    answer: str = Field(sa_type=sa.Text, nullable=False)
    source_feedback_id: uuid.UUID | None = Field(
        default=None,
        sa_type=pg.UUID(as_uuid=True),
        foreign_key="expert_feedback.id",
        ondelete="SET NULL",
    )
    expert_id: uuid.UUID | None = Field(
        default=None,
        sa_type=pg.UUID(as_uuid=True),
        foreign_key="expert_profiles.id",
        ondelete="SET NULL",
    )
    expert_trust_score: float = Field(sa_type=sa.Float, nullable=False)
    approval_status: ApprovalStatus = Field(
        default=ApprovalStatus.pending,
        sa_type=pg_enum(ApprovalStatus, "approval_status"),
        nullable=False,
        sa_column_kwargs={"server_default": ApprovalStatus.pending.value},
    )
    approved_by: int | None = user_fk()
    approved_at: dt.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    # The audit trail of a decision: which admin key made it, and when (approval or
    # rejection; null for auto-approvals, which no key decides).
    decided_by_key_id: uuid.UUID | None = Field(
        default=None,
        sa_type=pg.UUID(as_uuid=True),
        foreign_key="api_keys.id",
        ondelete="SET NULL",
    )
    decided_at: dt.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    rejection_reason: str | None = Field(default=None, sa_type=sa.Text)
    suggested_category: ItalianFeedbackCategory | None = Field(
        default=None, sa_type=pg_enum(ItalianFeedbackCategory, "italian_feedback_category")
    )
    suggested_tags: list[str] = Field(default_factory=list, sa_column=text_array())
    regulatory_references: list[str] = Field(default_factory=list, sa_column=text_array())
    priority_score: float = Field(
        default=0.0, sa_type=sa.Float, nullable=False, sa_column_kwargs={"server_default": "0"}
    )
    supporting_count: int = Field(
        default=1, sa_type=sa.Integer, nullable=False, sa_column_kwargs={"server_default": "1"}
    )
    created_at: dt.datetime | None = created_at_column()
    updated_at: dt.datetime | None = updated_at_column()
