"""HTTP routes of the experts domain (adapters: body, principal, session in; one service out)."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from app.auth import service as auth_service
from app.auth.dependencies import Admin, ExpertOrAdmin
from app.auth.models import Scope
from app.config import SettingsDep
from app.db import SessionDep
from app.experts import analytics, service
from app.experts.models import ApprovalStatus
from app.experts.schemas import (
    ExpertAnalytics,
    ExpertCreate,
    ExpertFeedbackCreate,
    ExpertFeedbackCreated,
    ExpertFeedbackRead,
    ExpertKeyCreate,
    ExpertKeyCreated,
    ExpertRead,
    ExpertUpdate,
    FaqCandidateRead,
    FaqCandidateReject,
)
from app.idempotency.dependencies import Idempotent, IdempotentSecret
from app.query_params import Page, PaginationDep, TimeWindowDep
from app.transaction import TransactionalRoute

router = APIRouter(tags=["experts"], route_class=TransactionalRoute)

Responses = dict[int | str, dict[str, Any]]
UNKNOWN_EXPERT: Responses = {404: {"description": "No expert profile with that id."}}
UNKNOWN_CANDIDATE: Responses = {404: {"description": "No FAQ candidate with that id."}}
NOT_PENDING: Responses = {409: {"description": "The candidate was already decided."}}


@router.post(
    "/experts",
    status_code=status.HTTP_201_CREATED,
    response_model=ExpertRead,
    responses={409: {"description": "The user already has an expert profile."}},
    dependencies=[Idempotent],
)
async def create_expert(payload: ExpertCreate, _: Admin, session: SessionDep) -> ExpertRead:
    """Create an expert profile for a platform user (one per user; a second one → 409)."""
    return await service.create_expert(session, payload)


@router.get("/experts", status_code=status.HTTP_200_OK, response_model=Page[ExpertRead])
async def list_experts(
    _: Admin,
    session: SessionDep,
    page: PaginationDep,
    min_trust: Annotated[float | None, Query(ge=0, le=1, description="Lowest trust.")] = None,
    active: Annotated[bool | None, Query(description="Only active (or inactive).")] = None,
    specialization: Annotated[
        str | None, Query(min_length=1, max_length=200, pattern=r"^[^\x00]*$")
    ] = None,
) -> Page[ExpertRead]:
    """List expert profiles, highest trust first."""
    return await service.list_experts(
        session, page, min_trust=min_trust, active=active, specialization=specialization
    )


@router.get(
    "/experts/{expert_id}",
    status_code=status.HTTP_200_OK,
    response_model=ExpertRead,
    responses=UNKNOWN_EXPERT,
)
async def get_expert(
    expert_id: uuid.UUID, principal: ExpertOrAdmin, session: SessionDep
) -> ExpertRead:
    """Read one expert profile (an expert key: only its own)."""
    principal.may_read_expert(expert_id)
    return await service.get_expert(session, expert_id)


@router.patch(
    "/experts/{expert_id}",
    status_code=status.HTTP_200_OK,
    response_model=ExpertRead,
    responses=UNKNOWN_EXPERT,
)
async def update_expert(
    expert_id: uuid.UUID, payload: ExpertUpdate, _: Admin, session: SessionDep
) -> ExpertRead:
    """Update an expert profile: verification, activation and profile fields."""
    return await service.update_expert(session, expert_id, payload)


@router.post(
    "/experts/{expert_id}/keys",
    status_code=status.HTTP_201_CREATED,
    response_model=ExpertKeyCreated,
    responses=UNKNOWN_EXPERT,
    # The response holds the key: it is never stored for a replay (a retry → 409).
    dependencies=[IdempotentSecret],
)
async def create_expert_key(
    expert_id: uuid.UUID,
    _: Admin,
    session: SessionDep,
    payload: ExpertKeyCreate | None = None,
) -> ExpertKeyCreated:
    """Create an `expert` API key bound to this profile; the secret is shown only once."""
    name = payload.name if payload is not None else None
    row, secret = await auth_service.create_key(
        session, scope=Scope.expert, expert_id=expert_id, name=name
    )
    assert row.id is not None
    return ExpertKeyCreated(key=secret, id=row.id, expert_id=expert_id, name=row.name)


@router.post(
    "/expert-feedback",
    status_code=status.HTTP_201_CREATED,
    response_model=ExpertFeedbackCreated,
    responses={
        403: {"description": "An expert key for another profile, or an inactive expert."},
        404: {"description": "No expert profile with that id."},
    },
    dependencies=[Idempotent],
)
async def submit_expert_feedback(
    payload: ExpertFeedbackCreate,
    principal: ExpertOrAdmin,
    session: SessionDep,
    settings: SettingsDep,
) -> ExpertFeedbackCreated:
    """Submit an expert's review of an AI answer; a correction proposes an FAQ candidate."""
    return await service.submit_feedback(
        session,
        expert_id=principal.acting_expert(payload.expert_id),
        payload=payload,
        auto_approval_threshold=settings.expert_auto_approval_threshold,
    )


