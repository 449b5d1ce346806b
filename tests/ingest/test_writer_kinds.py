"""Routing metrics and feedback, cache hits and ratings on the group-commit writer
(`app/writer.py`): acknowledged means committed, a failing request fails alone even when it
shares a batch, a metrics request is one unit, and a token's ratings stay one rating.

The "one batch" tests submit straight to the writer (as the vote tests do) and read the
writer's own batch-size histogram, so they prove the requests really shared a transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from app.cache.flagging import FlagRule
from app.cache.ingest import HITS, RATINGS, Rating
from app.cache.schemas import CacheFeedbackCreate
from app.errors import render_error
from app.routing.ingest import FEEDBACK, METRICS
from app.routing.schemas import RoutingFeedbackIn, RoutingMetricIn
from app.routing.service import prepare_batch
from app.writer import GroupWriter, Written
from tests.conftest import DatabaseFactory, app_on_own_database, bearer, committed_key

METRICS_URL = "/api/v1/routing/metrics"
FEEDBACK_URL = "/api/v1/routing/feedback"
ENTRIES = "/api/v1/cache/entries"


def metric(request_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "strategy_used": "hybrid",
        "selected_provider": "openai",
        "selected_model": "gpt-4o-mini",
        "actual_cost": 0.001,
        "baseline_cost": 0.002,
        "latency_ms": 120,
        **fields,
    }


def metric_in(request_id: str, **fields: Any) -> RoutingMetricIn:
    return RoutingMetricIn.model_validate(metric(request_id, **fields))


@pytest.fixture
async def batching(databases: DatabaseFactory) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app with real commits whose writer waits 50 ms for a batch to fill."""
    async with app_on_own_database(
        databases, writer_max_delay_ms=50, db_pool_timeout_seconds=60
    ) as pair:
        yield pair


def _batches(writer: GroupWriter) -> tuple[float, float]:
    """(batches written, rows in them) so far, from the writer's histogram."""
    [family] = writer.metrics.batch_size.collect()
    samples = {s.name: s.value for s in family.samples}
    return samples["writer_batch_rows_count"], samples["writer_batch_rows_sum"]


def _status(outcome: Written | BaseException) -> int:
    if isinstance(outcome, Written):
        return outcome.status_code
    response = render_error(outcome, retry_after_seconds=1)
    assert response is not None, repr(outcome)
    return response.status_code


async def _scalar(app: FastAPI, sql: str, **params: Any) -> Any:
    # Another connection: it sees only what was committed.
    async with app.state.engine.connect() as conn:
        return await conn.scalar(sa.text(sql), params)


async def _entry(http: httpx.AsyncClient, headers: dict[str, str], key: str) -> None:
    body = {"cache_key": key, "provider": "openai", "model": "gpt-4o", "cost_usd": 0.01}
    response = await http.post(ENTRIES, json=body, headers=headers)
    assert response.status_code == 201, response.text


