"""The baseline: the seeds' pattern, a synchronous `def` endpoint holding a pooled ORM
session per request (one INSERT, one COMMIT each), psycopg 3, pool 40 (with 15 it
deadlocks against the 40 threadpool threads once ~55 requests are in flight)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, FastAPI, status
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app import models as _models  # noqa: F401  (every table, so foreign keys resolve)
from app.votes.models import Vote
from app.votes.schemas import VoteCreate, VoteRecorded

_url = make_url(os.environ["DATABASE_URL"]).set(drivername="postgresql+psycopg")
engine = sa.create_engine(_url, pool_size=40, max_overflow=0)
app = FastAPI()


def session() -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


@app.post("/api/v1/feedback", status_code=status.HTTP_201_CREATED, response_model=VoteRecorded)
def submit_vote(payload: VoteCreate, db: Annotated[Session, Depends(session)]) -> VoteRecorded:
    vote = Vote(
        conversation_id=payload.conversation_id,
        vote=payload.vote,
        reasons=payload.reasons,
        expert_ids=payload.expert_ids,
        comment=payload.comment,
        email=payload.email,
    )
    db.add(vote)
    db.commit()
    assert vote.id is not None
    assert vote.created_at is not None
    return VoteRecorded(id=vote.id, created_at=vote.created_at)
