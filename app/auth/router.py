"""`POST /api/v1/feedback-tokens`: mint a browser token for one conversation or cache entry."""

from fastapi import APIRouter, Request, status

from app.auth.dependencies import IngestOrAdmin
from app.auth.schemas import FeedbackTokenCreate, FeedbackTokenCreated
from app.transaction import TransactionalRoute

router = APIRouter(tags=["access"], route_class=TransactionalRoute)


@router.post(
    "/feedback-tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=FeedbackTokenCreated,
)
async def create_feedback_token(
    payload: FeedbackTokenCreate, principal: IngestOrAdmin, request: Request
) -> FeedbackTokenCreated:
    """Mint a short-lived token a browser can use to submit feedback for one target only."""
    settings = request.app.state.settings
    assert principal.key_id is not None  # tokens are refused here: only keys mint
    token, expires_at = request.app.state.auth.signer.mint(
        conversation_id=payload.conversation_id,
        cache_key=payload.cache_key,
        user_id=payload.user_id,
        ttl_seconds=payload.ttl_seconds or settings.feedback_token_default_ttl_seconds,
        key_id=principal.key_id,
    )
    return FeedbackTokenCreated(token=token, expires_at=expires_at)
