"""Expert profiles, reviews of AI answers, trust, FAQ candidates and their approval queue.

Services only flush; `TransactionalRoute` commits before the response is sent. Counters and
trust are changed by single `UPDATE ... SET x = x + 1` statements whose new trust is
computed in SQL from the new counters (the formulas of `app.experts.trust`), so concurrent
requests never lose an increment.

Rules worth knowing (see also the README):

* **Agreement.** When an expert reviews a `query_id` for the first time and other experts
  already reviewed it, their latest verdicts are compared with the new one (same
  `feedback_type` = agreement). The newcomer gains one agreement/disagreement per other
  expert, and each other expert gains one with the newcomer; everyone's trust is
  recomputed. A repeated review of the same query by the same expert counts nothing again
  (no farming). Reviews of one `query_id` are serialised by an advisory lock, so two
  simultaneous reviews still see each other.
* **FAQ candidates.** An `incorrect` or `incomplete` review with an `expert_answer`
  proposes a candidate. At most one candidate per `query_id` is `pending`: a second
  correction *strengthens* it (`supporting_count + 1`, `priority_score +=` the new
  correction's `trust * confidence`), and its answer, references, category, author and
  author trust are replaced only if the new expert's trust is strictly higher (the
  better-trusted answer is the one reviewed). An expert who is verified, active and at or
  above the auto-approval threshold publishes directly: their candidate is
  `auto_approved` (taking over a pending candidate of the same query, if any) — unless
  the query already has a published entry: a correction of a published answer always
  waits in the queue as `pending`, so one query never gets two published answers.
* **Decisions.** Approve/reject act only on `pending` candidates (else 409), record
  `approved_by` (the admin key's operator, may be null) and `approved_at`, and move the
  author's `approved_count` / `rejected_count` and trust in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, Forbidden, NotFound, UnprocessableEntity
from app.experts import trust
from app.experts.models import (
    ApprovalStatus,
    ExpertFaqCandidate,
    ExpertFeedback,
    ExpertProfile,
    FeedbackType,
)
from app.experts.schemas import (
    ExpertCreate,
    ExpertFeedbackCreate,
    ExpertFeedbackCreated,
    ExpertFeedbackRead,
    ExpertRead,
    ExpertUpdate,
    FaqCandidateRead,
    FaqCandidateRef,
)
from app.query_params import (
    Page,
    Pagination,
    cursor_datetime,
    fetch_page,
    parse_cursor,
)
from app.users.service import register_user
from app.webhooks import service as webhooks
from app.webhooks.schemas import EventType

profiles = ExpertProfile.__table__  # type: ignore[attr-defined]
reviews = ExpertFeedback.__table__  # type: ignore[attr-defined]
candidates = ExpertFaqCandidate.__table__  # type: ignore[attr-defined]

# Advisory-lock class for "reviews of one query_id" (two-int4 form; the int is 'expr').
_QUERY_LOCK_CLASS = 0x65787072
CORRECTION_TYPES = (FeedbackType.incorrect, FeedbackType.incomplete)


class UnknownExpert(NotFound):
    """No expert profile with that id."""


class ExpertExists(Conflict):
    """The user already has an expert profile."""


class InactiveExpert(Forbidden):
    """The expert profile is deactivated."""


class UnknownCandidate(NotFound):
    """No FAQ candidate with that id."""


class CandidateNotPending(Conflict):
    """The FAQ candidate was already decided."""


def _evidence_values(
    *,
    approved: Any = None,
    rejected: Any = None,
    agreements: Any = None,
    disagreements: Any = None,
    verified: Any = None,
) -> dict[str, Any]:
    """SET clauses for changed counters plus the trust and accuracy they imply."""
    p = profiles.c
    new = {
        "approved": p.approved_count if approved is None else approved,
        "rejected": p.rejected_count if rejected is None else rejected,
        "agreements": p.agreement_count if agreements is None else agreements,
        "disagreements": p.disagreement_count if disagreements is None else disagreements,
    }
    values: dict[str, Any] = {
        "approved_count": new["approved"],
        "rejected_count": new["rejected"],
        "agreement_count": new["agreements"],
        "disagreement_count": new["disagreements"],
        "trust_score": trust.trust_sql(
            **new, verified=p.is_verified if verified is None else verified
        ),
        "feedback_accuracy_rate": trust.accuracy_sql(**new),
    }
    return values


# ---------------------------------------------------------------- profiles


def _expert(row: Mapping[Any, Any]) -> ExpertRead:
    return ExpertRead.model_validate(dict(row))


async def create_expert(session: AsyncSession, payload: ExpertCreate) -> ExpertRead:
    """Create the profile of `payload.user_id`; a second profile for a user → 409."""
    await register_user(session, payload.user_id)
    stmt = (
        pg_insert(profiles)
        .values(**payload.model_dump())
        .on_conflict_do_nothing(index_elements=[profiles.c.user_id])
        .returning(*profiles.c)
    )
    row = (await session.execute(stmt)).mappings().one_or_none()
    if row is None:
        raise ExpertExists(f"User {payload.user_id} already has an expert profile.")
    return _expert(row)


async def get_expert(session: AsyncSession, expert_id: uuid.UUID) -> ExpertRead:
    """One profile; 404 if unknown."""
    row = (
        (await session.execute(sa.select(profiles).where(profiles.c.id == expert_id)))
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise UnknownExpert(f"No expert profile {expert_id}.")
    return _expert(row)


def _uuid(value: Any) -> uuid.UUID:
    return uuid.UUID(str(value))


def _keyset_desc(score: Any, id_col: Any, cursor: Sequence[Any] | None) -> list[Any]:
    """WHERE terms for the page after `cursor` in `ORDER BY score DESC, id ASC`.

    The redundant `score <= c` lets PostgreSQL start the index scan at the cursor."""
    parsed = parse_cursor(list(cursor) if cursor is not None else None, float, _uuid)
    if parsed is None:
        return []
    last_score, last_id = parsed
    return [score <= last_score, sa.or_(score < last_score, id_col > last_id)]


async def list_experts(
    session: AsyncSession,
    page: Pagination,
    *,
    min_trust: float | None,
    active: bool | None,
    specialization: str | None,
) -> Page[ExpertRead]:
    """Profiles, highest trust first (ties by id), keyset-paginated."""
    p = profiles.c
    where: list[Any] = _keyset_desc(p.trust_score, p.id, page.cursor)
    if min_trust is not None:
        where.append(p.trust_score >= min_trust)
    if active is not None:
        where.append(p.is_active == active)
    if specialization is not None:
        # `@> ARRAY[...]` is the operator the GIN index on specializations serves.
        where.append(p.specializations.contains([specialization]))
    stmt = sa.select(profiles).where(*where).order_by(p.trust_score.desc(), p.id.asc())
    return await fetch_page(
        session,
        stmt,
        page,
        build=_expert,
        cursor_of=lambda item: [item.trust_score, str(item.id)],
    )


async def update_expert(
    session: AsyncSession, expert_id: uuid.UUID, payload: ExpertUpdate
) -> ExpertRead:
    """Change profile fields. Verifying stamps `verification_date` (kept if already
    verified) and, since a credential raises the prior, recomputes trust."""
    changes: dict[str, Any] = payload.model_dump(exclude_unset=True)
    p = profiles.c
    if "is_verified" in changes:
        verified: bool = changes["is_verified"]
        changes["verification_date"] = (
            sa.case(
                (sa.and_(p.is_verified, p.verification_date.is_not(None)), p.verification_date),
                else_=sa.func.now(),
            )
            if verified
            else sa.null()
        )
        changes.update(_evidence_values(verified=sa.literal(verified)))
    if not changes:
        return await get_expert(session, expert_id)
    stmt = sa.update(profiles).where(p.id == expert_id).values(**changes).returning(*profiles.c)
    row = (await session.execute(stmt)).mappings().one_or_none()
    if row is None:
        raise UnknownExpert(f"No expert profile {expert_id}.")
    return _expert(row)


# ---------------------------------------------------------------- reviews


@dataclass(frozen=True)
class _Peers:
    """Other experts' latest verdicts on a query, split by agreement with a new one."""

    agreeing: list[uuid.UUID]
    disagreeing: list[uuid.UUID]
    already_reviewed: bool


