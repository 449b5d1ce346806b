"""The ceiling: the vote POST validated by the same schema, answering 201, no database."""

from __future__ import annotations

import datetime as dt
import uuid

from fastapi import FastAPI, status

from app.votes.schemas import VoteCreate, VoteRecorded

app = FastAPI()


@app.post("/api/v1/feedback", status_code=status.HTTP_201_CREATED, response_model=VoteRecorded)
async def submit_vote(payload: VoteCreate) -> VoteRecorded:
    return VoteRecorded(id=uuid.uuid4(), created_at=dt.datetime.now(dt.UTC))
