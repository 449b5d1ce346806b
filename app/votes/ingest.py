"""Votes on the group-commit writer (`app/writer.py`): how a batch of them is inserted."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi.encoders import jsonable_encoder

from app.votes import service
from app.votes.schemas import VoteCreate, VoteRecorded
from app.writer import RowKind, render_json

VotePayload = tuple[VoteCreate, int | None]  # the vote, the user id to record


def _user_ids(payload: VotePayload) -> Iterable[int]:
    return () if payload[1] is None else (payload[1],)


def _render(recorded: VoteRecorded) -> bytes:
    return render_json(jsonable_encoder(recorded))


VOTES: RowKind[VotePayload, VoteRecorded] = RowKind(
    name="votes", insert=service.record_votes, render=_render, user_ids=_user_ids
)
