"""Deliveries to a real receiver on 127.0.0.1: signatures both ways, retries, restarts,
two dispatchers, disabling, rotation, manual retry and the metrics."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
import uuid
from typing import Any

from standardwebhooks.webhooks import Webhook

from app.webhooks.schemas import EventType, SecretRotate
from app.webhooks.service import emit, rotate_secret
from tests.conftest import bearer, committed_key
from tests.webhooks.conftest import Receiver, WebhookEnv, wait_until


async def _emit(env: WebhookEnv, n: int = 1, **data: Any) -> list[uuid.UUID]:
    ids = []
    async with env.app.state.sessionmaker() as session:
        for i in range(n):
            event_id = await emit(
                session, EventType.vote_down, {"conversation_id": f"c-{i}", **data}
            )
            assert event_id is not None
            ids.append(event_id)
        await session.commit()
    return ids


async def _status(env: WebhookEnv, event_id: uuid.UUID) -> str:
    return str(
        await env.scalar("SELECT status FROM webhook_deliveries WHERE event_id = :e", e=event_id)
    )


def _verify_feedback_signature(header: str, secret: str, body: bytes) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, s.strip()) for s in header.split(","))


async def test_signed_delivery_verifies_both_ways(webhook_env: WebhookEnv, receiver: Receiver):
    created = await webhook_env.register(receiver.url)
    [event_id] = await _emit(webhook_env, vote_id=str(uuid.uuid4()))
    webhook_env.dispatcher().start()

    await wait_until(lambda: _delivered(webhook_env, event_id), what="delivery")

    [got] = receiver.received
    # Standard Webhooks, verified with the library off the shelf.
    payload = Webhook(created.secret).verify(got.body, got.headers)
    assert payload["id"] == str(event_id) == got.headers["webhook-id"]
    assert payload["type"] == "vote.down"
    assert payload["data"]["conversation_id"] == "c-0"
    assert set(payload) == {"id", "type", "created_at", "data"}
    # X-Feedback-Signature: hex HMAC-SHA256 of the raw body.
    assert got.headers["x-feedback-signature"].startswith("sha256=")
    assert _verify_feedback_signature(got.headers["x-feedback-signature"], created.secret, got.body)
    assert not _verify_feedback_signature(got.headers["x-feedback-signature"], "whsec_x", got.body)
    assert got.headers["host"] == receiver.url.split("/")[2]


async def _delivered(env: WebhookEnv, event_id: uuid.UUID) -> bool:
    return await _status(env, event_id) == "delivered"


async def test_fails_twice_then_lands_with_three_attempts(
    webhook_env: WebhookEnv, receiver: Receiver
):
    receiver.script = [(500, {}), (503, {})]
    await webhook_env.register(receiver.url)
    [event_id] = await _emit(webhook_env)
    webhook_env.dispatcher().start()

    await wait_until(lambda: _delivered(webhook_env, event_id), what="third attempt")

    attempts = await webhook_env.rows(
        "SELECT a.attempt, a.status_code FROM webhook_attempts a "
        "JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.event_id = :e "
        "ORDER BY a.attempt",
        e=event_id,
    )
    assert [(a.attempt, a.status_code) for a in attempts] == [(1, 500), (2, 503), (3, 200)]
    assert (
        await webhook_env.scalar(
            "SELECT attempts FROM webhook_deliveries WHERE event_id = :e", e=event_id
        )
        == 3
    )
    # Retries keep the webhook-id; receivers deduplicate by it.
    assert {r.headers["webhook-id"] for r in receiver.received} == {str(event_id)}
    assert len(receiver.received) == 3


async def test_stopped_mid_delivery_then_delivered_after_restart(
    webhook_env: WebhookEnv, receiver: Receiver
):
    receiver.hold = threading.Event()
    receiver.hold.set()
    await webhook_env.register(receiver.url)
    [event_id] = await _emit(webhook_env)
    first = webhook_env.dispatcher()
    first.start()
    await asyncio.to_thread(receiver.entered.wait, 20)
    assert receiver.entered.is_set(), "the first attempt never reached the receiver"

    await first.stop()  # mid-delivery: the attempt is cancelled and handed back
    receiver.hold.clear()
    receiver.release.set()
    assert await _status(webhook_env, event_id) == "pending"

    webhook_env.dispatcher().start()
    await wait_until(lambda: _delivered(webhook_env, event_id), what="delivery after restart")
    attempts = await webhook_env.rows(
        "SELECT a.attempt, a.status_code, a.error FROM webhook_attempts a "
        "JOIN webhook_deliveries d ON d.id = a.delivery_id ORDER BY a.attempt"
    )
    assert [(a.attempt, a.status_code) for a in attempts] == [(1, None), (2, 200)]
    assert "stopped" in attempts[0].error


async def test_crashed_dispatchers_lease_expires_and_another_delivers(
    webhook_env: WebhookEnv, receiver: Receiver
):
    await webhook_env.register(receiver.url)
    [event_id] = await _emit(webhook_env)
    crashed = webhook_env.dispatcher(webhook_lease_seconds=0.5, webhook_timeout_seconds=0.2)
    [claim] = await crashed.claim(10)  # claimed, then the process "dies": nothing recorded
    assert claim.event_id == event_id

    webhook_env.dispatcher().start()
    await wait_until(lambda: _delivered(webhook_env, event_id), what="delivery after the lease")
    assert (
        await webhook_env.scalar(
            "SELECT attempts FROM webhook_deliveries WHERE event_id = :e", e=event_id
        )
        == 2
    )
    assert len(receiver.received) == 1


async def test_two_dispatchers_never_send_one_attempt_twice(
    webhook_env: WebhookEnv, receiver: Receiver
):
    await webhook_env.register(receiver.url)
    events = await _emit(webhook_env, n=120)
    one = webhook_env.dispatcher(webhook_batch_size=7)
    two = webhook_env.dispatcher(webhook_batch_size=7)
    one.start()
    two.start()

    async def all_delivered() -> bool:
        n = await webhook_env.scalar(
            "SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'"
        )
        return bool(n == len(events))

    await wait_until(all_delivered, within=90, what="all 120 deliveries")
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert sorted(ids) == sorted(str(e) for e in events)  # each exactly once
    assert await webhook_env.scalar("SELECT max(attempts) FROM webhook_deliveries") == 1
    assert one.outcomes["delivered"] + two.outcomes["delivered"] == len(events)


async def test_polling_alone_delivers(webhook_env: WebhookEnv, receiver: Receiver):
    await webhook_env.register(receiver.url)
    webhook_env.dispatcher(webhook_listen=False).start()
    await asyncio.sleep(0.2)  # the dispatcher is idle, waiting for its next poll
    [event_id] = await _emit(webhook_env)
    await wait_until(lambda: _delivered(webhook_env, event_id), what="delivery by polling")


async def test_gone_disables_the_endpoint(webhook_env: WebhookEnv, receiver: Receiver):
    receiver.default = (410, {})
    created = await webhook_env.register(receiver.url)
    [event_id, later] = await _emit(webhook_env, n=2)
    webhook_env.dispatcher(webhook_batch_size=1).start()

    async def disabled() -> bool:
        return not await webhook_env.scalar(
            "SELECT enabled FROM webhook_endpoints WHERE id = :i", i=created.id
        )

    await wait_until(disabled, what="endpoint disabled")
    admin = bearer(await committed_key(webhook_env.app, "admin"))
    async with _client(webhook_env) as http:
        listed = (await http.get("/api/v1/webhooks", headers=admin)).json()["items"]
    assert listed[0]["enabled"] is False
    assert "410" in listed[0]["disabled_reason"]
    assert len(receiver.received) == 1  # nothing more is sent to a disabled endpoint
    assert {await _status(webhook_env, event_id), await _status(webhook_env, later)} == {
        "failed",
        "pending",
    }


async def test_failing_for_the_whole_schedule_disables_with_reason(
    webhook_env: WebhookEnv, receiver: Receiver
):
    receiver.default = (500, {})
    created = await webhook_env.register(receiver.url)
    [event_id] = await _emit(webhook_env)
    webhook_env.dispatcher().start()

    async def failed() -> bool:
        return await _status(webhook_env, event_id) == "failed"

    await wait_until(failed, what="schedule used up")
    reason = await webhook_env.scalar(
        "SELECT disabled_reason FROM webhook_endpoints WHERE id = :i AND NOT enabled",
        i=created.id,
    )
    assert "whole retry schedule" in reason
    assert "HTTP 500" in reason
    assert len(receiver.received) == 4  # the first attempt and three retries


async def test_retry_after_is_honoured(webhook_env: WebhookEnv, receiver: Receiver):
    receiver.script = [(503, {"Retry-After": "120"})]
    await webhook_env.register(receiver.url)
    [event_id] = await _emit(webhook_env)
    webhook_env.dispatcher(webhook_retry_schedule_seconds=[0.05, 600]).start()

    async def retried_later() -> bool:
        return bool(
            await webhook_env.scalar(
                "SELECT attempts = 1 AND lease_until IS NULL FROM webhook_deliveries "
                "WHERE event_id = :e",
                e=event_id,
            )
        )

    await wait_until(retried_later, what="first attempt recorded")
    wait = await webhook_env.scalar(
        "SELECT extract(epoch FROM next_attempt_at - updated_at) FROM webhook_deliveries "
        "WHERE event_id = :e",
        e=event_id,
    )
    assert 119 <= float(wait) <= 121  # the receiver's 120 s, not the schedule's 0.05 s


async def test_rotation_sends_both_signatures(webhook_env: WebhookEnv, receiver: Receiver):
    created = await webhook_env.register(receiver.url)
    async with webhook_env.app.state.sessionmaker() as session:
        rotated = await rotate_secret(
            session, created.id, SecretRotate(grace_seconds=3600), settings=webhook_env.settings
        )
        await session.commit()
    [event_id] = await _emit(webhook_env)
    webhook_env.dispatcher().start()
    await wait_until(lambda: _delivered(webhook_env, event_id), what="delivery")

    [got] = receiver.received
    for secret in (created.secret, rotated.secret):
        Webhook(secret).verify(got.body, got.headers)
        assert _verify_feedback_signature(got.headers["x-feedback-signature"], secret, got.body)
    assert len(got.headers["webhook-signature"].split(" ")) == 2


async def test_manual_retry_redelivers_a_failed_delivery(
    webhook_env: WebhookEnv, receiver: Receiver
):
    receiver.script = [(500, {})] * 4
    created = await webhook_env.register(receiver.url)
    [event_id] = await _emit(webhook_env)
    dispatcher = webhook_env.dispatcher()
    dispatcher.start()
    await wait_until(lambda: _failed(webhook_env, event_id), what="failed delivery")
    delivery_id = await webhook_env.scalar(
        "SELECT id FROM webhook_deliveries WHERE event_id = :e", e=event_id
    )
    # Failing since this delivery's first attempt, the endpoint is disabled: a retry is
    # refused until an operator, having fixed the receiver, enables it again.
    admin = bearer(await committed_key(webhook_env.app, "admin"))
    async with _client(webhook_env) as http:
        path = f"/api/v1/webhooks/{created.id}/deliveries/{delivery_id}/retry"
        refused = await http.post(path, headers=admin)
        assert refused.status_code == 409
        enabled = await http.post(f"/api/v1/webhooks/{created.id}/enable", headers=admin)
        assert enabled.status_code == 200, enabled.text
        assert enabled.json()["enabled"] is True
        assert enabled.json()["disabled_reason"] is None
        queued = await http.post(path, headers=admin)
        assert queued.status_code == 202, queued.text
        assert queued.json()["status"] == "pending"
        await wait_until(lambda: _delivered(webhook_env, event_id), what="manual redelivery")
        listed = await http.get(f"/api/v1/webhooks/{created.id}/deliveries", headers=admin)
    [item] = listed.json()["items"]
    assert item["status"] == "delivered"
    assert item["attempts"] == 5
    assert item["event_id"] == str(event_id)
    assert item["event_type"] == "vote.down"


async def _failed(env: WebhookEnv, event_id: uuid.UUID) -> bool:
    return await _status(env, event_id) == "failed"


async def test_metrics_show_backlog_age_and_outcomes(webhook_env: WebhookEnv, receiver: Receiver):
    receiver.script = [(500, {})]
    await webhook_env.register(receiver.url)
    [event_id] = await _emit(webhook_env)
    # No LISTEN and no poll within the test: it only acts on its own start and retries.
    dispatcher = webhook_env.dispatcher(webhook_listen=False, webhook_poll_seconds=3600)
    webhook_env.app.state.webhooks = dispatcher
    dispatcher.start()
    await wait_until(lambda: _delivered(webhook_env, event_id), what="delivery")
    await _emit(webhook_env, n=2)  # stays pending: nothing wakes the dispatcher
    dispatcher._stats_at = None  # refresh now
    await dispatcher._refresh_stats()

    async with _client(webhook_env) as http:
        text = (await http.get("/metrics")).text
    assert "webhook_outbox_backlog 2.0" in text
    assert "webhook_outbox_oldest_age_seconds" in text
    assert 'webhook_delivery_attempts_total{outcome="delivered"} 1.0' in text
    assert 'webhook_delivery_attempts_total{outcome="retry"} 1.0' in text


def _client(env: WebhookEnv) -> Any:
    import httpx

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=env.app), base_url="http://test")


async def test_enabling_a_disabled_endpoint_delivers_its_pending_deliveries(
    webhook_env: WebhookEnv, receiver: Receiver
):
    receiver.script = [(410, {})]
    created = await webhook_env.register(receiver.url)
    [gone, waiting] = await _emit(webhook_env, n=2)
    webhook_env.dispatcher(webhook_batch_size=1).start()

    async def disabled() -> bool:
        return not await webhook_env.scalar(
            "SELECT enabled FROM webhook_endpoints WHERE id = :i", i=created.id
        )

    await wait_until(disabled, what="410 disabling the endpoint")
    admin = bearer(await committed_key(webhook_env.app, "admin"))
    async with _client(webhook_env) as http:
        enabled = await http.post(f"/api/v1/webhooks/{created.id}/enable", headers=admin)
    assert enabled.status_code == 200
    # The event still owed is the one the 410 did not fail (the dispatcher may already be
    # delivering it, so it is found by elimination, not by a "pending" status).
    [pending] = [e for e in (gone, waiting) if await _status(webhook_env, e) != "failed"]
    await wait_until(lambda: _delivered(webhook_env, pending), what="the pending delivery")
    assert {await _status(webhook_env, gone), await _status(webhook_env, waiting)} == {
        "failed",
        "delivered",
    }
