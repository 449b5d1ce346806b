"""Votes on the group-commit writer (`app/writer.py`): how a batch of them is inserted."""

from __future__ import annotations

from collections.abc import Iterable

from app.votes import service
from app.votes.schemas import VoteCreate, VoteRecorded
from app.writer import RowKind

VotePayload = tuple[VoteCreate, int | None]  # the vote, the user id to record


def _user_ids(payload: VotePayload) -> Iterable[int]:
    return () if payload[1] is None else (payload[1],)


_SERIALIZER = VoteRecorded.__pydantic_serializer__


def _render(recorded: VoteRecorded) -> bytes:
    # pydantic's own JSON serializer: the bytes `render_json(jsonable_encoder(recorded))`
    # gives (a test holds them equal), without walking the model in Python per vote.
    return _SERIALIZER.to_json(recorded)


VOTES: RowKind[VotePayload, VoteRecorded] = RowKind(
    name="votes", insert=service.record_votes, render=_render, user_ids=_user_ids
)