async def test_every_acknowledged_write_of_each_kind_is_committed(batching) -> None:
    app, http = batching
    key = bearer(await committed_key(app))
    await _entry(http, key, "k-ack")
    batches = [
        {"items": [metric(f"b{b}-{i}", user_id=100 + i) for i in range(50)]} for b in range(6)
    ]
    singles = [metric(f"s-{i}") for i in range(20)]
    answered = await asyncio.gather(
        *(http.post(METRICS_URL, json=body, headers=key) for body in [*batches, *singles])
    )
    assert [r.status_code for r in answered] == [201] * 26
    metric_ids = {i for r in answered for i in r.json()["ids"]}
    assert len(metric_ids) == 6 * 50 + 20
    writes = await asyncio.gather(
        *(
            http.post(
                FEEDBACK_URL, json={"request_id": f"s-{i}", "quality_score": 0.5}, headers=key
            )
            for i in range(20)
        ),
        *(http.post(f"{ENTRIES}/k-ack/hits", headers=key) for _ in range(30)),
        *(
            http.post(f"{ENTRIES}/k-ack/feedback", json={"rating": 4}, headers=key)
            for _ in range(10)
        ),
    )
    assert [r.status_code for r in writes] == [201] * 20 + [204] * 30 + [201] * 10
    assert all(r.content == b"" for r in writes[20:50])
    feedback_ids = {r.json()["id"] for r in writes[:20]}
    rating_ids = {r.json()["id"] for r in writes[50:]}
    async with app.state.engine.connect() as conn:
        stored_metrics = set(
            map(str, await conn.scalars(sa.text("SELECT id FROM routing_metrics")))
        )
        stored_feedback = set(
            map(str, await conn.scalars(sa.text("SELECT id FROM routing_feedback")))
        )
        stored_ratings = set(map(str, await conn.scalars(sa.text("SELECT id FROM cache_feedback"))))
        hits = await conn.scalar(sa.text("SELECT hit_count FROM response_cache"))
        users = await conn.scalar(
            sa.text("SELECT count(*) FROM users WHERE id BETWEEN 100 AND 149")
        )
        # The statement triggers saw the multi-row INSERTs: the rollups count every row.
        rolled = await conn.scalar(
            sa.text("SELECT sum(requests) FROM routing_rollups WHERE grain = 'd'")
        )
    assert stored_metrics == metric_ids
    assert stored_feedback == feedback_ids
    assert stored_ratings == rating_ids
    assert hits == 30
    assert users == 50
    assert rolled == 6 * 50 + 20


async def test_a_conflicting_metrics_request_fails_alone_in_a_shared_batch(batching) -> None:
    app, http = batching
    key = bearer(await committed_key(app))
    stored = await http.post(METRICS_URL, json=metric("req-stored", latency_ms=1), headers=key)
    assert stored.status_code == 201
    writer: GroupWriter = app.state.writer
    before = _batches(writer)
    payloads = [
        [metric_in("a-1"), metric_in("a-2", user_id=501)],
        # A 1000-item request is one unit: its last item conflicts, so none of it is stored.
        [*(metric_in(f"b-{i}", user_id=502) for i in range(999)), metric_in("req-stored")],
        [metric_in("c-1")],
        [metric_in("a-1")],  # an identical re-send of a row this batch creates: 200
        [metric_in("a-2", latency_ms=7)],  # the same request_id, another body: 409
    ]
    outcomes = await asyncio.gather(
        *(writer.submit(METRICS, prepare_batch(p), claim=None) for p in payloads),
        return_exceptions=True,
    )
    assert _batches(writer) == (before[0] + 1, before[1] + len(payloads))  # one batch
    assert [_status(o) for o in outcomes] == [201, 409, 201, 200, 409]
    conflict = outcomes[1]
    assert isinstance(conflict, Exception)
    assert "body differs" in str(conflict)
    resent = outcomes[3]
    assert isinstance(resent, Written)
    first = outcomes[0]
    assert isinstance(first, Written)
    assert resent.body.decode().count('"created":false') == 1
    stored_ids = await _scalar(
        app, "SELECT array_agg(request_id ORDER BY request_id) FROM routing_metrics"
    )
    assert stored_ids == ["a-1", "a-2", "c-1", "req-stored"]
    assert await _scalar(app, "SELECT count(*) FROM users WHERE id = 502") == 0
    assert (
        await _scalar(app, "SELECT latency_ms FROM routing_metrics WHERE request_id = 'a-2'") == 120
    )


