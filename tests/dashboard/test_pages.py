"""Each dashboard page shows the numbers the JSON API answers for the same window (the
pages call the same service functions), and its forms act like the API's routes."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.demo_data import DEMO_WEBHOOK_URL
from tests.conftest import bearer
from tests.dashboard.helpers import chart_spec, csrf_token, page_tables, sign_in

TODAY = dt.datetime.now(dt.UTC).date()
# Full timestamps: the API on this branch still refuses bare dates (the shared window
# module being written elsewhere adds them); the dashboard accepts both (tested below).
WINDOW = {
    "from": f"{TODAY - dt.timedelta(days=30)}T00:00:00Z",
    "to": f"{TODAY + dt.timedelta(days=1)}T00:00:00Z",
}


@pytest.fixture
async def admin(http: httpx.AsyncClient, demo_admin_key: str) -> httpx.AsyncClient:
    """Signed in; `api()` calls go with the same key as a bearer."""
    assert (await sign_in(http, demo_admin_key)).status_code == 303
    return http


async def api(http: httpx.AsyncClient, key: str, path: str, **params: Any) -> Any:
    response = await http.get(f"/api/v1{path}", params=params, headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()


def _t(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def _series_rows(series: list[dict[str, Any]]) -> list[list[Any]]:
    return [[_t(p["bucket_start"]), p["up"], p["down"], p["satisfaction"]] for p in series]


def _page_series(rows: list[list[Any]]) -> list[list[Any]]:
    return [[_t(r[0]), *r[1:]] for r in rows]


async def test_overview_numbers_equal_the_api(
    admin: httpx.AsyncClient, demo_admin_key: str
) -> None:
    page = await admin.get("/dashboard", params={**WINDOW, "bucket": "day"})
    assert page.status_code == 200
    tables, values = page_tables(page.text)
    votes = await api(admin, demo_admin_key, "/analytics/votes", **WINDOW, bucket="day")
    cache = await api(admin, demo_admin_key, "/analytics/cache", **WINDOW)
    experts = await api(admin, demo_admin_key, "/analytics/experts", **WINDOW)
    models = await api(admin, demo_admin_key, "/analytics/routing", **WINDOW, group_by="model")

    assert votes["totals"]["up"] + votes["totals"]["down"] > 0  # the demo data is there
    assert values["satisfaction"] == votes["totals"]["satisfaction"]
    assert values["votes_up"] == votes["totals"]["up"]
    assert values["votes_down"] == votes["totals"]["down"]
    assert values["cache_hits"] == cache["hits"]
    assert values["cost_saved_usd"] == cache["cost_saved_usd"]
    assert values["flagged_count"] == cache["flagged_count"]
    assert values["pending_candidates"] == experts["candidates_by_status"]["pending"]
    assert _page_series(tables["satisfaction"]) == _series_rows(votes["series"])
    assert tables["quality-cost"] == [
        [g["key"], g["provider"], g["requests"], g["avg_quality"], g["avg_cost"]]
        for g in models["groups"]
    ]
    # The chart draws the same series as the table.
    spec = chart_spec(page.text, "satisfaction")
    assert spec["x"] == [_t(p["bucket_start"]).timestamp() for p in votes["series"]]
    assert spec["series"][0]["values"] == [
        None if p["satisfaction"] is None else round(p["satisfaction"] * 100, 2)
        for p in votes["series"]
    ]
    assert values["review_queue"] == len(await _whole_review_queue(admin, demo_admin_key))
    assert values["review_queue"] > 0
    assert "not yet available" not in page.text


async def test_votes_page_equals_the_api(admin: httpx.AsyncClient, demo_admin_key: str) -> None:
    page = await admin.get("/dashboard/votes", params={**WINDOW, "bucket": "week"})
    tables, values = page_tables(page.text)
    votes = await api(admin, demo_admin_key, "/analytics/votes", **WINDOW, bucket="week")
    assert values == {
        "up": votes["totals"]["up"],
        "down": votes["totals"]["down"],
        "satisfaction": votes["totals"]["satisfaction"],
    }
    assert _page_series(tables["votes-series"]) == _series_rows(votes["series"])
    assert tables["top-reasons"] == [[r["reason"], r["count"]] for r in votes["top_reasons"]]
    assert len(votes["top_reasons"]) > 0
    spec = chart_spec(page.text, "votes-series")
    assert spec["series"][0]["values"] == [p["up"] for p in votes["series"]]
    assert spec["series"][1]["values"] == [p["down"] for p in votes["series"]]
    assert spec["y_label"] == "Votes (count)"


async def test_votes_page_shows_a_conversations_history(
    admin: httpx.AsyncClient, demo_admin_key: str
) -> None:
    conversation = "demo-conv-1"
    expected = await api(admin, demo_admin_key, f"/conversations/{conversation}/votes")
    page = await admin.get("/dashboard/votes", params={"conversation_id": conversation})
    tables, _ = page_tables(page.text)
    assert re.search(rf'id="current-vote">{expected["current"] or "none"}<', page.text)
    assert [[_t(r[0]), r[1]] for r in tables.get("history", [])] == [
        [_t(v["created_at"]), v["vote"]] for v in expected["history"]
    ]


async def test_routing_page_equals_the_api(admin: httpx.AsyncClient, demo_admin_key: str) -> None:
    for group_by in ("provider", "model", "pattern"):
        page = await admin.get("/dashboard/routing", params={**WINDOW, "group_by": group_by})
        assert page.status_code == 200
        tables, _ = page_tables(page.text)
        groups = (
            await api(admin, demo_admin_key, "/analytics/routing", **WINDOW, group_by=group_by)
        )["groups"]
        assert len(groups) > 0
        fields = [
            "requests",
            "feedback_count",
            "avg_quality",
            "correct_rate",
            "helpful_rate",
            "avg_cost",
            "total_savings",
            "latency_p50_ms",
            "latency_p95_ms",
        ]
        keys = ["key", "provider"] if group_by == "model" else ["key"]
        assert tables["groups"] == [[g[k] for k in keys + fields] for g in groups]

    regret = await api(admin, demo_admin_key, "/analytics/routing/regret", **WINDOW)
    assert tables["regret"] == [
        [
            s["pattern"],
            s["complexity_band"],
            s["requests"],
            s["regretted_requests"],
            s["regret_rate"],
            s["extra_cost"],
        ]
        for s in regret["scopes"]
    ]
    rows = tables["recommendations"]
    patterns = [g["key"] for g in groups if g["key"] is not None][:8]
    assert [r[0] for r in rows if r[1] == 1] == patterns
    for pattern in patterns:
        expected = (
            await api(admin, demo_admin_key, "/routing/recommendations", pattern=pattern, days=90)
        )["candidates"][:3]
        assert [r[2:] for r in rows if r[0] == pattern] == [
            [
                c["provider"],
                c["model"],
                c["samples"],
                c["expected_quality"],
                c["quality_lower_bound"],
                c["avg_cost"],
            ]
            for c in expected
        ]


async def test_cache_page_equals_the_api(admin: httpx.AsyncClient, demo_admin_key: str) -> None:
    page = await admin.get("/dashboard/cache", params=WINDOW)
    tables, values = page_tables(page.text)
    cache = await api(admin, demo_admin_key, "/analytics/cache", **WINDOW)
    for name in (
        "entries",
        "hits",
        "cost_saved_usd",
        "rating_count",
        "avg_rating",
        "satisfaction",
        "flagged_count",
    ):
        assert values[name] == cache[name], name
    assert tables["ratings"] == [[str(v), cache["ratings"][str(v)]] for v in range(1, 6)]
    flagged = await api(admin, demo_admin_key, "/cache/entries", status="flagged")
    assert len(flagged["items"]) > 0
    assert [r[0] for r in tables["flagged"]] == [e["cache_key"] for e in flagged["items"]]
    assert chart_spec(page.text, "ratings")["series"][0]["values"] == [
        cache["ratings"][str(v)] for v in range(1, 6)
    ]


async def test_experts_page_equals_the_api(admin: httpx.AsyncClient, demo_admin_key: str) -> None:
    page = await admin.get("/dashboard/experts", params=WINDOW)
    tables, _ = page_tables(page.text)
    experts = await api(admin, demo_admin_key, "/analytics/experts", **WINDOW, top=20)
    assert [r[1:] for r in tables["leaderboard"]] == [
        [
            e["user_id"],
            e["trust_score"],
            e["feedback_count"],
            e["accuracy_rate"],
            e["approved_count"],
            e["rejected_count"],
            e["is_verified"],
        ]
        for e in experts["experts"]
    ]
    assert tables["by-type"] == [[k, v] for k, v in experts["feedback_by_type"].items()]
    assert tables["by-category"] == [[k, v] for k, v in experts["feedback_by_category"].items()]
    assert sum(experts["feedback_by_type"].values()) > 0
    assert "not yet available" not in page.text


async def test_experts_calibration_matrix_equals_the_api(
    admin: httpx.AsyncClient, demo_admin_key: str
) -> None:
    page = await admin.get("/dashboard/experts", params=WINDOW)
    tables, values = page_tables(page.text)
    calibration = await api(admin, demo_admin_key, "/analytics/calibration", **WINDOW, top=20)
    assert calibration["answers"] > 0  # the demo data fills the quality tables
    assert values["calibration_answers"] == calibration["answers"]
    verdicts = ["correct", "incomplete", "incorrect"]
    assert tables["calibration-votes"] == [
        [calibration["votes"][vote][v] for v in verdicts] for vote in ("up", "down")
    ]
    assert tables["calibration-reasons"] == [
        [r["reason"], r["sample_size"], r["incorrect_share"], r["incomplete_share"]]
        for r in calibration["reasons"]
    ]
    assert len(calibration["reasons"]) > 0
    spec = chart_spec(page.text, "calibration-reasons")
    assert spec["y_range"] == [0, 100]  # shares in percent
    assert spec["labels"] == [r["reason"] for r in calibration["reasons"]]
    assert spec["series"][0]["values"] == [
        round(r["incorrect_share"] * 100, 2) for r in calibration["reasons"]
    ]
    # The matrix's cells show the same counts, shaded relative to the largest.
    cells = re.findall(
        r'class="matrix-cell heat-(\d)" data-vote="(\w+)" data-verdict="(\w+)">([\d,]+)<',
        page.text,
    )
    assert [(vote, verdict, int(n.replace(",", ""))) for _, vote, verdict, n in cells] == [
        (vote, v, calibration["votes"][vote][v]) for vote in ("up", "down") for v in verdicts
    ]
    assert max(int(h) for h, *_ in cells) == 5


async def test_experts_calibration_follows_the_window(
    admin: httpx.AsyncClient, demo_admin_key: str
) -> None:
    empty = {"from": "2020-01-01T00:00:00Z", "to": "2020-01-02T00:00:00Z"}
    page = await admin.get("/dashboard/experts", params=empty)
    tables, values = page_tables(page.text)
    calibration = await api(admin, demo_admin_key, "/analytics/calibration", **empty)
    assert values["calibration_answers"] == calibration["answers"] == 0
    assert tables["calibration-votes"] == [[0, 0, 0], [0, 0, 0]]
    assert "No down vote with a reason" in page.text


async def test_approval_queue_lists_the_apis_pending_candidates(
    admin: httpx.AsyncClient, demo_admin_key: str
) -> None:
    page = await admin.get("/dashboard/approval-queue")
    pending = await api(admin, demo_admin_key, "/faq-candidates", status="pending", limit=25)
    ids = re.findall(r'<li class="candidate" data-candidate-id="([^"]+)"', page.text)
    assert ids == [c["id"] for c in pending["items"]]
    assert len(ids) > 0


async def _first_pending(http: httpx.AsyncClient, key: str) -> dict[str, Any]:
    pending = await api(http, key, "/faq-candidates", status="pending", limit=1)
    assert pending["items"], "the demo data has pending candidates"
    candidate: dict[str, Any] = pending["items"][0]
    return candidate


async def test_approve_from_the_queue(admin: httpx.AsyncClient, demo_admin_key: str) -> None:
    token = csrf_token((await admin.get("/dashboard/approval-queue")).text)
    candidate = await _first_pending(admin, demo_admin_key)
    response = await admin.post(
        f"/dashboard/approval-queue/{candidate['id']}/approve", data={"csrf_token": token}
    )
    assert response.status_code == 303
    approved = await api(admin, demo_admin_key, "/faq-candidates", status="approved", limit=500)
    assert candidate["id"] in [c["id"] for c in approved["items"]]
    page = await admin.get("/dashboard/approval-queue")
    assert candidate["id"] not in page.text
    again = await admin.post(
        f"/dashboard/approval-queue/{candidate['id']}/approve", data={"csrf_token": token}
    )
    assert again.status_code == 409  # as the API: deciding twice is a conflict
    assert "already approved" in again.text


async def test_reject_needs_a_reason_and_records_it(
    admin: httpx.AsyncClient, demo_admin_key: str
) -> None:
    token = csrf_token((await admin.get("/dashboard/approval-queue")).text)
    candidate = await _first_pending(admin, demo_admin_key)
    url = f"/dashboard/approval-queue/{candidate['id']}/reject"
    refused = await admin.post(url, data={"csrf_token": token, "reason": "  "})
    assert refused.status_code == 422
    still = await api(admin, demo_admin_key, "/faq-candidates", status="pending", limit=500)
    assert candidate["id"] in [c["id"] for c in still["items"]]

    response = await admin.post(
        url, data={"csrf_token": token, "reason": "Già coperta dalla FAQ 12."}
    )
    assert response.status_code == 303
    rejected = await api(admin, demo_admin_key, "/faq-candidates", status="rejected", limit=500)
    mine = [c for c in rejected["items"] if c["id"] == candidate["id"]]
    assert mine
    assert mine[0]["rejection_reason"] == "Già coperta dalla FAQ 12."


async def test_decisions_without_csrf_token_are_refused(
    admin: httpx.AsyncClient, demo_admin_key: str
) -> None:
    candidate = await _first_pending(admin, demo_admin_key)
    for action, data in (("approve", {}), ("reject", {"reason": "no"})):
        response = await admin.post(
            f"/dashboard/approval-queue/{candidate['id']}/{action}",
            data={**data, "csrf_token": "forged"},
        )
        assert response.status_code == 403
    still = await api(admin, demo_admin_key, "/faq-candidates", status="pending", limit=500)
    assert candidate["id"] in [c["id"] for c in still["items"]]


async def test_htmx_approve_removes_the_row_and_reports_it(
    admin: httpx.AsyncClient, demo_admin_key: str
) -> None:
    token = csrf_token((await admin.get("/dashboard/approval-queue")).text)
    candidate = await _first_pending(admin, demo_admin_key)
    response = await admin.post(
        f"/dashboard/approval-queue/{candidate['id']}/approve",
        data={"csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    # Only the out-of-band status message: the candidate's row is swapped for nothing.
    assert response.text.strip().startswith('<div id="flash"')
    assert 'hx-swap-oob="true"' in response.text
    assert "Approved" in response.text


async def test_clear_a_cache_flag(admin: httpx.AsyncClient, demo_admin_key: str) -> None:
    page = await admin.get("/dashboard/cache")
    flagged = await api(admin, demo_admin_key, "/cache/entries", status="flagged")
    key = flagged["items"][0]["cache_key"]
    refused = await admin.post("/dashboard/cache/unflag", data={"cache_key": key})
    assert refused.status_code == 403
    assert (await api(admin, demo_admin_key, f"/cache/entries/{key}"))["status"] == "flagged"
    response = await admin.post(
        "/dashboard/cache/unflag", data={"cache_key": key, "csrf_token": csrf_token(page.text)}
    )
    assert response.status_code == 303
    assert (await api(admin, demo_admin_key, f"/cache/entries/{key}"))["status"] == "active"
    unknown = await admin.post(
        "/dashboard/cache/unflag",
        data={"cache_key": "no-such-key", "csrf_token": csrf_token(page.text)},
    )
    assert unknown.status_code == 404


async def test_window_picker_follows_the_api_rule(admin: httpx.AsyncClient) -> None:
    page = await admin.get("/dashboard/votes")
    start, end = re.search(
        r'data-window-start="([^"]+)" data-window-end="([^"]+)"', page.text
    ).groups()  # type: ignore[union-attr]
    assert _t(end) - _t(start) == dt.timedelta(days=30)
    assert abs(_t(end) - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)

    page = await admin.get("/dashboard/cache", params={"from": "2026-11-01", "to": "2026-11-03"})
    assert 'data-window-start="2026-11-01T00:00:00+00:00"' in page.text
    assert 'data-window-end="2026-11-03T00:00:00+00:00"' in page.text

    page = await admin.get("/dashboard/routing", params={"to": "2026-11-03T12:00:00+01:00"})
    assert 'data-window-start="2026-10-04T11:00:00+00:00"' in page.text

    bad = await admin.get("/dashboard/experts", params={"from": "yesterday"})
    assert bad.status_code == 422
    assert "`from` is not an ISO-8601 date" in bad.text
    naive = await admin.get("/dashboard/experts", params={"from": "2026-11-01T10:00"})
    assert naive.status_code == 422
    assert "UTC offset" in naive.text
    too_many = await admin.get(
        "/dashboard/votes", params={"from": "2020-01-01", "to": "2026-01-01", "bucket": "hour"}
    )
    assert too_many.status_code == 422
    assert "buckets" in too_many.text


async def _whole_review_queue(http: httpx.AsyncClient, key: str) -> list[dict[str, Any]]:
    """Every item of `GET /api/v1/review-queue`, following its cursors."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):  # bounded: the demo queue is far shorter than 100 pages
        params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = await api(http, key, "/review-queue", **params)
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the review queue did not end")


