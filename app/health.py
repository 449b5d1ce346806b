"""Liveness, readiness and Prometheus metrics: the unauthenticated operational routes."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app import migrate
from app.errors import is_database_unavailable, problem

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: Literal["ok"] = Field(
        default="ok", description="Always `ok` while the process runs.", examples=["ok"]
    )


class Ready(BaseModel):
    status: Literal["ready"] = Field(
        default="ready",
        description="`ready`: the database answers and is at the head.",
        examples=["ready"],
    )
    revision: list[str] = Field(
        description="The Alembic revision(s) the database is at.", examples=[["0005"]]
    )


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """Liveness: 200 while the process runs; never touches the database."""
    return Health()


@router.get(
    "/readyz",
    response_model=Ready,
    responses={503: {"description": "Database unreachable or schema not at the Alembic head"}},
)
async def readyz(request: Request) -> Ready | JSONResponse:
    """Readiness: the database answers and its schema is at the Alembic head."""
    retry = {"Retry-After": str(request.app.state.settings.retry_after_seconds)}
    try:
        current = await migrate.current_revisions(request.app.state.engine)
    except Exception as exc:
        if not is_database_unavailable(exc):
            raise
        return problem(
            503,
            "Service Unavailable",
            "The database does not answer.",
            slug="database-unavailable",
            headers=retry,
        )
    heads = migrate.head_revisions()
    if current != heads:
        return problem(
            503,
            "Service Unavailable",
            f"Schema at {sorted(current) or 'nothing'}, head is {sorted(heads)}: "
            "run `alembic upgrade head`.",
            slug="schema-behind",
            headers=retry,
        )
    return Ready(revision=sorted(current))