@router.get(
    "/experts/{expert_id}/feedback",
    status_code=status.HTTP_200_OK,
    response_model=Page[ExpertFeedbackRead],
    responses=UNKNOWN_EXPERT,
)
async def list_expert_feedback(
    expert_id: uuid.UUID,
    principal: ExpertOrAdmin,
    session: SessionDep,
    page: PaginationDep,
    days: Annotated[int, Query(ge=1, le=3660, description="How many days back.")] = 30,
) -> Page[ExpertFeedbackRead]:
    """List an expert's reviews of the last `days` days, newest first (an expert key:
    only its own)."""
    principal.may_read_expert(expert_id)
    return await service.list_expert_feedback(session, expert_id, page, days=days)


@router.get(
    "/faq-candidates", status_code=status.HTTP_200_OK, response_model=Page[FaqCandidateRead]
)
async def list_faq_candidates(
    _: Admin,
    session: SessionDep,
    page: PaginationDep,
    status_: Annotated[ApprovalStatus, Query(alias="status")] = ApprovalStatus.pending,
) -> Page[FaqCandidateRead]:
    """The FAQ approval queue: candidates with `status`, highest priority first."""
    return await service.list_candidates(session, page, status=status_)


@router.post(
    "/faq-candidates/{candidate_id}/approve",
    status_code=status.HTTP_200_OK,
    response_model=FaqCandidateRead,
    responses={**UNKNOWN_CANDIDATE, **NOT_PENDING},
    dependencies=[Idempotent],
)
async def approve_faq_candidate(
    candidate_id: uuid.UUID, principal: Admin, session: SessionDep
) -> FaqCandidateRead:
    """Approve a pending FAQ candidate (409 if already decided); raises its author's trust."""
    return await service.approve_candidate(
        session,
        candidate_id=candidate_id,
        admin_user_id=principal.user_id,
        admin_key_id=principal.key_id,
    )


@router.post(
    "/faq-candidates/{candidate_id}/reject",
    status_code=status.HTTP_200_OK,
    response_model=FaqCandidateRead,
    responses={**UNKNOWN_CANDIDATE, **NOT_PENDING},
    dependencies=[Idempotent],
)
async def reject_faq_candidate(
    candidate_id: uuid.UUID, payload: FaqCandidateReject, principal: Admin, session: SessionDep
) -> FaqCandidateRead:
    """Reject a pending FAQ candidate with a reason (409 if already decided)."""
    return await service.reject_candidate(
        session,
        candidate_id=candidate_id,
        admin_user_id=principal.user_id,
        admin_key_id=principal.key_id,
        reason=payload.reason,
    )


@router.get("/analytics/experts", status_code=status.HTTP_200_OK, response_model=ExpertAnalytics)
async def expert_analytics(
    _: Admin,
    session: SessionDep,
    window: TimeWindowDep,
    top: Annotated[int, Query(ge=1, le=100, description="Leaderboard size.")] = 10,
) -> ExpertAnalytics:
    """Expert leaderboard by trust, reviews by type and category in the window (default:
    `to` = now, `from` = `to` minus 30 days), candidates by status (all time); counts come
    from rollups kept by database triggers."""
    return await analytics.expert_analytics(session, window, top=top)
