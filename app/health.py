"""Liveness, readiness and Prometheus metrics: the unauthenticated operational routes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app import migrate
from app.errors import is_database_unavailable, problem, problem_doc

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: Literal["ok"] = Field(
        default="ok", description="Always `ok` while the process runs.", examples=["ok"]
    )


class Durability(BaseModel):
    """The settings PostgreSQL's commit guarantee rests on, as this service's sessions see them."""

    synchronous_commit: str = Field(
        description="`on` (or `remote_apply`...) is durable; `off` can lose acknowledged "
        "commits in a crash.",
        examples=["on"],
    )
    fsync: str = Field(
        description="`off` can lose or corrupt committed data in a crash.", examples=["on"]
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
    durability: Durability = Field(
        description="synchronous_commit and fsync as the service's sessions see them.",
        examples=[{"synchronous_commit": "on", "fsync": "on"}],
    )
    replica_lag_seconds: float | None = Field(
        default=None,
        description="With ANALYTICS_DATABASE_URL: how far the replica's replay is behind "
        "(0 when it has replayed all it received); null without a replica or when the "
        "replica does not answer within READYZ_TIMEOUT_SECONDS.",
        examples=[0.0],
    )


@dataclass(frozen=True)
class _Check:
    revisions: frozenset[str]
    synchronous_commit: str
    fsync: str


DURABLE_OFF = "off"


async def _check(engine: AsyncEngine) -> _Check:
    revisions = await migrate.current_revisions(engine)
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT current_setting('synchronous_commit'), current_setting('fsync')")
            )
        ).one()
    return _Check(revisions, str(row[0]), str(row[1]))


# 0 once everything received is replayed (an idle primary must not look like lag);
# otherwise the age of the last replayed transaction.
REPLICA_LAG_SQL = text(
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL "
    "WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0.0 "
    "ELSE EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8 END"
)


async def replica_lag_seconds(request: Request) -> float | None:
    """The analytics replica's replay lag, or None (no replica, or it does not answer):
    a lagging or absent replica is reported, not a reason to take the service out."""
    engine = request.app.state.analytics_engine
    if engine is request.app.state.engine:
        return None
    try:
        async with asyncio.timeout(request.app.state.settings.readyz_timeout_seconds):
            async with engine.connect() as conn:
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
    responses={
        503: problem_doc(
            "Database unreachable or too slow to answer within READYZ_TIMEOUT_SECONDS, schema "
            "not at the Alembic head, or synchronous_commit/fsync off; see Retry-After."
        )
    },
)
async def readyz(request: Request) -> Ready | JSONResponse:
    """Readiness: the database answers in time, its schema is at the Alembic head, and its
    commits are durable."""
    settings = request.app.state.settings
    retry = {"Retry-After": str(settings.retry_after_seconds)}
    try:
        # Its own bound: a frozen database must make the probe fail, not hang it.
        check = await asyncio.wait_for(
            _check(request.app.state.engine), timeout=settings.readyz_timeout_seconds
        )
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
    if check.revisions != heads:
        return problem(
            503,
            "Service Unavailable",
            f"Schema at {sorted(check.revisions) or 'nothing'}, head is {sorted(heads)}: "
            "run `alembic upgrade head`.",
            slug="schema-behind",
            headers=retry,
        )
    durability = Durability(synchronous_commit=check.synchronous_commit, fsync=check.fsync)
    off = [
        name
        for name, value in (
            ("synchronous_commit", check.synchronous_commit),
            ("fsync", check.fsync),
        )
        if value == DURABLE_OFF
    ]
    if off and settings.require_durable_commits:
        return problem(
            503,
            "Service Unavailable",
            f"{' and '.join(off)} off: acknowledged writes could be lost in a crash.",
            slug="durability-off",
            headers=retry,
            durability=durability.model_dump(),
        )
    return Ready(
        revision=sorted(check.revisions),
        durability=durability,
        replica_lag_seconds=await replica_lag_seconds(request),
    )