async def _peers(
    session: AsyncSession, *, query_id: uuid.UUID, expert_id: uuid.UUID, verdict: FeedbackType
) -> _Peers:
    r = reviews.c
    stmt = (
        sa.select(r.expert_id, r.feedback_type)
        .where(r.query_id == query_id)
        .ext(distinct_on(r.expert_id))
        .order_by(r.expert_id, r.created_at.desc(), r.id.desc())
    )
    latest = (await session.execute(stmt)).all()
    others = [(e, t) for e, t in latest if e != expert_id]
    return _Peers(
        agreeing=[e for e, t in others if t == verdict],
        disagreeing=[e for e, t in others if t != verdict],
        already_reviewed=len(others) != len(latest),
    )


async def submit_feedback(
    session: AsyncSession,
    *,
    expert_id: uuid.UUID | None,
    payload: ExpertFeedbackCreate,
    auto_approval_threshold: float,
) -> ExpertFeedbackCreated:
    """Store a review, update the reviewer's (and peers') counters and trust, and propose
    or strengthen an FAQ candidate for a correction."""
    if expert_id is None:
        raise UnprocessableEntity("An admin key must give expert_id.", field=["expert_id"])
    p = profiles.c
    await _lock_query(session, payload.query_id)
    peers = await _peers(
        session, query_id=payload.query_id, expert_id=expert_id, verdict=payload.feedback_type
    )
    counted = not peers.already_reviewed
    peer_ids = [*peers.agreeing, *peers.disagreeing] if counted else []
    # Lock every profile this review touches in id order: concurrent reviews never deadlock.
    locked = (
        await session.execute(
            sa.select(p.id, p.is_active)
            .where(p.id.in_([expert_id, *peer_ids]))
            .order_by(p.id)
            .with_for_update()
        )
    ).all()
    own = next((row for row in locked if row.id == expert_id), None)
    if own is None:
        raise UnknownExpert(f"No expert profile {expert_id}.")
    if not own.is_active:
        raise InactiveExpert("This expert profile is deactivated.")

    agree = len(peers.agreeing) if counted else 0
    disagree = len(peers.disagreeing) if counted else 0
    own_values: dict[str, Any] = {
        "feedback_count": p.feedback_count + 1,
        # Running mean over all reviews; the right-hand side sees the old row.
        "average_response_time_seconds": (
            sa.func.coalesce(p.average_response_time_seconds, trust.sql_float(0.0))
            * p.feedback_count
            + payload.time_spent_seconds
        )
        / trust.as_float(p.feedback_count + 1),
    }
    if agree or disagree:
        own_values.update(
            _evidence_values(
                agreements=p.agreement_count + agree,
                disagreements=p.disagreement_count + disagree,
            )
        )
    own_row = (
        await session.execute(
            sa.update(profiles)
            .where(p.id == expert_id)
            .values(**own_values)
            .returning(p.trust_score, p.is_verified, p.is_active)
        )
    ).one()
    if peer_ids:
        agreeing = p.id.in_(peers.agreeing) if peers.agreeing else sa.false()
        await session.execute(
            sa.update(profiles)
            .where(p.id.in_(peer_ids))
            .values(
                **_evidence_values(
                    agreements=p.agreement_count + sa.case((agreeing, 1), else_=0),
                    disagreements=p.disagreement_count + sa.case((agreeing, 0), else_=1),
                )
            )
        )

    data = payload.model_dump(exclude={"expert_id"})
    stored = (
        await session.execute(
            sa.insert(reviews)
            .values(**data, expert_id=expert_id)
            .returning(reviews.c.id, reviews.c.created_at)
        )
    ).one()

    candidate: FaqCandidateRef | None = None
    if payload.feedback_type in CORRECTION_TYPES and payload.expert_answer is not None:
        auto = (
            own_row.is_verified
            and own_row.is_active
            and own_row.trust_score >= auto_approval_threshold
            and not await _has_published_candidate(session, payload.query_id)
        )
        candidate = await _propose_candidate(
            session,
            payload=payload,
            expert_id=expert_id,
            feedback_id=stored.id,
            trust_now=own_row.trust_score,
            auto_approve=auto,
        )
    review = payload.model_dump(
        include={"query_id", "feedback_type", "category", "confidence_score", "complexity_rating"}
    )
    await webhooks.emit(
        session,
        EventType.expert_feedback_created,
        {
            "feedback_id": stored.id,
            "expert_id": expert_id,
            **review,
            "faq_candidate_id": candidate.id if candidate else None,
            "created_at": stored.created_at,
        },
    )
    return ExpertFeedbackCreated(
        id=stored.id, expert_id=expert_id, created_at=stored.created_at, faq_candidate=candidate
    )


