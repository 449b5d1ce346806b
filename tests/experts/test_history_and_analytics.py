"""GET /experts/{id}/feedback (window, order, pages) and GET /analytics/experts."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.experts.models import ExpertFeedback
from tests.experts.conftest import NewExpert, Review, SetProfile

reviews = ExpertFeedback.__table__


async def _age(db: AsyncSession, review_id: str, days: float) -> None:
    await db.execute(
        sa.update(reviews)
        .where(reviews.c.id == uuid.UUID(review_id))
        .values(created_at=sa.func.now() - dt.timedelta(days=days))
    )
    await db.commit()


async def test_expert_feedback_window_newest_first_and_pages(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    new_expert: NewExpert,
    review: Review,
    db: AsyncSession,
) -> None:
    expert, other = await new_expert(), await new_expert()
    ids = [(await review(expert["id"])).json()["id"] for _ in range(4)]
    await review(other["id"])
    # Ages: ids[0] 40 days, ids[1] 3 days, ids[2] 2 days, ids[3] 1 day.
    for review_id, days in zip(ids, (40, 3, 2, 1), strict=True):
        await _age(db, review_id, days)
    url = f"/api/v1/experts/{expert['id']}/feedback"

    recent = (await client.get(url, headers=admin_headers)).json()
    assert [r["id"] for r in recent["items"]] == [ids[3], ids[2], ids[1]]
    assert recent["next_cursor"] is None
    assert all(r["expert_id"] == expert["id"] for r in recent["items"])

    longer = (await client.get(url, params={"days": 60}, headers=admin_headers)).json()
    assert [r["id"] for r in longer["items"]] == [ids[3], ids[2], ids[1], ids[0]]

    walked: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"days": 60, "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(url, params=params, headers=admin_headers)).json()
        walked += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == [ids[3], ids[2], ids[1], ids[0]]

    assert (await client.get(url, params={"days": 0}, headers=admin_headers)).status_code == 422
    unknown = await client.get(f"/api/v1/experts/{uuid.uuid4()}/feedback", headers=admin_headers)
    assert unknown.status_code == 404


async def test_analytics_counts_every_key_and_ranks_by_trust(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    new_expert: NewExpert,
    review: Review,
    set_profile: SetProfile,
    db: AsyncSession,
) -> None:
    url = "/api/v1/analytics/experts"
    empty = (await client.get(url, headers=admin_headers)).json()
    assert empty["experts"] == []
    assert empty["feedback_by_type"] == {"correct": 0, "incomplete": 0, "incorrect": 0}
    assert set(empty["feedback_by_category"]) == {
        "normativa_obsoleta",
        "interpretazione_errata",
        "caso_mancante",
        "calcolo_sbagliato",
        "troppo_generico",
    }
    assert set(empty["feedback_by_category"].values()) == {0}
    assert empty["candidates_by_status"] == {
        "pending": 0,
        "approved": 0,
        "rejected": 0,
        "auto_approved": 0,
    }

    a, b, gone = await new_expert(), await new_expert(), await new_expert()
    await review(a["id"])  # incorrect, normativa_obsoleta, candidate
    await review(a["id"], feedback_type="correct", category=None, expert_answer=None)
    first = (await review(b["id"], feedback_type="incomplete", category="caso_mancante")).json()
    old = (await review(b["id"], category="calcolo_sbagliato")).json()
    await _age(db, old["id"], 45)  # outside the default 30-day window
    await client.post(
        f"/api/v1/faq-candidates/{first['faq_candidate']['id']}/approve", headers=admin_headers
    )
    await set_profile(gone["id"], is_active=False, trust_score=0.99)
    await set_profile(a["id"], trust_score=0.7)

    data = (await client.get(url, headers=admin_headers)).json()
    assert [e["id"] for e in data["experts"]] == [a["id"], b["id"]]
    leader = data["experts"][0]
    assert leader["trust_score"] == 0.7
    assert leader["feedback_count"] == 2
    assert "accuracy_rate" in leader
    assert data["experts"][1]["accuracy_rate"] == 1.0  # b: one approved candidate
    assert data["feedback_by_type"] == {"correct": 1, "incomplete": 1, "incorrect": 1}
    assert data["feedback_by_category"] == {
        "normativa_obsoleta": 1,
        "interpretazione_errata": 0,
        "caso_mancante": 1,
        "calcolo_sbagliato": 0,
        "troppo_generico": 0,
    }
    assert data["candidates_by_status"] == {
        "pending": 2,
        "approved": 1,
        "rejected": 0,
        "auto_approved": 0,
    }

    since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=60)).isoformat()
    wide = (await client.get(url, params={"from": since}, headers=admin_headers)).json()
    assert wide["feedback_by_type"]["incorrect"] == 2
    assert wide["feedback_by_category"]["calcolo_sbagliato"] == 1
    top1 = (await client.get(url, params={"top": 1}, headers=admin_headers)).json()
    assert [e["id"] for e in top1["experts"]] == [a["id"]]
