"""Liveness, readiness and Prometheus metrics: the unauthenticated operational routes."""

from __future__ import annotations

import asyncio
from typing import Literal

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app import migrate
from app.errors import is_database_unavailable, problem

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ready"] = "ready"
    revision: list[str]
    replica_lag_seconds: float | None = Field(
        default=None,
        description="With ANALYTICS_DATABASE_URL: how far the replica's replay is behind "
        "(0 when it has replayed all it received); null without a replica or when the "
        "replica does not answer.",
        examples=[0.0],
    )


# 0 once everything received is replayed (an idle primary must not look like lag);
# otherwise the age of the last replayed transaction.
REPLICA_LAG_SQL = sa.text(
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL "
    "WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0.0 "
    "ELSE EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8 END"
)


async def replica_lag_seconds(request: Request) -> float | None:
    """The analytics replica's replay lag, or None (no replica, or it does not answer)."""
    engine = request.app.state.analytics_engine
    if engine is request.app.state.engine:
        return None
    try:
        async with asyncio.timeout(2), engine.connect() as conn:
            lag = await conn.scalar(REPLICA_LAG_SQL)
    except Exception as exc:
        if not is_database_unavailable(exc) and not isinstance(exc, TimeoutError):
            raise
        return None
    return None if lag is None else float(lag)


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
    return Ready(revision=sorted(current), replica_lag_seconds=await replica_lag_seconds(request))