async def _has_published_candidate(session: AsyncSession, query_id: uuid.UUID) -> bool:
    """Whether the query already has an approved or auto-approved FAQ entry."""
    c = candidates.c
    published = (ApprovalStatus.approved, ApprovalStatus.auto_approved)
    found = await session.scalar(
        sa.select(sa.exists().where(c.query_id == query_id, c.approval_status.in_(published)))
    )
    return bool(found)


async def _propose_candidate(
    session: AsyncSession,
    *,
    payload: ExpertFeedbackCreate,
    expert_id: uuid.UUID,
    feedback_id: uuid.UUID,
    trust_now: float,
    auto_approve: bool,
) -> FaqCandidateRef:
    c = candidates.c
    weight = trust.candidate_weight(trust_now, payload.confidence_score)
    authored = {
        "answer": payload.expert_answer,
        "source_feedback_id": feedback_id,
        "expert_id": expert_id,
        "expert_trust_score": trust_now,
        "suggested_category": payload.category,
        "regulatory_references": payload.regulatory_references,
    }
    returning = (
        c.id,
        c.approval_status,
        c.query_id,
        c.expert_id,
        c.source_feedback_id,
        c.priority_score,
    )
    if auto_approve:
        # A trusted expert's correction is published; it takes over a pending candidate.
        took_over = (
            await session.execute(
                sa.update(candidates)
                .where(c.query_id == payload.query_id, c.approval_status == ApprovalStatus.pending)
                .values(
                    **authored,
                    approval_status=ApprovalStatus.auto_approved,
                    approved_at=sa.func.now(),
                    approved_by=None,
                    decided_at=sa.func.now(),
                    supporting_count=c.supporting_count + 1,
                    priority_score=c.priority_score + weight,
                )
                .returning(*returning)
            )
        ).one_or_none()
        if took_over is not None:
            await _emit_candidate(session, EventType.faq_candidate_approved, took_over._mapping)
            return FaqCandidateRef(id=took_over.id, approval_status=took_over.approval_status)
        row = (
            await session.execute(
                sa.insert(candidates)
                .values(
                    **authored,
                    query_id=payload.query_id,
                    question=payload.query_text,
                    approval_status=ApprovalStatus.auto_approved,
                    approved_at=sa.func.now(),
                    decided_at=sa.func.now(),
                    priority_score=weight,
                )
                .returning(*returning)
            )
        ).one()
        await _emit_candidate(session, EventType.faq_candidate_created, row._mapping)
        return FaqCandidateRef(id=row.id, approval_status=row.approval_status)

    insert = pg_insert(candidates).values(
        **authored,
        query_id=payload.query_id,
        question=payload.query_text,
        approval_status=ApprovalStatus.pending,
        priority_score=weight,
    )
    excluded = insert.excluded
    more_trusted = excluded.expert_trust_score > c.expert_trust_score
    upsert = insert.on_conflict_do_update(
        index_elements=[c.query_id],
        # A literal predicate: a bound parameter here defeats arbiter-index inference.
        index_where=sa.text("approval_status = 'pending'"),
        set_={
            "supporting_count": c.supporting_count + 1,
            "priority_score": c.priority_score + excluded.priority_score,
            **{name: sa.case((more_trusted, excluded[name]), else_=c[name]) for name in authored},
        },
    ).returning(*returning, sa.literal_column("xmax = 0", sa.Boolean).label("inserted"))
    row = (await session.execute(upsert)).one()
    if row.inserted:  # xmax = 0: this statement inserted the row (no conflict)
        await _emit_candidate(session, EventType.faq_candidate_created, row._mapping)
    return FaqCandidateRef(id=row.id, approval_status=row.approval_status)


