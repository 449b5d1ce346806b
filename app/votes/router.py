"""HTTP routes of the votes domain (adapters: body, principal, session in; one service call out)."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from app.auth.dependencies import Admin, VoteWriter
from app.db import SessionDep
from app.idempotency.dependencies import IdempotencyKeyHeader
from app.query_params import MAX_BUCKETS, WINDOW_RULE, Bucket, TimeWindowDep, check_bucket_count
from app.schemas import ExternalId
from app.transaction import TransactionalRoute
from app.votes import service
from app.votes.ingest import VOTES
from app.votes.schemas import ConversationVotes, VoteAnalytics, VoteCreate, VoteRecorded
from app.writer import WRITER_503, write_row

router = APIRouter(tags=["votes"], route_class=TransactionalRoute)

ANALYTICS_DESCRIPTION = f"""\
Vote totals, a per-bucket time series and the most cited reasons over `[from, to)`.

**Which votes count.** A conversation's *current vote* is its newest vote overall (by
`created_at`, ties broken by id), whenever it was cast. Each conversation counts once,
with its current vote, in the bucket of the time that vote was cast, if that time lies
inside `[from, to)`. A conversation whose current vote was cast outside the window does
not count, even if older votes of it lie inside; a conversation that switched from up to
down counts as one `down`, in the bucket of the switch.

**Series.** Buckets are the hour, day or ISO week (starting Monday) in UTC. Every bucket
from the one holding `from` up to the last one starting before `to` is present, with
zeros when empty. At most {MAX_BUCKETS} buckets per request (422 on `bucket` beyond that).

**satisfaction** = `up / (up + down)` over the counted votes (in `totals` and in each
bucket); `null` when there are no votes.

**top_reasons**: the reasons of the counted votes (up or down), each counted once per
vote that cites it, most frequent first (ties alphabetical), at most `top` entries.

**Window**: {WINDOW_RULE}

Served from rollups kept by database triggers, so the cost depends on the window's
buckets, not on the number of votes.
"""


@router.post(
    "/feedback",
    status_code=status.HTTP_201_CREATED,
    response_model=VoteRecorded,
    responses={503: WRITER_503},
)
async def submit_vote(
    request: Request,
    payload: VoteCreate,
    principal: VoteWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Record a thumbs vote; a changed vote is a new row and the newest row is current.
    The 201 is sent once the vote is committed (group commit, see `app/writer.py`)."""
    user_id = principal.user_for_conversation(payload.conversation_id, payload.user_id)
    return await write_row(request, principal, VOTES, (payload, user_id), idempotency_key)


@router.get(
    "/conversations/{conversation_id}/votes",
    status_code=status.HTTP_200_OK,
    response_model=ConversationVotes,
)
async def get_conversation_votes(
    conversation_id: Annotated[
        ExternalId,
        Path(
            description="The conversation id as sent with the votes.",
            examples=["conv-8f14e45f"],
        ),
    ],
    principal: Admin,
    session: SessionDep,
) -> ConversationVotes:
    """Current vote and full history, newest first; an unknown conversation → 200 with
    `current: null` and empty `history` (conversation ids are external, never 404)."""
    return await service.conversation_votes(session, conversation_id)


@router.get(
    "/analytics/votes",
    status_code=status.HTTP_200_OK,
    response_model=VoteAnalytics,
    summary="Vote analytics",
    description=ANALYTICS_DESCRIPTION,
)
async def get_vote_analytics(
    window: TimeWindowDep,
    principal: Admin,
    session: SessionDep,
    bucket: Annotated[Bucket, Query(description="Series bucket, in UTC.")] = Bucket.day,
    top: Annotated[int, Query(ge=1, le=100, description="How many top reasons.")] = 10,
) -> VoteAnalytics:
    """Totals, series and top reasons of each conversation's current vote in the window."""
    check_bucket_count(window.start, window.end, bucket)
    return await service.vote_analytics(
        session, start=window.start, end=window.end, bucket=bucket, top=top
    )