async def test_unknown_references_fail_alone_in_a_shared_batch(batching) -> None:
    app, http = batching
    key = bearer(await committed_key(app))
    assert (await http.post(METRICS_URL, json=metric("known"), headers=key)).status_code == 201
    await _entry(http, key, "k-known")
    writer: GroupWriter = app.state.writer

    def feedback(request_id: str, user_id: int) -> RoutingFeedbackIn:
        return RoutingFeedbackIn(request_id=request_id, quality_score=0.9, user_id=user_id)

    before = _batches(writer)
    outcomes = await asyncio.gather(
        writer.submit(FEEDBACK, feedback("known", 601), claim=None),
        writer.submit(FEEDBACK, feedback("unknown", 602), claim=None),
        writer.submit(HITS, "k-known", claim=None),
        writer.submit(HITS, "k-unknown", claim=None),
        writer.submit(FEEDBACK, feedback("known", 603), claim=None),
        writer.submit(HITS, "k-known", claim=None),
        return_exceptions=True,
    )
    assert _batches(writer) == (before[0] + 1, before[1] + 6)
    assert [_status(o) for o in outcomes] == [201, 404, 204, 404, 201, 204]
    assert await _scalar(app, "SELECT count(*) FROM routing_feedback") == 2
    registered = await _scalar(app, "SELECT array_agg(id ORDER BY id) FROM users WHERE id > 600")
    assert registered == [601, 603]  # the failing row's user went with it
    assert await _scalar(app, "SELECT hit_count FROM response_cache") == 2
    assert await _scalar(app, "SELECT sum(hits) FROM cache_hit_days") == 2


async def test_a_tokens_ratings_in_one_batch_stay_one_rating(batching) -> None:
    app, http = batching
    key = bearer(await committed_key(app))
    await _entry(http, key, "k-rater")
    rule = FlagRule(min_ratings=3, good_share_upper_bound=0.5)
    writer: GroupWriter = app.state.writer

    def rating(value: int, rater: str | None) -> Rating:
        return Rating(
            cache_key="k-rater",
            payload=CacheFeedbackCreate(rating=value),
            user_id=None,
            user_agent="test",
            rule=rule,
            rater=rater,
        )

    before = _batches(writer)
    # One token rates five times (the last one, 5, is its rating), another token once.
    ratings = [rating(v, "token:one") for v in (1, 1, 1, 2, 5)] + [rating(1, "token:two")]
    outcomes = await asyncio.gather(*(writer.submit(RATINGS, r, claim=None) for r in ratings))
    assert _batches(writer) == (before[0] + 1, before[1] + 6)
    assert [o.status_code for o in outcomes] == [201] * 6
    assert all(b'"entry_status":"active"' in o.body for o in outcomes)  # two raters < 3
    async with app.state.engine.connect() as conn:
        tally = (
            await conn.execute(
                sa.text("SELECT rating_count, rating_sum, good_count, status FROM response_cache")
            )
        ).one()
        current = (
            await conn.execute(
                sa.text(
                    "SELECT rater, rating FROM cache_feedback WHERE superseded_at IS NULL "
                    "ORDER BY rater"
                )
            )
        ).all()
        history = await conn.scalar(sa.text("SELECT count(*) FROM cache_feedback"))
    assert tuple(tally) == (2, 6, 1, "active")
    assert [tuple(r) for r in current] == [("token:one", 5), ("token:two", 1)]
    assert history == 6


async def test_idempotency_keys_on_the_writer_routes(batching) -> None:
    app, http = batching
    key = bearer(await committed_key(app))
    await _entry(http, key, "k-idem")
    body = {"items": [metric("idem-1", user_id=701), metric("idem-2")]}
    headers = {**key, "Idempotency-Key": "metrics-1"}
    first, again = [await http.post(METRICS_URL, json=body, headers=headers) for _ in range(2)]
    other = await http.post(METRICS_URL, json={"items": [metric("idem-3")]}, headers=headers)
    assert (first.status_code, again.status_code, other.status_code) == (201, 201, 409)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    owners = await _scalar(
        app, "SELECT owner_user_ids FROM idempotency_keys WHERE key = 'metrics-1'"
    )
    assert owners == [701]
    hit_headers = {**key, "Idempotency-Key": "hit-1"}
    hits = await asyncio.gather(
        *(http.post(f"{ENTRIES}/k-idem/hits", headers=hit_headers) for _ in range(5))
    )
    assert [r.status_code for r in hits] == [204] * 5
    assert await _scalar(app, "SELECT hit_count FROM response_cache") == 1
    assert await _scalar(app, "SELECT count(*) FROM routing_metrics") == 2