def _queue_rows(items: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [i["query_id"], i["down_votes"], i["up_votes"], i["reasons"], i["priority"]] for i in items
    ]


async def test_review_queue_pages_equal_the_api(
    admin: httpx.AsyncClient, demo_admin_key: str
) -> None:
    everything = await _whole_review_queue(admin, demo_admin_key)
    assert len(everything) > 25  # the demo queue spans pages
    shown: list[list[Any]] = []
    path = "/dashboard/review-queue"
    for _ in range(100):
        page = await admin.get(path)
        assert page.status_code == 200
        tables, _ = page_tables(page.text)
        rows = tables["review-queue"]
        assert 0 < len(rows) <= 25
        shown += rows
        link = re.search(
            r'<a href="(/dashboard/review-queue\?cursor=[^"]+)" rel="next">', page.text
        )
        if link is None:
            break
        path = link.group(1).replace("&amp;", "&")
    assert shown == _queue_rows(everything)
    first = await api(admin, demo_admin_key, "/review-queue", limit=25)
    first_page, _ = page_tables((await admin.get("/dashboard/review-queue")).text)
    assert first_page["review-queue"] == _queue_rows(first["items"])


async def test_review_queue_explains_its_priority(admin: httpx.AsyncClient) -> None:
    page = await admin.get("/dashboard/review-queue")
    assert "<h1>Review queue</h1>" in page.text
    assert "How the priority is computed" in page.text
    times = "\N{MULTIPLICATION SIGN}"
    assert f"(down + 0.5 {times} reasoned) {times} (down + 1) / (down + up + 2)" in page.text
    assert "not yet available" not in page.text


