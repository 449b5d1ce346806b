"""HTTP routes of privacy: erase a user, export a dataset (admin only)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.background import BackgroundTask

from app.auth.dependencies import Admin
from app.db import SessionDep
from app.errors import TooManyRequests
from app.privacy import service
from app.privacy.schemas import Dataset, ErasureResult, ExportFormat
from app.privacy.streaming import BoundedStreamingResponse
from app.query_params import TimeWindowDep
from app.transaction import TransactionalRoute

router = APIRouter(tags=["privacy"], route_class=TransactionalRoute)


@router.delete(
    "/users/{user_id}",
    status_code=status.HTTP_200_OK,
    response_model=ErasureResult,
    responses={404: {"description": "No such user (problem+json)."}},
    description="Erase one user's data across every table.\n\n" + service.ERASURE_POLICY,
)
async def erase_user(
    user_id: Annotated[int, Path(ge=-(2**63), le=2**63 - 1, description="Platform user id.")],
    principal: Admin,
    session: SessionDep,
    request: Request,
) -> ErasureResult:
    """Erase one user's data across every table."""
    signer = request.app.state.auth.signer
    return await service.erase_user(session, user_id, erasure_hash=signer.erasure_hash(user_id))


def analytics_engine(request: Request) -> AsyncEngine:
    """The read replica's engine when ANALYTICS_DATABASE_URL is set, else the primary's."""
    engine: AsyncEngine = getattr(request.app.state, "analytics_engine", None) or (
        request.app.state.engine
    )
    return engine


async def _take_export_slot(request: Request) -> Callable[[], None]:
    """Reserve one of the process's export slots (each download holds a connection for
    its whole length), or 429; returns an idempotent release."""
    slots: asyncio.Semaphore | None = getattr(request.app.state, "export_slots", None)
    if slots is None:
        slots = request.app.state.export_slots = asyncio.Semaphore(
            request.app.state.settings.max_concurrent_exports
        )
    if slots.locked():
        raise TooManyRequests(
            "Too many exports are running; retry shortly.", headers={"Retry-After": "30"}
        )
    await slots.acquire()  # a slot is free: this does not wait
    released = False

    def release() -> None:
        nonlocal released
        if not released:
            released = True
            slots.release()

    return release


async def _releasing(
    chunks: AsyncIterator[bytes], release: Callable[[], None]
) -> AsyncIterator[bytes]:
    try:
        async for chunk in chunks:
            yield chunk
    finally:
        release()


@router.get(
    "/export/{dataset}",
    status_code=status.HTTP_200_OK,
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The rows, oldest first: CSV with a header row, or one JSON object "
            "per line. Timestamps ISO-8601 UTC; arrays as JSON (in CSV cells too).",
            "content": {"text/csv": {}, "application/x-ndjson": {}},
        },
        422: {"description": "Unknown dataset or format, or a bad time window (problem+json)."},
    },
)
async def export_dataset(
    request: Request,
    dataset: Dataset,
    principal: Admin,
    window: TimeWindowDep,
    format: Annotated[ExportFormat, Query(description="csv (default) or ndjson.")] = (
        ExportFormat.csv
    ),
) -> StreamingResponse:
    """Stream one dataset (rows created in `[from, to)`) from a server-side cursor."""
    release = await _take_export_slot(request)
    # The request's session is closed as soon as this returns, before the body is sent:
    # the generator opens its own connection (on the read replica when configured).
    body = _releasing(
        service.export_bytes(
            analytics_engine(request), dataset, fmt=format, start=window.start, end=window.end
        ),
        release,
    )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    settings = request.app.state.settings
    return BoundedStreamingResponse(
        body,
        send_timeout=settings.export_send_timeout_seconds,
        max_seconds=settings.export_max_seconds,
        background=BackgroundTask(release),
        media_type=service.MEDIA_TYPES[format],
        headers={
            "Content-Disposition": f'attachment; filename="{dataset.value}-{stamp}.{format.value}"',
            "Cache-Control": "no-store",
        },
    )
