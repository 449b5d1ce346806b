"""HTTP routes of the quality loop (adapters: principal, session, query in; one service call)."""

from typing import Annotated

from fastapi import APIRouter, Query, status

from app.auth.dependencies import Admin
from app.db import SessionDep
from app.quality import service
from app.quality.priority import REASON_WEIGHT
from app.quality.schemas import Calibration, ReviewQueueItem
from app.query_params import Page, PaginationDep, TimeWindowDep
from app.transaction import TransactionalRoute

router = APIRouter(tags=["quality"], route_class=TransactionalRoute)

# api.md: `to` defaults to now and `from` to `to` minus 30 days, for every windowed route.

REVIEW_QUEUE_DESCRIPTION = f"""\
Answered queries (`query_id` on votes) that users voted down and no expert has reviewed
yet, highest `priority` first (ties by `query_id`), keyset-paginated (`?limit&cursor`).

**Which votes count.** For each `(query_id, conversation_id)` the newest vote (by
`created_at`, then id) that carries that `query_id` is the *current* one; older votes of
that conversation on that query are history. `down_votes` / `up_votes` count the current
votes; `reasons` counts the reasons of the current down votes (a reason once per vote).
Votes without a `query_id` never reach the queue.

**Priority** (`app/quality/priority.py`):
`(down + {REASON_WEIGHT}·reasoned) · (down + 1)/(down + up + 2) · (1 + ln(1 + traffic))`,
where `reasoned` is the current down votes that give at least one reason. The traffic of
what served the answer is not linked to a `query_id` anywhere in the schema yet, so it is
taken as 0 (the last factor is 1).

**Leaving the queue.** A query leaves in the transaction that records its first expert
review (`expert_feedback.query_id`); it returns only if every review of it is erased.
Erasure and retention purges of votes update the counts in the same transaction.
"""

CALIBRATION_DESCRIPTION = """\
How user votes line up with expert verdicts, for the answers (queries) that have both.

**Which verdict.** One per query: its *latest* expert verdict (newest `expert_feedback` by
`created_at`, then id), counted only if that verdict was given inside `[from, to)`.
**Which votes.** The *current* vote of each conversation on the query: the newest vote
carrying that `query_id` in that conversation, whenever it was cast.

`votes` counts current votes (one per conversation and query) by direction by the latest
verdict of their query. `reasons`: for each reason cited by a current down vote, the
answers whose down votes cite it (`sample_size`, counted once per answer however many
votes cite it) and the share of them whose latest verdict is `incorrect` /
`incomplete`; largest sample first, at most `top` reasons.

**Window defaults**: `to` = now, `from` = `to` minus 30 days.
"""


@router.get(
    "/review-queue",
    status_code=status.HTTP_200_OK,
    response_model=Page[ReviewQueueItem],
    summary="Review queue",
    description=REVIEW_QUEUE_DESCRIPTION,
)
async def get_review_queue(
    _: Admin, session: SessionDep, page: PaginationDep
) -> Page[ReviewQueueItem]:
    return await service.review_queue(session, page)


@router.get(
    "/analytics/calibration",
    status_code=status.HTTP_200_OK,
    response_model=Calibration,
    summary="Calibration of user votes against expert verdicts",
    description=CALIBRATION_DESCRIPTION,
)
async def get_calibration(
    window: TimeWindowDep,
    _: Admin,
    session: SessionDep,
    top: Annotated[int, Query(ge=1, le=500, description="How many reasons at most.")] = 50,
) -> Calibration:
    return await service.calibration(session, start=window.start, end=window.end, top=top)