async def _emit_candidate(
    session: AsyncSession, event_type: EventType, row: Mapping[Any, Any]
) -> None:
    """A candidate's webhook event: ids, status and priority (never its text)."""
    fields = ("query_id", "approval_status", "expert_id", "source_feedback_id", "priority_score")
    data = {"candidate_id": row["id"], **{name: row[name] for name in fields}}
    await webhooks.emit(session, event_type, data)


async def list_expert_feedback(
    session: AsyncSession, expert_id: uuid.UUID, page: Pagination, *, days: int
) -> Page[ExpertFeedbackRead]:
    """The expert's reviews of the last `days` days, newest first."""
    r = reviews.c
    exists = await session.scalar(sa.select(profiles.c.id).where(profiles.c.id == expert_id))
    if exists is None:
        raise UnknownExpert(f"No expert profile {expert_id}.")
    where: list[Any] = [
        r.expert_id == expert_id,
        r.created_at >= sa.func.now() - sa.func.make_interval(0, 0, 0, days),
    ]
    cursor = parse_cursor(page.cursor, cursor_datetime, _uuid)
    if cursor is not None:
        last_at, last_id = cursor
        where += [r.created_at <= last_at, sa.tuple_(r.created_at, r.id) < (last_at, last_id)]
    stmt = sa.select(reviews).where(*where).order_by(r.created_at.desc(), r.id.desc())
    return await fetch_page(
        session,
        stmt,
        page,
        build=lambda row: ExpertFeedbackRead.model_validate(dict(row)),
        cursor_of=lambda item: [item.created_at.isoformat(), str(item.id)],
    )


