"""Access routes: mint a browser token for one conversation or cache entry; who am I."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from app.auth.authentication import AuthState
from app.auth.dependencies import AnyCaller, IngestOrAdmin
from app.auth.schemas import Caller, FeedbackTokenCreate, FeedbackTokenCreated
from app.auth.tokens import TokenSigner
from app.config import SettingsDep
from app.idempotency.dependencies import IdempotentSecret
from app.transaction import TransactionalRoute

router = APIRouter(tags=["access"], route_class=TransactionalRoute)


def token_signer(request: Request) -> TokenSigner:
    state: AuthState = request.app.state.auth
    return state.signer


@router.post(
    "/feedback-tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=FeedbackTokenCreated,
    # The response holds the token: it is never stored for a replay (a retry → 409).
    dependencies=[IdempotentSecret],
)
async def create_feedback_token(
    payload: FeedbackTokenCreate,
    principal: IngestOrAdmin,
    settings: SettingsDep,
    signer: Annotated[TokenSigner, Depends(token_signer)],
) -> FeedbackTokenCreated:
    """Mint a short-lived token a browser can use to submit feedback for one target only."""
    assert principal.key_id is not None  # tokens are refused here: only keys mint
    token, expires_at = signer.mint(
        conversation_id=payload.conversation_id,
        cache_key=payload.cache_key,
        user_id=payload.user_id,
        ttl_seconds=payload.ttl_seconds or settings.feedback_token_default_ttl_seconds,
        key_id=principal.key_id,
    )
    return FeedbackTokenCreated(token=token, expires_at=expires_at)


@router.get("/whoami", status_code=status.HTTP_200_OK, response_model=Caller)
async def whoami(principal: AnyCaller) -> Caller:
    """The caller behind the presented key or token: kind, scope, key id and binding."""
    token = principal.token
    return Caller(
        kind="token" if token is not None else "key",
        scope=principal.scope,
        key_id=principal.key_id,
        expert_id=principal.expert_id,
        conversation_id=token.conversation_id if token else None,
        cache_key=token.cache_key if token else None,
        user_id=principal.user_id,
        expires_at=token.expires_at if token else None,
    )
