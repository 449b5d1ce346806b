"""GET /api/v1/analytics/calibration on a hand-made dataset, its window rules, and the
admin-only access of both quality routes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import Scope
from tests.conftest import KeyMaker, bearer
from tests.quality.conftest import Cast, Reviewed

CALIBRATION = "/api/v1/analytics/calibration"
A, B, C, D, E, F = (uuid.UUID(int=n) for n in range(1, 7))


async def backdate_reviews(db: AsyncSession, query_id: uuid.UUID, days: float) -> None:
    # Reviews posted in one test transaction share now(); move them apart explicitly.
    await db.execute(
        sa.text(
            "UPDATE expert_feedback SET created_at = now() - make_interval(secs => :s) "
            "WHERE query_id = :q"
        ),
        {"s": days * 86_400, "q": query_id},
    )
    await db.commit()


@pytest.fixture
async def dataset(cast: Cast, reviewed: Reviewed, db: AsyncSession) -> None:
    # A: two down votes and one up; reviewed correct 2 days ago, then incorrect (latest).
    await cast("a1", "down", A, reasons=["outdated"])
    await cast("a2", "down", A, reasons=["outdated", "vague"])
    await cast("a3", "up", A)
    await reviewed(A, "correct")
    await backdate_reviews(db, A, 2)
    await reviewed(A, "incorrect")
    # B: b2 switched from a down vote ("outdated") to up, so only b1's reason counts.
    await cast("b1", "down", B, reasons=["vague"])
    await cast("b2", "down", B, reasons=["outdated"])
    await cast("b2", "up", B)
    await reviewed(B, "incomplete")
    # C: two up votes, judged correct.
    await cast("c1", "up", C)
    await cast("c2", "up", C)
    await reviewed(C, "correct")
    # D: votes but no verdict; E: a verdict but no votes. Neither counts.
    await cast("d1", "down", D, reasons=["outdated"])
    await reviewed(E, "incorrect")
    # F: judged incorrect 40 days ago: outside the default 30-day window.
    await cast("f1", "down", F, reasons=["outdated"])
    await reviewed(F, "incorrect")
    await backdate_reviews(db, F, 40)


async def get(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> Any:
    response = await client.get(CALIBRATION, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.usefixtures("dataset")
async def test_counts_on_a_hand_made_dataset(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = await get(client, admin_headers)
    assert body["answers"] == 3  # A, B, C
    assert body["votes"] == {
        "up": {"correct": 2, "incomplete": 1, "incorrect": 1},
        "down": {"correct": 0, "incomplete": 1, "incorrect": 2},
    }
    assert body["reasons"] == [
        {"reason": "vague", "sample_size": 2, "incorrect_share": 0.5, "incomplete_share": 0.5},
        {"reason": "outdated", "sample_size": 1, "incorrect_share": 1.0, "incomplete_share": 0.0},
    ]
    to = dt.datetime.fromisoformat(body["to"])
    assert to - dt.datetime.fromisoformat(body["from"]) == dt.timedelta(days=30)
    assert abs(to - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


@pytest.mark.usefixtures("dataset")
async def test_window_selects_by_latest_verdict(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    now = dt.datetime.now(dt.UTC)
    old = await get(
        client,
        admin_headers,
        **{
            "from": (now - dt.timedelta(days=45)).isoformat(),
            "to": (now - dt.timedelta(days=35)).isoformat(),
        },
    )
    assert old["answers"] == 1  # F only
    assert old["votes"]["down"] == {"correct": 0, "incomplete": 0, "incorrect": 1}
    assert old["reasons"] == [
        {"reason": "outdated", "sample_size": 1, "incorrect_share": 1.0, "incomplete_share": 0.0}
    ]
    # A's earlier "correct" verdict (2 days ago) is not its latest: a window holding only
    # that moment counts nothing for A.
    earlier = await get(
        client,
        admin_headers,
        **{
            "from": (now - dt.timedelta(days=3)).isoformat(),
            "to": (now - dt.timedelta(days=1)).isoformat(),
        },
    )
    assert earlier["answers"] == 0
    assert earlier["reasons"] == []
    top = await get(client, admin_headers, top=1)
    assert [r["reason"] for r in top["reasons"]] == ["vague"]


async def test_bad_windows_are_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    for params in (
        {"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"},
        {"to": "1960-01-01T00:00:00Z"},
        {"from": "2026-11-01T00:00:00"},
        {"top": 0},
    ):
        response = await client.get(CALIBRATION, params=params, headers=admin_headers)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["errors"], response.text


async def test_empty_calibration(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    body = await get(
        client, admin_headers, **{"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}
    )
    assert body["answers"] == 0
    assert body["votes"]["up"] == {"correct": 0, "incomplete": 0, "incorrect": 0}
    assert body["from"].startswith("2026-01-01T00:00:00")


@pytest.mark.parametrize("path", ["/api/v1/review-queue", CALIBRATION])
async def test_admin_only(client: httpx.AsyncClient, make_key: KeyMaker, path: str) -> None:
    assert (await client.get(path)).status_code == 401
    assert (await client.get(path, headers=bearer("fbk_unknown"))).status_code == 401
    for scope in (Scope.ingest,):
        response = await client.get(path, headers=bearer(await make_key(scope)))
        assert response.status_code == 403, response.text
    response = await client.get(path, headers=bearer(await make_key(Scope.admin)))
    assert response.status_code == 200


def test_openapi_documents_fields_and_statuses(app: Any) -> None:
    spec = app.openapi()
    for path in ("/api/v1/review-queue", CALIBRATION):
        operation = spec["paths"][path]["get"]
        assert {"200", "401", "403", "422", "429", "503"} <= set(operation["responses"])
        assert "current" in operation["description"]
    for name in (
        "ReviewQueueItem",
        "ReasonTally",
        "Calibration",
        "VoteVerdictMatrix",
        "VerdictCounts",
        "ReasonCalibration",
    ):
        for prop, schema in spec["components"]["schemas"][name]["properties"].items():
            assert schema.get("description"), (name, prop)
            assert schema.get("examples") or schema.get("example") is not None, (name, prop)


async def test_calibration_reads_only_the_signals_in_its_window(db: AsyncSession) -> None:
    from app.quality.service import calibration_statement

    now = dt.datetime.now(dt.UTC)
    stmt = calibration_statement(start=now - dt.timedelta(days=30), end=now, top=50, explain=True)
    await db.execute(sa.text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(r[0] for r in (await db.execute(stmt)).all())
    assert "ix_query_signals_verdict_at" in plan
    assert " votes" not in plan
    assert "query_current_votes" not in plan