async def test_review_queue_refuses_a_forged_cursor(admin: httpx.AsyncClient) -> None:
    page = await admin.get("/dashboard/review-queue", params={"cursor": "bm90LWEtbGlzdA"})
    assert page.status_code == 422
    assert "Malformed cursor" in page.text


async def test_navigation_names_every_page(admin: httpx.AsyncClient, demo_app: FastAPI) -> None:
    html = (await admin.get("/dashboard")).text
    names = re.findall(r'<li><a href="/dashboard[^"]*"[^>]*>([^<]+)</a></li>', html)
    assert names == [
        "Overview",
        "Votes",
        "Routing",
        "Cache",
        "Experts",
        "Approval queue",
        "Review queue",
        "Webhooks",
    ]


async def test_dashboard_routes_stay_out_of_the_openapi_document(
    http: httpx.AsyncClient,
) -> None:
    paths = (await http.get("/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith("/dashboard")]


async def _demo_webhook(http: httpx.AsyncClient, key: str) -> dict[str, Any]:
    hooks = await api(http, key, "/webhooks")
    demo = [h for h in hooks["items"] if h["url"] == DEMO_WEBHOOK_URL]
    assert demo, "the demo data registers a webhook"
    hook: dict[str, Any] = demo[0]
    return hook


def _delivery_rows(deliveries: list[dict[str, Any]]) -> list[list[Any]]:
    fields = [
        "created_at",
        "event_type",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "delivered_at",
    ]
    return [[d[f] for f in fields] for d in deliveries]


async def test_webhooks_page_equals_the_api(admin: httpx.AsyncClient, demo_admin_key: str) -> None:
    page = await admin.get("/dashboard/webhooks")
    assert page.status_code == 200
    assert "not yet available" not in page.text
    tables, _ = page_tables(page.text)
    hooks = (await api(admin, demo_admin_key, "/webhooks"))["items"]
    ids = re.findall(r'<section class="webhook" id="webhook-([^"]+)"', page.text)
    assert ids == [h["id"] for h in hooks]
    for hook in hooks:
        deliveries = await api(
            admin, demo_admin_key, f"/webhooks/{hook['id']}/deliveries", limit=20
        )
        rows = tables.get(f"deliveries-{hook['id']}", [])
        assert [[_t(r[0]), *r[1:]] for r in rows] == [
            [_t(r[0]), *r[1:]] for r in _delivery_rows(deliveries["items"])
        ]
    demo = await _demo_webhook(admin, demo_admin_key)
    if not demo["enabled"]:  # as loaded (another test may have enabled it)
        assert "disabled" in page.text
        assert demo["disabled_reason"] in page.text
    statuses = {r[2] for r in tables[f"deliveries-{demo['id']}"]}
    assert {"delivered", "pending"} <= statuses


async def test_redeliver_through_the_dashboard(
    admin: httpx.AsyncClient, demo_admin_key: str
) -> None:
    token = csrf_token((await admin.get("/dashboard/webhooks")).text)
    demo = await _demo_webhook(admin, demo_admin_key)
    deliveries = (await api(admin, demo_admin_key, f"/webhooks/{demo['id']}/deliveries"))["items"]
    delivered = next(d for d in deliveries if d["status"] == "delivered")
    url = f"/dashboard/webhooks/{demo['id']}/deliveries/{delivered['id']}/redeliver"

    refused = await admin.post(url, data={"csrf_token": "forged"})
    assert refused.status_code == 403
    if not demo["enabled"]:
        # As the API: a disabled webhook receives nothing (409) until it is enabled.
        disabled = await admin.post(url, data={"csrf_token": token})
        assert disabled.status_code == 409
        assert "disabled" in disabled.text
        enabled = await admin.post(
            f"/dashboard/webhooks/{demo['id']}/enable", data={"csrf_token": token}
        )
        assert enabled.status_code == 303
        assert (await _demo_webhook(admin, demo_admin_key))["enabled"] is True

    response = await admin.post(url, data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/dashboard/webhooks?notice=redelivery_queued")
    after = (await api(admin, demo_admin_key, f"/webhooks/{demo['id']}/deliveries"))["items"]
    mine = next(d for d in after if d["id"] == delivered["id"])
    assert mine["status"] == "pending"
    assert mine["next_attempt_at"] is not None
    page = await admin.get(response.headers["location"])
    assert "The delivery is queued again" in page.text
    row = re.search(rf'<tr id="delivery-{delivered["id"]}"[^>]*class="status-(\w+)"', page.text)
    assert row is not None
    assert row.group(1) == "pending"


async def test_redeliver_unknown_ids_are_404(admin: httpx.AsyncClient, demo_admin_key: str) -> None:
    token = csrf_token((await admin.get("/dashboard/webhooks")).text)
    demo = await _demo_webhook(admin, demo_admin_key)
    for path in (
        f"/dashboard/webhooks/not-a-uuid/deliveries/{uuid.uuid4()}/redeliver",
        f"/dashboard/webhooks/{uuid.uuid4()}/deliveries/{uuid.uuid4()}/redeliver",
        f"/dashboard/webhooks/{demo['id']}/deliveries/not-a-uuid/redeliver",
        f"/dashboard/webhooks/{uuid.uuid4()}/enable",
    ):
        response = await admin.post(path, data={"csrf_token": token})
        assert response.status_code == 404, path
