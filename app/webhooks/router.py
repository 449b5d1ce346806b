"""HTTP routes of webhooks (admin): endpoints, their secrets and their deliveries."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status

from app.auth.dependencies import Admin
from app.config import SettingsDep
from app.db import SessionDep
from app.errors import problem_doc
from app.idempotency.dependencies import Idempotent, IdempotentSecret
from app.query_params import Page, PaginationDep
from app.transaction import TransactionalRoute
from app.webhooks import service, ssrf
from app.webhooks.schemas import (
    DeliveryQueued,
    DeliveryRead,
    SecretRotate,
    SecretRotated,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"], route_class=TransactionalRoute)

Responses = dict[int | str, dict[str, Any]]
UNKNOWN_WEBHOOK: Responses = {404: problem_doc("No webhook with that id.")}
REFUSED_URL: Responses = {
    422: problem_doc(
        "Invalid input, or a URL the address policy refuses (the detail names the policy "
        "and the WEBHOOK_ALLOW_HOSTS setting)."
    )
}
REUSED_KEY: Responses = {409: problem_doc("Idempotency-Key reused with a different body.")}
WebhookId = Annotated[uuid.UUID, Path(description="The webhook endpoint id.")]
DeliveryId = Annotated[uuid.UUID, Path(description="The delivery id.")]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookCreated,
    responses={**REFUSED_URL, **REUSED_KEY},
    # The response holds the signing secret: never stored for a replay (a retry → 409).
    dependencies=[IdempotentSecret],
)
async def register_webhook(
    payload: WebhookCreate,
    principal: Admin,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
) -> WebhookCreated:
    """Register a receiver for some event types; the response shows its signing secret once."""
    # Tests stub DNS by setting app.state.webhook_resolver.
    resolver: ssrf.Resolver = getattr(request.app.state, "webhook_resolver", ssrf.system_resolver)
    return await service.register_endpoint(session, payload, settings=settings, resolver=resolver)


@router.get("", status_code=status.HTTP_200_OK, response_model=Page[WebhookRead])
async def list_webhooks(
    principal: Admin, session: SessionDep, page: PaginationDep
) -> Page[WebhookRead]:
    """Registered endpoints, newest first; a disabled one says why."""
    return await service.list_endpoints(session, page)


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
    responses=UNKNOWN_WEBHOOK,
)
async def delete_webhook(webhook_id: WebhookId, principal: Admin, session: SessionDep) -> None:
    """Remove an endpoint with its deliveries (undelivered ones are dropped)."""
    await service.delete_endpoint(session, webhook_id)


@router.post(
    "/{webhook_id}/rotate-secret",
    status_code=status.HTTP_200_OK,
    response_model=SecretRotated,
    responses={**UNKNOWN_WEBHOOK, **REUSED_KEY},
    dependencies=[IdempotentSecret],
)
async def rotate_webhook_secret(
    webhook_id: WebhookId,
    payload: SecretRotate,
    principal: Admin,
    session: SessionDep,
    settings: SettingsDep,
) -> SecretRotated:
    """Replace the signing secret; for `grace_seconds` each delivery carries signatures
    with both the new and the previous secret, so receivers can switch without a gap."""
    return await service.rotate_secret(session, webhook_id, payload, settings=settings)


@router.post(
    "/{webhook_id}/enable",
    status_code=status.HTTP_200_OK,
    response_model=WebhookRead,
    responses={**UNKNOWN_WEBHOOK, **REUSED_KEY},
    dependencies=[Idempotent],
)
async def enable_webhook(
    webhook_id: WebhookId, principal: Admin, session: SessionDep
) -> WebhookRead:
    """Enable a disabled endpoint again; its pending deliveries are attempted now."""
    return await service.enable_endpoint(session, webhook_id)


@router.get(
    "/{webhook_id}/deliveries",
    status_code=status.HTTP_200_OK,
    response_model=Page[DeliveryRead],
    responses=UNKNOWN_WEBHOOK,
)
async def list_webhook_deliveries(
    webhook_id: WebhookId, principal: Admin, session: SessionDep, page: PaginationDep
) -> Page[DeliveryRead]:
    """Recent deliveries, newest first: event, status, attempts, last response and error,
    next attempt."""
    return await service.list_deliveries(session, webhook_id, page)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryQueued,
    responses={
        404: problem_doc("No webhook, or no such delivery for it."),
        409: problem_doc("The webhook is disabled, or Idempotency-Key reused with another body."),
    },
    dependencies=[Idempotent],
)
async def retry_webhook_delivery(
    webhook_id: WebhookId, delivery_id: DeliveryId, principal: Admin, session: SessionDep
) -> DeliveryQueued:
    """Queue a delivery again for an attempt now (a redelivery keeps its `webhook-id`)."""
    return await service.retry_delivery(session, webhook_id, delivery_id)
