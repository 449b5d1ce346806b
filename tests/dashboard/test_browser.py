"""The dashboard in Debian's chromium (playwright, headless) against a live uvicorn on
127.0.0.1 with the demo data: sign-in, every page's charts and tables, the queue's
decisions, clearing a cache flag, sign-out, CSRF, and the 390 px layout."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.browser import probed_page
from tests.conftest import bearer
from tests.dashboard.conftest import assert_clean, viewport
from tests.dashboard.live import sign_in_async as sign_in

pytestmark = pytest.mark.browser

# (navigation name, path, charts on the page)
PAGES = [
    ("Overview", "/dashboard", ["satisfaction", "quality-cost"]),
    ("Votes", "/dashboard/votes", ["votes-series", "satisfaction", "top-reasons"]),
    ("Routing", "/dashboard/routing", ["quality-cost"]),
    ("Cache", "/dashboard/cache", ["ratings"]),
    ("Experts", "/dashboard/experts", ["trust", "by-type", "by-category", "calibration-reasons"]),
    ("Approval queue", "/dashboard/approval-queue", []),
    ("Review queue", "/dashboard/review-queue", []),
    ("Webhooks", "/dashboard/webhooks", []),
]

ROWS_JS = """(selector) => Array.from(document.querySelectorAll(selector + ' tbody tr'))
  .map(tr => Array.from(tr.querySelectorAll('td[data-value]'))
    .map(td => JSON.parse(td.dataset.value)))
  .filter(row => row.length > 0)"""


@pytest.fixture
def api(live_base_url: str, demo_admin_key: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{live_base_url}/api/v1", headers=bearer(demo_admin_key), timeout=30
    ) as client:
        yield client


def _get(api: httpx.Client, path: str, **params: Any) -> Any:
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def _window(page: Any) -> dict[str, str]:
    strong = page.locator("[data-window-start]")
    return {
        "from": await strong.get_attribute("data-window-start"),
        "to": await strong.get_attribute("data-window-end"),
    }


async def _rows(page: Any, selector: str) -> list[list[Any]]:
    rows: list[list[Any]] = await page.evaluate(ROWS_JS, selector)
    return rows


async def _expected_rows(api: httpx.Client, name: str, page: Any) -> tuple[str, list[list[Any]]]:
    """For each page: one companion table and the API's numbers for the page's window."""
    if name == "Overview":
        bucket = await page.locator("[data-bucket]").get_attribute("data-bucket")
        votes = _get(api, "/analytics/votes", **(await _window(page)), bucket=bucket)
        return "#satisfaction", [[p["up"], p["down"], p["satisfaction"]] for p in votes["series"]]
    if name == "Votes":
        votes = _get(api, "/analytics/votes", **(await _window(page)), bucket="day")
        return "#top-reasons", [[r["reason"], r["count"]] for r in votes["top_reasons"]]
    if name == "Routing":
        groups = _get(api, "/analytics/routing", **(await _window(page)), group_by="model")[
            "groups"
        ]
        return "#quality-cost", [
            [g["key"], g["provider"], g["requests"], g["avg_quality"], g["avg_cost"]]
            for g in groups
        ]
    if name == "Cache":
        cache = _get(api, "/analytics/cache", **(await _window(page)))
        return "#ratings", [[str(v), cache["ratings"][str(v)]] for v in range(1, 6)]
    if name == "Experts":
        experts = _get(api, "/analytics/experts", **(await _window(page)))
        return "#by-type", [[k, v] for k, v in experts["feedback_by_type"].items()]
    if name == "Review queue":
        queue = _get(api, "/review-queue", limit=25)["items"]
        return "#review-queue", [
            [i["query_id"], i["down_votes"], i["up_votes"], i["reasons"], i["priority"]]
            for i in queue
        ]
    raise AssertionError(name)


async def _check_calibration(page: Any, api: httpx.Client) -> None:
    """The matrix's companion table and the per-reason table equal the API's calibration."""
    calibration = _get(api, "/analytics/calibration", **(await _window(page)), top=20)
    verdicts = ["correct", "incomplete", "incorrect"]
    assert await _rows(page, "#calibration-votes") == [
        [calibration["votes"][vote][v] for v in verdicts] for vote in ("up", "down")
    ]
    assert await _rows(page, "#calibration-reasons") == [
        [r["reason"], r["sample_size"], r["incorrect_share"], r["incomplete_share"]]
        for r in calibration["reasons"]
    ]
    assert calibration["answers"] > 0
    assert await page.locator("#calibration-matrix .matrix-cell").count() == 6


async def _check_webhooks(page: Any, api: httpx.Client) -> None:
    """Each endpoint's section lists the API's recent deliveries, in order, with status,
    attempts, last HTTP status and last error."""
    hooks = _get(api, "/webhooks")["items"]
    sections = await page.locator("section.webhook").evaluate_all(
        "els => els.map(e => e.dataset.webhookId)"
    )
    assert sections == [h["id"] for h in hooks]
    assert len(hooks) > 0
    for hook in hooks:
        deliveries = _get(api, f"/webhooks/{hook['id']}/deliveries", limit=20)["items"]
        rows = await _rows(page, f"#deliveries-{hook['id']}")
        assert [r[1:6] for r in rows] == [
            [d["event_type"], d["status"], d["attempts"], d["last_status_code"], d["last_error"]]
            for d in deliveries
        ]


async def test_sign_in_and_every_page_renders_its_charts_and_the_apis_numbers(
    browser_page: tuple[Any, Any], live_base_url: str, demo_admin_key: str, api: httpx.Client
) -> None:
    page, problems = browser_page
    await sign_in(page, live_base_url, demo_admin_key)
    assert await page.get_by_role("heading", name="Overview").is_visible()
    for name, path, charts in PAGES:
        await (
            page.get_by_role("navigation", name="Dashboard")
            .get_by_role("link", name=name, exact=True)
            .click()
        )
        await page.wait_for_url(f"{live_base_url}{path}")
        await page.wait_for_load_state("load")
        assert await page.get_by_role("heading", level=1).inner_text() == name
        for chart in charts:
            figure = page.locator(f"figure#{chart}")
            await figure.locator("canvas").first.wait_for(state="attached", timeout=10_000)
            assert await figure.locator("figcaption").inner_text()
            assert await figure.locator(".table-wrap table").count() == 1
            # uPlot drew a plot area with the labelled axes.
            assert await figure.locator(".u-label").count() >= 2
        assert "not yet available" not in await page.locator("main").inner_text()
        if name == "Webhooks":
            await _check_webhooks(page, api)
        elif name == "Approval queue":
            ids = await page.locator("li.candidate").evaluate_all(
                "els => els.map(e => e.dataset.candidateId)"
            )
            pending = _get(api, "/faq-candidates", status="pending", limit=25)["items"]
            assert ids == [c["id"] for c in pending]
        else:
            selector, expected = await _expected_rows(api, name, page)
            rows = await _rows(page, selector)
            if name == "Overview":
                rows = [r[1:] for r in rows]  # the bucket start column is a timestamp
            assert rows == expected, name
            assert len(expected) > 0
        if name == "Experts":
            await _check_calibration(page, api)
        if name == "Overview":
            size = await page.locator('tr[data-kpi="review_queue"] td').get_attribute("data-value")
            assert int(size or "-1") > 0
    await assert_clean(problems)


async def test_approve_and_reject_in_the_queue(
    browser_page: tuple[Any, Any], live_base_url: str, demo_admin_key: str, api: httpx.Client
) -> None:
    page, problems = browser_page
    await sign_in(page, live_base_url, demo_admin_key)
    await page.goto(f"{live_base_url}/dashboard/approval-queue")
    first, second = await page.locator("li.candidate").evaluate_all(
        "els => els.slice(0, 2).map(e => e.dataset.candidateId)"
    )

    row = page.locator(f'li[data-candidate-id="{first}"]')
    await row.get_by_role("button", name="Approve").click()
    await row.wait_for(state="detached", timeout=10_000)
    assert "Approved" in await page.locator("#flash").inner_text()
    approved = _get(api, "/faq-candidates", status="approved", limit=500)["items"]
    assert first in [c["id"] for c in approved]

    row = page.locator(f'li[data-candidate-id="{second}"]')
    await row.get_by_label("Reason for rejecting").fill("Già coperta dalla FAQ 12.")
    await row.get_by_role("button", name="Reject").click()
    await row.wait_for(state="detached", timeout=10_000)
    assert "Rejected" in await page.locator("#flash").inner_text()
    rejected = _get(api, "/faq-candidates", status="rejected", limit=500)["items"]
    assert [c["rejection_reason"] for c in rejected if c["id"] == second] == [
        "Già coperta dalla FAQ 12."
    ]

    await page.reload()
    ids = await page.locator("li.candidate").evaluate_all(
        "els => els.map(e => e.dataset.candidateId)"
    )
    assert first not in ids
    assert second not in ids
    await assert_clean(problems)


async def test_redeliver_a_delivery_and_see_it_queued(
    browser_page: tuple[Any, Any], live_base_url: str, demo_admin_key: str, api: httpx.Client
) -> None:
    page, problems = browser_page
    await sign_in(page, live_base_url, demo_admin_key)
    await page.goto(f"{live_base_url}/dashboard/webhooks")
    demo = page.locator("section.webhook").first
    hook = await demo.get_attribute("data-webhook-id")
    enable = demo.get_by_role("button", name="Enable")
    if await enable.count():  # the demo webhook is loaded disabled: redelivery needs it on
        assert await demo.get_by_role("button", name="Redeliver").first.is_disabled()
        await enable.click()
        await page.wait_for_url("**/dashboard/webhooks?notice=webhook_enabled*")
        assert "enabled" in await page.locator("#flash").inner_text()
    delivered = demo.locator("tr.status-delivered").first
    delivery = await delivered.get_attribute("data-delivery-id")
    await delivered.get_by_role("button", name="Redeliver").click()
    await page.wait_for_url("**/dashboard/webhooks?notice=redelivery_queued*")
    assert "queued again" in await page.locator("#flash").inner_text()
    row = page.locator(f'tr[data-delivery-id="{delivery}"]')
    assert await row.get_attribute("class") == "status-pending"
    assert "pending" in await row.inner_text()
    mine = [d for d in _get(api, f"/webhooks/{hook}/deliveries")["items"] if d["id"] == delivery]
    assert mine[0]["status"] == "pending"
    await assert_clean(problems)


async def test_clear_a_cache_flag(
    browser_page: tuple[Any, Any], live_base_url: str, demo_admin_key: str, api: httpx.Client
) -> None:
    page, problems = browser_page
    await sign_in(page, live_base_url, demo_admin_key)
    await page.goto(f"{live_base_url}/dashboard/cache")
    key = await page.locator("tr.flagged-entry").first.get_attribute("data-cache-key")
    assert _get(api, f"/cache/entries/{key}")["status"] == "flagged"
    await page.get_by_role("button", name=f"Clear flag on {key}").click()
    await page.locator(f'tr[data-cache-key="{key}"]').wait_for(state="detached", timeout=10_000)
    assert "Flag cleared" in await page.locator("#flash").inner_text()
    assert _get(api, f"/cache/entries/{key}")["status"] == "active"
    await assert_clean(problems)


async def test_sign_out_and_be_refused(
    browser_page: tuple[Any, Any], live_base_url: str, demo_admin_key: str
) -> None:
    page, problems = browser_page
    await sign_in(page, live_base_url, demo_admin_key)
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(f"{live_base_url}/dashboard/login?notice=signed_out")
    assert "You are signed out." in await page.locator("main").inner_text()
    await page.goto(f"{live_base_url}/dashboard/experts")
    assert page.url.startswith(f"{live_base_url}/dashboard/login")
    assert await page.get_by_label("API key").is_visible()
    await assert_clean(problems)


async def test_form_post_without_csrf_token_is_refused(
    browser_page: tuple[Any, Any], live_base_url: str, demo_admin_key: str, api: httpx.Client
) -> None:
    page, _ = browser_page
    await sign_in(page, live_base_url, demo_admin_key)
    candidate = _get(api, "/faq-candidates", status="pending", limit=1)["items"][0]["id"]
    status = await page.evaluate(
        """async (id) => (await fetch('/dashboard/approval-queue/' + id + '/approve', {
            method: 'POST', body: new URLSearchParams({}),
        })).status""",
        candidate,
    )
    assert status == 403
    pending = _get(api, "/faq-candidates", status="pending", limit=500)["items"]
    assert candidate in [c["id"] for c in pending]


async def test_a_non_admin_key_is_refused(
    browser_page: tuple[Any, Any], live_base_url: str, demo_ingest_key: str
) -> None:
    page, _ = browser_page
    await page.goto(f"{live_base_url}/dashboard/login")
    await page.get_by_label("API key").fill(demo_ingest_key)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state("load")
    assert "The dashboard needs an admin key" in await page.get_by_role("alert").inner_text()
    await page.goto(f"{live_base_url}/dashboard")
    assert page.url.startswith(f"{live_base_url}/dashboard/login")


async def test_pages_fit_a_390_px_screen(
    browser: Any, live_base_url: str, demo_admin_key: str
) -> None:
    async with probed_page(browser, viewport=viewport("mobile")) as problems:
        page = problems.page
        await sign_in(page, live_base_url, demo_admin_key)
        for _name, path, charts in PAGES:
            await page.goto(f"{live_base_url}{path}")
            for chart in charts:
                await page.locator(f"figure#{chart} canvas").first.wait_for(state="attached")
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, path
        await assert_clean(problems)


async def test_the_csp_holds_and_the_detector_sees_violations(
    browser_page: tuple[Any, Any], live_base_url: str, demo_admin_key: str
) -> None:
    """The 'no CSP violation' checks above mean something: an inline script and an
    inline style on a dashboard page are blocked, and the recorder reports both."""
    page, problems = browser_page
    await sign_in(page, live_base_url, demo_admin_key)
    ran = await page.evaluate(
        """() => new Promise((resolve) => {
            window.__inlineRan = false;
            const s = document.createElement('script');
            s.textContent = 'window.__inlineRan = true';
            document.body.appendChild(s);
            const st = document.createElement('style');
            st.textContent = 'body { background: red }';
            document.head.appendChild(st);
            setTimeout(() => resolve(window.__inlineRan), 200);
        })"""
    )
    assert ran is False
    violations = await problems.csp_violations()
    directives = [str(v.get("directive", "")) for v in violations]
    assert any(d.startswith("script-src") for d in directives), violations
    assert any(d.startswith("style-src") for d in directives), violations