# ---------------------------------------------------------------- approval queue


async def list_candidates(
    session: AsyncSession, page: Pagination, *, status: ApprovalStatus
) -> Page[FaqCandidateRead]:
    """Candidates with `status`, highest priority first (ties by id)."""
    c = candidates.c
    where = [c.approval_status == status, *_keyset_desc(c.priority_score, c.id, page.cursor)]
    stmt = sa.select(candidates).where(*where).order_by(c.priority_score.desc(), c.id.asc())
    return await fetch_page(
        session,
        stmt,
        page,
        build=lambda row: FaqCandidateRead.model_validate(dict(row)),
        cursor_of=lambda item: [item.priority_score, str(item.id)],
    )


async def _lock_query(session: AsyncSession, query_id: uuid.UUID) -> None:
    """Serialise the work on one answered query (reviews, candidate decisions)."""
    await session.execute(
        sa.select(sa.func.pg_advisory_xact_lock(_QUERY_LOCK_CLASS, sa.func.hashtext(str(query_id))))
    )


async def _decide(
    session: AsyncSession,
    candidate_id: uuid.UUID,
    *,
    status: ApprovalStatus,
    admin_user_id: int | None,
    admin_key_id: uuid.UUID | None = None,
    reason: str | None = None,
) -> FaqCandidateRead:
    c = candidates.c
    query_id = await session.scalar(sa.select(c.query_id).where(c.id == candidate_id))
    if query_id is None:
        raise UnknownCandidate(f"No FAQ candidate {candidate_id}.")
    # Same lock, same order as submit_feedback (query lock, then profiles, then the
    # candidate): a decision racing a review of the same query waits instead of deadlocking.
    await _lock_query(session, query_id)
    stmt = (
        sa.update(candidates)
        .where(c.id == candidate_id, c.approval_status == ApprovalStatus.pending)
        .values(
            approval_status=status,
            approved_by=admin_user_id,
            # approved_at keeps its name's meaning: null when the decision is a rejection.
            approved_at=sa.func.now() if status is ApprovalStatus.approved else None,
            decided_by_key_id=admin_key_id,
            decided_at=sa.func.now(),
            rejection_reason=reason,
        )
        .returning(*candidates.c)
    )
    row = (await session.execute(stmt)).mappings().one_or_none()
    if row is None:
        current = await session.scalar(sa.select(c.approval_status).where(c.id == candidate_id))
        if current is None:
            raise UnknownCandidate(f"No FAQ candidate {candidate_id}.")
        raise CandidateNotPending(f"The candidate is already {current.value}.")
    if row["expert_id"] is not None:
        p = profiles.c
        evidence = (
            _evidence_values(approved=p.approved_count + 1)
            if status is ApprovalStatus.approved
            else _evidence_values(rejected=p.rejected_count + 1)
        )
        await session.execute(
            sa.update(profiles).where(p.id == row["expert_id"]).values(**evidence)
        )
    decided = (
        EventType.faq_candidate_approved
        if status is ApprovalStatus.approved
        else EventType.faq_candidate_rejected
    )
    await _emit_candidate(session, decided, row)
    return FaqCandidateRead.model_validate(dict(row))


async def approve_candidate(
    session: AsyncSession,
    *,
    candidate_id: uuid.UUID,
    admin_user_id: int | None,
    admin_key_id: uuid.UUID | None = None,
) -> FaqCandidateRead:
    """Approve a pending candidate (409 otherwise); its author's trust rises."""
    return await _decide(
        session,
        candidate_id,
        status=ApprovalStatus.approved,
        admin_user_id=admin_user_id,
        admin_key_id=admin_key_id,
    )


async def reject_candidate(
    session: AsyncSession,
    *,
    candidate_id: uuid.UUID,
    admin_user_id: int | None,
    reason: str,
    admin_key_id: uuid.UUID | None = None,
) -> FaqCandidateRead:
    """Reject a pending candidate with a reason (409 otherwise); its author's trust falls."""
    return await _decide(
        session,
        candidate_id,
        status=ApprovalStatus.rejected,
        admin_user_id=admin_user_id,
        admin_key_id=admin_key_id,
        reason=reason,
    )
