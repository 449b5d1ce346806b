"""POST /api/v1/routing/metrics: validation, generated columns, batches, idempotency, auth."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.conftest import count_rows
from tests.routing.conftest import METRICS, metric, post_metrics


async def stored(db: AsyncSession, request_id: str) -> Any:
    result = await db.execute(
        text("SELECT * FROM routing_metrics WHERE request_id = :r"), {"r": request_id}
    )
    return result.one()


def fields_of(response: httpx.Response) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]


# --- single metric, generated columns ---------------------------------------------------


async def test_single_metric_stored_with_every_field(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], db: AsyncSession
) -> None:
    body = metric(
        "req-full",
        strategy_used="learning",
        confidence="medium",
        baseline_provider="openai",
        baseline_model="gpt-4o",
        baseline_cost=0.0125,
        actual_cost=0.0011,
        pattern_detected="tax_question",
        complexity_score=0.42,
        experimental=True,
        fallback_used=True,
        fallback_reason="timeout",
        latency_ms=812,
        prompt_tokens=950,
        completion_tokens=210,
        cache_hit=True,
        cache_key="ck-1",
        user_id=4211,
        session_id="sess-1",
    )
    response = await client.post(METRICS, json=body, headers=ingest_headers)
    assert response.status_code == 201, response.text
    payload = response.json()
    assert len(payload["ids"]) == 1
    # 0.0125 - 0.0011 = 0.0114; 0.0114 * 100 / 0.0125 = 91.2
    assert payload["items"] == [
        {
            "id": payload["ids"][0],
            "request_id": "req-full",
            "created": True,
            "cost_savings": pytest.approx(0.0114),
            "savings_percentage": pytest.approx(91.2),
        }
    ]
    row = await stored(db, "req-full")
    assert str(row.id) == payload["ids"][0]
    assert row.strategy_used == "learning"
    assert row.confidence == "medium"
    assert row.cost_savings == Decimal("0.011400")
    assert row.savings_percentage == Decimal("91.2000")
    assert (row.latency_ms, row.prompt_tokens, row.completion_tokens) == (812, 950, 210)
    assert (row.experimental, row.fallback_used, row.cache_hit) == (True, True, True)
    assert (row.fallback_reason, row.cache_key, row.user_id, row.session_id) == (
        "timeout",
        "ck-1",
        4211,
        "sess-1",
    )
    assert await count_rows(db, "users WHERE id = 4211") == 1


@pytest.mark.parametrize(
    ("baseline", "actual", "savings", "percentage"),
    [
        (None, 0.002, None, None),  # no baseline: savings unknown
        (0, 0.002, Decimal("-0.002000"), None),  # zero baseline: no percentage
        (0, 0, Decimal("0.000000"), None),
        (0.004, 0.004, Decimal("0.000000"), Decimal("0.0000")),  # zero savings
        (0.001, 0.003, Decimal("-0.002000"), Decimal("-200.0000")),  # costlier than baseline
        (0.003, 0, Decimal("0.003000"), Decimal("100.0000")),
    ],
)
async def test_generated_cost_columns(
    client: httpx.AsyncClient,
    ingest_headers: dict[str, str],
    db: AsyncSession,
    baseline: float | None,
    actual: float,
    savings: Decimal | None,
    percentage: Decimal | None,
) -> None:
    body = metric("req-gen", actual_cost=actual)
    if baseline is not None:
        body["baseline_cost"] = baseline
    response = await client.post(METRICS, json=body, headers=ingest_headers)
    assert response.status_code == 201, response.text
    item = response.json()["items"][0]
    row = await stored(db, "req-gen")
    assert row.cost_savings == savings
    assert row.savings_percentage == percentage
    assert item["cost_savings"] == (None if savings is None else float(savings))
    assert item["savings_percentage"] == (None if percentage is None else float(percentage))


async def test_missing_actual_cost_defaults_to_zero(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], db: AsyncSession
) -> None:
    await post_metrics(client, ingest_headers, [metric("req-free", baseline_cost=0.01)])
    row = await stored(db, "req-free")
    assert row.actual_cost == Decimal("0")
    assert row.savings_percentage == Decimal("100.0000")


async def test_costs_rounded_to_column_precision(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], db: AsyncSession
) -> None:
    await post_metrics(client, ingest_headers, [metric("req-round", actual_cost=0.1 + 0.2)])
    assert (await stored(db, "req-round")).actual_cost == Decimal("0.300000")
    # the same float again is the same body
    again = await client.post(
        METRICS, json=metric("req-round", actual_cost=0.1 + 0.2), headers=ingest_headers
    )
    assert again.status_code == 200  # nothing created: as cache entries answer a re-send
    assert again.json()["items"][0]["created"] is False


@pytest.mark.parametrize("field", ["cost_savings", "savings_percentage"])
async def test_computed_columns_refused_from_clients(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], db: AsyncSession, field: str
) -> None:
    single = await client.post(
        METRICS, json=metric("req-x", **{field: 1.0}), headers=ingest_headers
    )
    assert single.status_code == 422
    assert single.headers["content-type"].startswith("application/problem+json")
    assert fields_of(single) == [field]
    batch = await client.post(
        METRICS,
        json={"items": [metric("req-a"), metric("req-b", **{field: 1.0})]},
        headers=ingest_headers,
    )
    assert batch.status_code == 422
    assert fields_of(batch) == [f"items.1.{field}"]
    assert await count_rows(db, "routing_metrics") == 0


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"strategy_used": "random"}, "strategy_used"),
        ({"confidence": "certain"}, "confidence"),
        ({"complexity_score": 1.5}, "complexity_score"),
        ({"complexity_score": -0.1}, "complexity_score"),
        ({"actual_cost": -1}, "actual_cost"),
        ({"baseline_cost": -0.5}, "baseline_cost"),
        ({"actual_cost": 1e9}, "actual_cost"),
        ({"latency_ms": -3}, "latency_ms"),
        ({"prompt_tokens": 2**31}, "prompt_tokens"),
        ({"request_id": ""}, "request_id"),
        ({"request_id": "x" * 201}, "request_id"),
        ({"selected_provider": "open\u0000ai"}, "selected_provider"),
        ({"user_id": 0}, "user_id"),
        ({"unknown_field": 1}, "unknown_field"),
    ],
)
async def test_invalid_metric_422_names_the_field(
    client: httpx.AsyncClient,
    ingest_headers: dict[str, str],
    override: dict[str, Any],
    field: str,
) -> None:
    response = await client.post(
        METRICS, json={**metric("req-bad"), **override}, headers=ingest_headers
    )
    assert response.status_code == 422, response.text
    assert field in fields_of(response)


async def test_missing_required_fields_422(
    client: httpx.AsyncClient, ingest_headers: dict[str, str]
) -> None:
    response = await client.post(METRICS, json={"request_id": "r"}, headers=ingest_headers)
    assert response.status_code == 422
    assert set(fields_of(response)) == {"strategy_used", "selected_provider", "selected_model"}
    not_an_object = await client.post(METRICS, json=[1, 2], headers=ingest_headers)
    assert not_an_object.status_code == 422
    assert fields_of(not_an_object) == ["body"]
    bad_items = await client.post(METRICS, json={"items": 5}, headers=ingest_headers)
    assert bad_items.status_code == 422
    assert fields_of(bad_items) == ["items"]


# --- batches ----------------------------------------------------------------------------


async def test_batch_ids_in_item_order(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], db: AsyncSession
) -> None:
    names = ["req-c", "req-a", "req-b"]
    ids = await post_metrics(client, ingest_headers, [metric(n) for n in names])
    for name, id_ in zip(names, ids, strict=True):
        assert str((await stored(db, name)).id) == id_
    assert await count_rows(db, "routing_metrics") == 3


async def test_batch_with_one_bad_item_stores_nothing(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], db: AsyncSession
) -> None:
    items = [metric(f"req-{i}") for i in range(5)]
    items[3]["confidence"] = "sure"
    response = await client.post(METRICS, json={"items": items}, headers=ingest_headers)
    assert response.status_code == 422
    assert fields_of(response) == ["items.3.confidence"]
    assert await count_rows(db, "routing_metrics") == 0


@pytest.mark.parametrize("size", [0, 1001])
async def test_batch_size_limits(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], db: AsyncSession, size: int
) -> None:
    items = [
        {
            "request_id": f"r{i}",
            "strategy_used": "learning",
            "selected_provider": "p",
            "selected_model": "m",
        }
        for i in range(size)
    ]
    response = await client.post(METRICS, json={"items": items}, headers=ingest_headers)
    assert response.status_code == 422
    assert fields_of(response) == ["items"]
    assert await count_rows(db, "routing_metrics") == 0


async def test_batch_of_1000_is_one_insert_statement(
    client: httpx.AsyncClient,
    ingest_headers: dict[str, str],
    db: AsyncSession,
    engine: AsyncEngine,
) -> None:
    items = [
        metric(
            f"req-{i:04d}",
            actual_cost=0.001,
            baseline_cost=0.002,
            complexity_score=(i % 10) / 10,
            latency_ms=i,
            user_id=1 + i % 37,
        )
        for i in range(1000)
    ]
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        response = await client.post(METRICS, json={"items": items}, headers=ingest_headers)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert response.status_code == 201, response.text
    assert len(response.json()["ids"]) == 1000
    inserts = [
        s for s in statements if s.lstrip().upper().startswith("INSERT INTO ROUTING_METRICS")
    ]
    user_inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO USERS")]
    assert len(inserts) == 1
    assert len(user_inserts) == 1
    # key lookup, savepoint bookkeeping, users, metrics: a constant handful, not ~1000
    assert len(statements) <= 10, statements
    assert await count_rows(db, "routing_metrics") == 1000
    assert await count_rows(db, "users") >= 37
    # the same 1000 again: still constant (plus one SELECT of the stored rows)
    statements.clear()
    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        again = await client.post(METRICS, json={"items": items}, headers=ingest_headers)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert again.status_code == 200
    assert again.json()["ids"] == response.json()["ids"]
    assert len(statements) <= 11, statements
    assert await count_rows(db, "routing_metrics") == 1000


# --- idempotency and conflicts -------------------------------------------------------------


async def test_identical_resend_is_idempotent(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], db: AsyncSession
) -> None:
    body = metric("req-same", actual_cost=0.5, user_id=9)
    first = await client.post(METRICS, json=body, headers=ingest_headers)
    # explicit defaults are the same body as omitted ones
    second = await client.post(
        METRICS, json={**body, "experimental": False, "confidence": None}, headers=ingest_headers
    )
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["ids"] == second.json()["ids"]
    assert first.json()["items"][0]["created"] is True
    assert second.json()["items"][0]["created"] is False
    assert await count_rows(db, "routing_metrics") == 1


async def test_resend_inside_a_batch_with_new_items(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], db: AsyncSession
) -> None:
    [old_id] = await post_metrics(client, ingest_headers, [metric("req-old")])
    ids = await post_metrics(client, ingest_headers, [metric("req-new"), metric("req-old")])
    assert ids[1] == old_id
    assert ids[0] != old_id
    assert await count_rows(db, "routing_metrics") == 2


async def test_different_body_409_names_request_id_and_stores_nothing(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], db: AsyncSession
) -> None:
    await post_metrics(client, ingest_headers, [metric("req-1", actual_cost=0.5)])
    response = await client.post(
        METRICS,
        json={
            "items": [
                metric("req-2", user_id=77),
                metric("req-1", actual_cost=0.6),
                metric("req-3"),
            ]
        },
        headers=ingest_headers,
    )
    assert response.status_code == 409
    problem = response.json()
    assert problem["status"] == 409
    assert "req-1" in problem["detail"]
    assert problem["request_ids"] == ["req-1"]
    # Only that the body differs: the stored body may be someone else's.
    assert "conflicts" not in problem
    assert "actual_cost" not in response.text
    assert "body differs" in problem["detail"]
    # the batch's other items (and its user) were rolled back
    assert await count_rows(db, "routing_metrics") == 1
    assert await count_rows(db, "users WHERE id = 77") == 0
    assert (await stored(db, "req-1")).actual_cost == Decimal("0.500000")


async def test_duplicate_request_id_within_batch(
    client: httpx.AsyncClient, ingest_headers: dict[str, str], db: AsyncSession
) -> None:
    same = await client.post(
        METRICS, json={"items": [metric("dup"), metric("dup")]}, headers=ingest_headers
    )
    assert same.status_code == 201
    ids = same.json()["ids"]
    assert ids[0] == ids[1]
    assert await count_rows(db, "routing_metrics") == 1

    different = await client.post(
        METRICS,
        json={"items": [metric("dup2"), metric("x"), metric("dup2", latency_ms=5)]},
        headers=ingest_headers,
    )
    assert different.status_code == 422
    assert fields_of(different) == ["items.2.request_id"]
    assert "items.0" in different.json()["errors"][0]["message"]
    assert await count_rows(db, "routing_metrics") == 1


# --- auth ---------------------------------------------------------------------------------


async def test_metrics_auth(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    conversation_token_headers: dict[str, str],
) -> None:
    body = metric("req-auth")
    assert (await client.post(METRICS, json=body)).status_code == 401
    unknown = {"Authorization": "Bearer fbk_nope_nope"}
    assert (await client.post(METRICS, json=body, headers=unknown)).status_code == 401
    assert (
        await client.post(METRICS, json=body, headers=conversation_token_headers)
    ).status_code == 403
    assert (await client.post(METRICS, json=body, headers=admin_headers)).status_code == 201
