"""GET /api/v1/review-queue: ranking, counting rule, pagination, leaving on first review,
and the trigger-kept tables staying equal to a full recount through every kind of write."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.quality import priority
from tests.quality.conftest import Cast, Reviewed, assert_consistent

QUEUE = "/api/v1/review-queue"


def q(n: int) -> uuid.UUID:
    """Readable, ordered query ids: q(1) < q(2) < ..."""
    return uuid.UUID(int=n)


async def get_queue(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> dict[str, Any]:
    response = await client.get(QUEUE, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def queue_items(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await get_queue(client, headers, limit=500))["items"]
    return items


async def test_ranking_on_a_hand_made_dataset(
    client: httpx.AsyncClient, admin_headers: dict[str, str], cast: Cast, db: AsyncSession
) -> None:
    # q1: 3 down, all with reasons, 0 up          → (3 + 1.5) * 4/5 = 3.6
    # q2: 3 down, none with reasons, 1 up          → 3 * 4/6 = 2.0
    # q3: 1 down with a reason, 0 up               → 1.5 * 2/3 = 1.0
    # q4: 2 down, 4 up                             → 2 * 3/8 = 0.75
    # q5: only up votes                            → not in the queue
    # a vote without query_id                      → not in the queue
    for i, reasons in enumerate([["outdated"], ["outdated", "wrong rate"], ["wrong rate"]]):
        await cast(f"c1-{i}", "down", q(1), reasons=reasons)
    for i in range(3):
        await cast(f"c2-{i}", "down", q(2))
    await cast("c2-up", "up", q(2))
    await cast("c3", "down", q(3), reasons=["too vague"])
    for i in range(2):
        await cast(f"c4-{i}", "down", q(4))
    for i in range(4):
        await cast(f"c4-up-{i}", "up", q(4))
    await cast("c5", "up", q(5))
    await cast("c-none", "down", None, reasons=["outdated"])

    items = await queue_items(client, admin_headers)
    assert [i["query_id"] for i in items] == [str(q(n)) for n in (1, 2, 3, 4)]
    assert [i["priority"] for i in items] == pytest.approx([3.6, 2.0, 1.0, 0.75])
    assert items[0] == {
        "query_id": str(q(1)),
        "down_votes": 3,
        "up_votes": 0,
        "reasons": [{"reason": "outdated", "count": 2}, {"reason": "wrong rate", "count": 2}],
        "priority": pytest.approx(priority.priority(3, 0, 3)),
    }
    assert (items[1]["down_votes"], items[1]["up_votes"], items[1]["reasons"]) == (3, 1, [])
    assert (items[3]["down_votes"], items[3]["up_votes"]) == (2, 4)
    await assert_consistent(db)


async def test_current_vote_per_conversation_and_vote_switch(
    client: httpx.AsyncClient, admin_headers: dict[str, str], cast: Cast, db: AsyncSession
) -> None:
    await cast("conv", "down", q(1), reasons=["outdated"])
    await cast("conv", "down", q(1), reasons=["wrong rate"])  # same conversation: replaces
    await cast("other", "down", q(1))
    [item] = await queue_items(client, admin_headers)
    assert (item["down_votes"], item["up_votes"]) == (2, 0)
    assert item["reasons"] == [{"reason": "wrong rate", "count": 1}]

    await cast("conv", "up", q(1))  # switched: one down, one up
    [item] = await queue_items(client, admin_headers)
    assert (item["down_votes"], item["up_votes"], item["reasons"]) == (1, 1, [])
    assert item["priority"] == pytest.approx(priority.priority(1, 1, 0))

    await cast("other", "up", q(1))  # no down vote left: out of the queue
    assert await queue_items(client, admin_headers) == []
    await cast("other", "down", q(1), reasons=["outdated"])  # and back
    [item] = await queue_items(client, admin_headers)
    assert (item["down_votes"], item["up_votes"]) == (1, 1)

    # The same conversation answering another query counts for that query only.
    await cast("conv", "down", q(2))
    assert {i["query_id"] for i in await queue_items(client, admin_headers)} == {
        str(q(1)),
        str(q(2)),
    }
    await assert_consistent(db)


async def test_multi_row_insert_counts_the_newest_vote_of_each_conversation(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    # A batched writer inserts many rows in one statement: the statement-level trigger
    # must pick, per conversation, the newest of them, and skip an older backfilled row.
    await db.execute(
        sa.text(
            "INSERT INTO votes (conversation_id, vote, query_id, reasons, created_at) VALUES "
            "('a', 'up', :q, '{}', now() - interval '2 min'), "
            "('a', 'down', :q, '{outdated}', now() - interval '1 min'), "
            "('b', 'down', :q, '{}', now() - interval '1 min'), "
            "('c', 'up', :q, '{}', now())"
        ),
        {"q": q(7)},
    )
    await db.execute(
        sa.text(
            "INSERT INTO votes (conversation_id, vote, query_id, created_at) VALUES "
            "('a', 'up', :q, now() - interval '1 hour'), "
            "('b', 'down', :q, now() - interval '1 day')"
        ),
        {"q": q(7)},
    )
    await db.commit()
    [item] = await queue_items(client, admin_headers)
    assert (item["down_votes"], item["up_votes"]) == (2, 1)
    assert item["reasons"] == [{"reason": "outdated", "count": 1}]
    await assert_consistent(db)


async def test_pagination_walks_the_queue_in_order_without_gaps(
    client: httpx.AsyncClient, admin_headers: dict[str, str], cast: Cast
) -> None:
    # 7 queries; q(1..3) tie on priority (one plain down vote each): ties go by query_id.
    for n in range(1, 8):
        for i in range(1 if n <= 3 else n):
            await cast(f"p{n}-{i}", "down", q(n))
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        body = await get_queue(client, admin_headers, **params)
        assert len(body["items"]) <= 3
        seen += [i["query_id"] for i in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [str(q(n)) for n in (7, 6, 5, 4, 1, 2, 3)]


async def test_malformed_cursor_and_limit_are_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    for params in ({"cursor": "not-a-cursor"}, {"limit": 0}, {"limit": 501}):
        response = await client.get(QUEUE, params=params, headers=admin_headers)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_query_leaves_the_queue_in_the_transaction_of_its_first_review(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    cast: Cast,
    reviewed: Reviewed,
    db: AsyncSession,
) -> None:
    await cast("c1", "down", q(1))
    await cast("c2", "down", q(2))
    expert = await reviewed(q(9), "correct")  # an expert we can reuse

    # Inside one transaction: the review row and the queue change commit or vanish together.
    async with db.begin_nested() as savepoint:
        await db.execute(
            sa.text(
                "INSERT INTO expert_feedback (query_id, expert_id, feedback_type, query_text, "
                "original_answer, confidence_score, time_spent_seconds) "
                "VALUES (:q, :e, 'correct', 'q', 'a', 0.9, 30)"
            ),
            {"q": q(1), "e": expert["expert_id"]},
        )
        in_tx = await db.scalar(
            sa.text("SELECT first_reviewed_at IS NOT NULL FROM query_signals WHERE query_id = :q"),
            {"q": q(1)},
        )
        assert in_tx is True
        await savepoint.rollback()
    assert [i["query_id"] for i in await queue_items(client, admin_headers)] == [
        str(q(1)),
        str(q(2)),
    ]

    await reviewed(q(1), "incorrect")
    assert [i["query_id"] for i in await queue_items(client, admin_headers)] == [str(q(2))]
    # More votes on a reviewed query do not bring it back.
    await cast("c3", "down", q(1), reasons=["outdated"])
    assert [i["query_id"] for i in await queue_items(client, admin_headers)] == [str(q(2))]
    # A review recorded before any vote keeps the query out from its first vote on.
    await cast("c4", "down", q(9))
    assert [i["query_id"] for i in await queue_items(client, admin_headers)] == [str(q(2))]
    await assert_consistent(db)


async def test_erasure_keeps_the_counts_right(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    cast: Cast,
    reviewed: Reviewed,
    db: AsyncSession,
) -> None:
    user = 771_001
    await cast("anon-1", "down", q(1), reasons=["outdated"])
    await cast("mine", "down", q(1), reasons=["wrong rate"], user_id=user)
    # A shared conversation: someone voted up, then the erased user voted down (current).
    await cast("shared", "up", q(1))
    await cast("shared", "down", q(1), user_id=user, email="erase.me@example.com")
    # Only the erased user's vote on q(2): the query disappears from the queue.
    await cast("only-mine", "down", q(2), email="erase.me@example.com")
    [first, second] = await queue_items(client, admin_headers)
    assert (first["query_id"], first["down_votes"], first["up_votes"]) == (str(q(1)), 3, 0)
    assert second["query_id"] == str(q(2))

    response = await client.delete(f"/api/v1/users/{user}", headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json()["deleted"]["votes"] == 3

    [item] = await queue_items(client, admin_headers)
    assert item["query_id"] == str(q(1))
    assert (item["down_votes"], item["up_votes"]) == (1, 1)  # "shared" is up again
    assert item["reasons"] == [{"reason": "outdated", "count": 1}]
    await assert_consistent(db)


async def test_erasing_the_only_reviewer_puts_the_query_back(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    cast: Cast,
    new_expert: Any,
    reviewed: Reviewed,
    db: AsyncSession,
) -> None:
    expert = await new_expert()
    await cast("c1", "down", q(1))
    await reviewed(q(1), "incorrect", expert_id=expert["id"])
    assert await queue_items(client, admin_headers) == []
    response = await client.delete(f"/api/v1/users/{expert['user_id']}", headers=admin_headers)
    assert response.status_code == 200, response.text
    assert [i["query_id"] for i in await queue_items(client, admin_headers)] == [str(q(1))]
    await assert_consistent(db)


async def test_deletes_and_updates_in_bulk_keep_both_tables_equal_to_a_recount(
    cast: Cast, db: AsyncSession
) -> None:
    # A retention-style purge (DELETE by age), a bulk DELETE spanning several queries and
    # an UPDATE moving votes between queries, each checked against a full recount.
    for n in range(1, 5):
        for i in range(4):
            await cast(f"r{n}-{i % 2}", "down" if (n + i) % 3 else "up", q(n), reasons=[f"x{i}"])
    await db.execute(
        sa.text("UPDATE votes SET created_at = created_at - interval '400 days' WHERE vote = 'up'")
    )
    await assert_consistent(db)
    await db.execute(sa.text("DELETE FROM votes WHERE created_at < now() - interval '365 days'"))
    await assert_consistent(db)
    await db.execute(
        sa.text("UPDATE votes SET query_id = :to WHERE query_id = :from"),
        {"to": q(4), "from": q(3)},
    )
    await assert_consistent(db)
    await db.execute(
        sa.text("DELETE FROM votes WHERE query_id IN (:a, :b)"), {"a": q(1), "b": q(4)}
    )
    await assert_consistent(db)
    await db.execute(sa.text("DELETE FROM votes"))
    await assert_consistent(db)
    assert await db.scalar(sa.text("SELECT count(*) FROM query_signals")) == 0


async def test_the_queue_statement_reads_only_its_index(db: AsyncSession) -> None:
    from app.quality.service import review_queue_statement
    from app.query_params import Pagination

    stmt = review_queue_statement(Pagination(limit=50, cursor=[1.5, str(q(3))]))
    compiled = stmt.compile(compile_kwargs={"literal_binds": True})
    await db.execute(sa.text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(r[0] for r in (await db.execute(sa.text(f"EXPLAIN {compiled}"))).all())
    assert "ix_query_signals_review_queue" in plan
    assert " votes" not in plan


async def test_random_write_sequences_keep_both_tables_equal_to_a_recount(
    db: AsyncSession, reviewed: Reviewed
) -> None:
    # A seeded random mix of what production does to votes and reviews: single and
    # multi-row inserts (with backdated rows), erasure-style deletes, purges, updates,
    # reviews and their removal; the trigger-kept state is checked after every step.
    import random

    rng = random.Random(1414)
    expert = await reviewed(q(99), "correct")
    for _ in range(60):
        step = rng.choice(["insert", "batch", "delete", "purge", "update", "review", "unreview"])
        if step in ("insert", "batch"):
            rows = [
                {
                    "c": f"c{rng.randrange(8)}",
                    "v": rng.choice(["up", "down"]),
                    "q": q(rng.randrange(1, 6)) if rng.random() < 0.9 else None,
                    "r": rng.sample(["a", "b", "c"], rng.randrange(3)),
                    "age": rng.choice([0, 0, 0, 5, 50]),
                }
                for _ in range(1 if step == "insert" else rng.randrange(2, 12))
            ]
            values = ", ".join(
                f"(:c{i}, CAST(:v{i} AS vote_direction), :q{i}, CAST(:r{i} AS text[]), "
                f"clock_timestamp() - make_interval(mins => :age{i}))"
                for i in range(len(rows))
            )
            params = {f"{k}{i}": row[k] for i, row in enumerate(rows) for k in row}
            await db.execute(
                sa.text(
                    "INSERT INTO votes (conversation_id, vote, query_id, reasons, created_at) "
                    f"VALUES {values}"
                ),
                params,
            )
        elif step == "delete":
            await db.execute(
                sa.text("DELETE FROM votes WHERE conversation_id = :c"),
                {"c": f"c{rng.randrange(8)}"},
            )
        elif step == "purge":
            await db.execute(
                sa.text(
                    "DELETE FROM votes WHERE created_at < clock_timestamp() - interval '30 min'"
                )
            )
        elif step == "update":
            await db.execute(
                sa.text(
                    "UPDATE votes SET vote = CAST(CASE vote WHEN 'up' THEN 'down' ELSE 'up' END "
                    "AS vote_direction) "
                    "WHERE conversation_id = :c"
                ),
                {"c": f"c{rng.randrange(8)}"},
            )
        elif step == "review":
            await db.execute(
                sa.text(
                    "INSERT INTO expert_feedback (query_id, expert_id, feedback_type, query_text, "
                    "original_answer, confidence_score, time_spent_seconds) "
                    "VALUES (:q, :e, 'correct', 'q', 'a', 0.9, 30)"
                ),
                {"q": q(rng.randrange(1, 6)), "e": expert["expert_id"]},
            )
        else:
            await db.execute(
                sa.text("DELETE FROM expert_feedback WHERE query_id = :q"),
                {"q": q(rng.randrange(1, 6))},
            )
        await assert_consistent(db)


async def test_truncate_resets_the_derived_state(
    cast: Cast, reviewed: Reviewed, db: AsyncSession
) -> None:
    await cast("c1", "down", q(1), reasons=["a"])
    await cast("c2", "up", q(2))
    await reviewed(q(2), "correct")
    await reviewed(q(3), "incorrect")
    await db.execute(sa.text("TRUNCATE expert_feedback CASCADE"))
    await assert_consistent(db)
    await reviewed(q(1), "incorrect")
    await db.execute(sa.text("TRUNCATE votes"))
    await assert_consistent(db)
    assert await db.scalar(sa.text("SELECT count(*) FROM query_signals")) == 1
