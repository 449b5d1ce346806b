"""The outbox is written by the domain services in the request's transaction: which
changes emit which events, what their payloads hold, and that a rolled-back request
emits nothing."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from app.errors import Conflict
from app.votes import service as votes_service
from app.webhooks import service as webhooks_service
from app.webhooks.schemas import EventType, WebhookCreate
from tests.conftest import bearer, committed_key
from tests.webhooks.conftest import PUBLIC_IP, WebhookEnv, stub_resolver, wait_until

ALL_EVENTS = [e.value for e in EventType]


async def _subscribe(db, app, events: list[str] = ALL_EVENTS, *, enabled: bool = True) -> Any:
    created = await webhooks_service.register_endpoint(
        db,
        WebhookCreate.model_validate({"url": "https://hooks.example.com/in", "events": events}),
        settings=app.state.settings,
        resolver=stub_resolver({"hooks.example.com": [PUBLIC_IP]}),
    )
    if not enabled:
        await db.execute(
            sa.text("UPDATE webhook_endpoints SET enabled = false WHERE id = :i"),
            {"i": created.id},
        )
    await db.commit()
    return created


async def _events(db) -> list[Any]:
    return list(
        (
            await db.execute(
                sa.text(
                    "SELECT e.type, e.data, e.user_id, count(d.id) AS deliveries "
                    "FROM webhook_events e LEFT JOIN webhook_deliveries d ON d.event_id = e.id "
                    "GROUP BY e.id ORDER BY e.created_at"
                )
            )
        ).all()
    )


async def _vote(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> httpx.Response:
    response = await client.post(
        "/api/v1/feedback", json={"conversation_id": "conv-1", **body}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response


async def test_down_vote_emits_ids_without_email_or_comment(
    client, db, app, ingest_headers
) -> None:
    await _subscribe(db, app)
    query_id = str(uuid.uuid4())
    vote = await _vote(
        client,
        ingest_headers,
        vote="down",
        query_id=query_id,
        user_id=4242,
        email="someone@example.com",
        comment="this answer is wrong",
        reasons=["inaccurate"],
    )
    await _vote(client, ingest_headers, vote="up")

    [event] = await _events(db)
    assert event.type == "vote.down"
    assert event.deliveries == 1
    assert event.user_id == 4242
    assert event.data["vote_id"] == vote.json()["id"]
    assert event.data["query_id"] == query_id
    assert event.data["reasons"] == ["inaccurate"]
    assert event.data["user_id"] == 4242
    text = str(event.data)
    assert "someone@example.com" not in text
    assert "this answer is wrong" not in text
    assert "email" not in event.data
    assert "comment" not in event.data


async def test_a_batch_of_votes_emits_one_event_per_down_vote_in_one_statement(
    db, app, engine
) -> None:
    """The group-commit writer hands `record_votes` a batch: each down vote still gets its
    own event and deliveries (`emit_many`), in order, with its user id column."""
    from app.votes.schemas import VoteCreate

    await _subscribe(db, app, ["vote.down"])
    await _subscribe(db, app, ["vote.down", "cache_entry.flagged"])
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        if "webhook_events" in statement:
            statements.append(statement)

    batch = [
        (VoteCreate(conversation_id="b-1", vote="down", reasons=["wrong"]), None),
        (VoteCreate(conversation_id="b-2", vote="up"), 11),
        (VoteCreate(conversation_id="b-3", vote="down"), 12),
        (VoteCreate(conversation_id="b-4", vote="down"), 13),
    ]
    sa.event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        recorded = await votes_service.record_votes(db, batch)
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert len(statements) == 1
    events = await _events(db)
    assert [e.data["vote_id"] for e in events] == [str(recorded[i].id) for i in (0, 2, 3)]
    assert [e.data["conversation_id"] for e in events] == ["b-1", "b-3", "b-4"]
    assert [e.user_id for e in events] == [None, 12, 13]
    assert [e.deliveries for e in events] == [2, 2, 2]
    assert events[0].data["reasons"] == ["wrong"]


async def test_no_subscriber_or_a_disabled_one_writes_nothing(
    client, db, app, ingest_headers
) -> None:
    await _vote(client, ingest_headers, vote="down")
    await _subscribe(db, app, ["cache_entry.flagged"])
    await _subscribe(db, app, ["vote.down"], enabled=False)
    await _vote(client, ingest_headers, vote="down")
    assert await _events(db) == []


async def test_flagging_emits_once_when_the_flag_flips(client, db, app, ingest_headers) -> None:
    await _subscribe(db, app)
    entry = {"cache_key": "k-flag", "provider": "openai", "model": "m", "cost_usd": 0.01}
    assert (
        await client.post("/api/v1/cache/entries", json=entry, headers=ingest_headers)
    ).status_code == 201
    for _ in range(6):
        rated = await client.post(
            "/api/v1/cache/entries/k-flag/feedback",
            json={"rating": 1, "comment": "bad"},
            headers=ingest_headers,
        )
        assert rated.status_code == 201, rated.text
    [event] = await _events(db)
    assert event.type == "cache_entry.flagged"
    assert event.data["cache_key"] == "k-flag"
    assert event.data["rating_count"] == 5  # the rating that tipped the rule
    assert event.data["provider"] == "openai"
    assert "comment" not in event.data


async def test_expert_review_and_candidate_decisions_emit(client, db, app, admin_headers) -> None:
    await _subscribe(db, app)
    expert = await client.post(
        "/api/v1/experts",
        json={"user_id": 777001, "credential_types": ["consulente_fiscale"]},
        headers=admin_headers,
    )
    assert expert.status_code == 201, expert.text
    expert_id = expert.json()["id"]

    def review(query_id: str) -> dict[str, Any]:
        return {
            "expert_id": expert_id,
            "query_id": query_id,
            "feedback_type": "incorrect",
            "category": "normativa_obsoleta",
            "query_text": "Aliquota IVA?",
            "original_answer": "20%",
            "expert_answer": "22%",
            "confidence_score": 0.8,
            "time_spent_seconds": 60,
        }

    first_query, second_query = str(uuid.uuid4()), str(uuid.uuid4())
    created = []
    for q in (first_query, second_query):
        r = await client.post("/api/v1/expert-feedback", json=review(q), headers=admin_headers)
        assert r.status_code == 201, r.text
        created.append(r.json())
    approve = await client.post(
        f"/api/v1/faq-candidates/{created[0]['faq_candidate']['id']}/approve",
        headers=admin_headers,
    )
    assert approve.status_code == 200, approve.text
    reject = await client.post(
        f"/api/v1/faq-candidates/{created[1]['faq_candidate']['id']}/reject",
        json={"reason": "duplicate"},
        headers=admin_headers,
    )
    assert reject.status_code == 200, reject.text

    events = await _events(db)
    # In the order the changes happened (the candidate is proposed inside the review).
    assert [e.type for e in events] == [
        "faq_candidate.created",
        "expert_feedback.created",
        "faq_candidate.created",
        "expert_feedback.created",
        "faq_candidate.approved",
        "faq_candidate.rejected",
    ]
    by_type = {e.type: e.data for e in events}
    assert by_type["expert_feedback.created"]["feedback_type"] == "incorrect"
    assert by_type["faq_candidate.approved"]["candidate_id"] == created[0]["faq_candidate"]["id"]
    assert by_type["faq_candidate.approved"]["approval_status"] == "approved"
    assert by_type["faq_candidate.rejected"]["approval_status"] == "rejected"
    for e in events:
        assert "22%" not in str(e.data)  # texts are not copied into payloads
        assert "duplicate" not in str(e.data)


async def test_a_second_review_strengthening_a_candidate_does_not_create_it_again(
    client, db, app, admin_headers
) -> None:
    await _subscribe(db, app, ["faq_candidate.created"])
    ids = []
    for user in (777002, 777003):
        r = await client.post(
            "/api/v1/experts",
            json={"user_id": user, "credential_types": ["consulente_fiscale"]},
            headers=admin_headers,
        )
        ids.append(r.json()["id"])
    query_id = str(uuid.uuid4())
    for expert_id in ids:
        r = await client.post(
            "/api/v1/expert-feedback",
            json={
                "expert_id": expert_id,
                "query_id": query_id,
                "feedback_type": "incomplete",
                "category": "caso_mancante",
                "query_text": "Scadenza?",
                "original_answer": "Giugno",
                "expert_answer": "Giugno, o settembre con proroga",
                "confidence_score": 0.7,
                "time_spent_seconds": 30,
            },
            headers=admin_headers,
        )
        assert r.status_code == 201, r.text
    [event] = await _events(db)
    assert event.type == "faq_candidate.created"


async def test_a_rolled_back_request_emits_nothing(
    webhook_env: WebhookEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    await webhook_env.register(
        "https://hooks.example.com/in", resolver=stub_resolver({"hooks.example.com": [PUBLIC_IP]})
    )
    emitted: list[uuid.UUID | None] = []
    real_emit_many = webhooks_service.emit_many

    async def emit_then_fail(session, event_type, items):
        emitted.append(await real_emit_many(session, event_type, items))
        raise Conflict("failing after the event was written")

    ingest = bearer(await committed_key(webhook_env.app, "ingest"))
    transport = httpx.ASGITransport(app=webhook_env.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        with monkeypatch.context() as patch:
            patch.setattr(votes_service.webhooks, "emit_many", emit_then_fail)
            failed = await http.post(
                "/api/v1/feedback", json={"conversation_id": "c", "vote": "down"}, headers=ingest
            )
        assert failed.status_code == 409
        assert emitted  # the event row had been inserted
        assert emitted[0] is not None
        assert await webhook_env.scalar("SELECT count(*) FROM webhook_events") == 0
        assert await webhook_env.scalar("SELECT count(*) FROM webhook_deliveries") == 0
        assert await webhook_env.scalar("SELECT count(*) FROM votes") == 0

        ok = await http.post(
            "/api/v1/feedback", json={"conversation_id": "c", "vote": "down"}, headers=ingest
        )
        assert ok.status_code == 201
    assert await webhook_env.scalar("SELECT count(*) FROM webhook_deliveries") == 1


async def test_an_endpoint_deleted_meanwhile_never_fails_the_change(
    webhook_env: WebhookEnv,
) -> None:
    """A vote emitting while an admin deletes the only endpoint waits, then emits nothing."""
    created = await webhook_env.register(
        "https://hooks.example.com/in", resolver=stub_resolver({"hooks.example.com": [PUBLIC_IP]})
    )
    maker = webhook_env.app.state.sessionmaker
    async with maker() as deleting, maker() as emitting:
        await webhooks_service.delete_endpoint(deleting, created.id)  # not committed yet

        async def emit_and_commit() -> uuid.UUID | None:
            event = await webhooks_service.emit(emitting, EventType.vote_down, {"x": 1})
            await emitting.commit()
            return event

        task = asyncio.create_task(emit_and_commit())

        async def blocked() -> bool:
            waiting = await webhook_env.scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            return bool(waiting)

        await wait_until(blocked, what="the emit to wait for the delete")
        await deleting.commit()
        assert await task is None
    assert await webhook_env.scalar("SELECT count(*) FROM webhook_events") == 0


async def test_auto_approval_emits_created_or_approved(client, db, app, admin_headers) -> None:
    """A trusted expert's correction: a new candidate is `created` already auto-approved;
    one that takes over a pending candidate is that candidate's `approved`."""
    await _subscribe(db, app, ["faq_candidate.created", "faq_candidate.approved"])
    made = await client.post(
        "/api/v1/experts",
        json={"user_id": 777004, "credential_types": ["consulente_fiscale"]},
        headers=admin_headers,
    )
    expert_id = made.json()["id"]

    async def review(query_id: str) -> dict[str, Any]:
        body = {
            "expert_id": expert_id,
            "query_id": query_id,
            "feedback_type": "incorrect",
            "category": "calcolo_sbagliato",
            "query_text": "Quanto?",
            "original_answer": "100",
            "expert_answer": "110",
            "confidence_score": 0.9,
            "time_spent_seconds": 10,
        }
        r = await client.post("/api/v1/expert-feedback", json=body, headers=admin_headers)
        assert r.status_code == 201, r.text
        candidate: dict[str, Any] = r.json()["faq_candidate"]
        return candidate

    taken_query = str(uuid.uuid4())
    pending = await review(taken_query)  # not yet trusted: pending
    await db.execute(
        sa.text("UPDATE expert_profiles SET is_verified = true, trust_score = 0.95 WHERE id = :i"),
        {"i": expert_id},
    )
    await db.commit()
    took_over = await review(taken_query)  # the same expert again: no peer evidence
    fresh = await review(str(uuid.uuid4()))

    assert pending["approval_status"] == "pending"
    assert took_over == {"id": pending["id"], "approval_status": "auto_approved"}
    assert fresh["approval_status"] == "auto_approved"
    events = [
        (e.type, e.data["candidate_id"], e.data["approval_status"]) for e in await _events(db)
    ]
    assert events == [
        ("faq_candidate.created", pending["id"], "pending"),
        ("faq_candidate.approved", pending["id"], "auto_approved"),
        ("faq_candidate.created", fresh["id"], "auto_approved"),
    ]
