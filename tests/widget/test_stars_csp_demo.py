"""`<feedback-stars>`, the widget under a strict host-page CSP, and the demo page, in
Debian's Chromium against the real service."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import expect

from tests.browser import HostPages, LiveService, PageProbe
from tests.widget.conftest import RECORD_EVENTS, element, open_host_page, wait_for_event

pytestmark = pytest.mark.browser


async def cache_entry(live: LiveService) -> str:
    """A cache entry registered by the gateway; its key has a slash, as real ones do."""
    key = f"widget/{uuid.uuid4().hex[:12]}"
    async with live.http(live.ingest_key) as http:
        response = await http.post(
            "/api/v1/cache/entries",
            json={"cache_key": key, "provider": "openai", "model": "gpt-x", "cost_usd": 0.01},
        )
    assert response.status_code == 201, response.text
    return key


async def test_stars_variant_stores_a_rating_with_its_comment(
    page: PageProbe, host_pages: HostPages, live_service: LiveService
) -> None:
    key = await cache_entry(live_service)
    token = await live_service.mint_token(cache_key=key)
    await open_host_page(
        page, host_pages, live_service, element("feedback-stars", cache_key=key, token=token)
    )
    p = page.page
    stars = p.get_by_role("radiogroup", name="Rating")
    for n, name in enumerate(["1 star", "2 stars", "3 stars", "4 stars", "5 stars"], start=1):
        await expect(stars.get_by_role("radio", name=name, exact=True)).to_have_attribute(
            "data-rating", str(n)
        )

    await stars.get_by_role("radio", name="4 stars").click()
    await expect(stars.get_by_role("radio", name="4 stars")).to_have_attribute(
        "aria-checked", "true"
    )
    await p.get_by_label("Comment").fill("Right, but long.")
    await p.get_by_role("button", name="Send").click()
    [sent] = await wait_for_event(page, "feedback-sent")
    assert sent["rating"] == 4

    async with live_service.http() as http:
        entry = (await http.get(f"/api/v1/cache/entries/{key}")).json()
        exported = await http.get("/api/v1/export/cache_feedback", params={"format": "ndjson"})
    assert entry["rating_count"] == 1
    assert entry["avg_rating"] == 4
    mine = [line for line in exported.text.splitlines() if key in line]
    assert len(mine) == 1
    assert "Right, but long." in mine[0]


async def test_widget_renders_and_sends_under_a_strict_host_csp_without_violations(
    page: PageProbe, host_pages: HostPages, live_service: LiveService
) -> None:
    service = live_service.base_url
    csp = (
        f"default-src 'none'; script-src 'self' {service}; style-src 'self'; connect-src {service}"
    )
    # The host styles the widget only from outside: custom properties and ::part().
    host_pages.add(
        "/host.css",
        "feedback-thumbs { --feedback-accent: rgb(1, 2, 3); }\n"
        "feedback-thumbs::part(thumb-down) { border-color: rgb(4, 5, 6); }\n",
        content_type="text/css",
    )
    conv = f"conv-{uuid.uuid4().hex[:12]}"
    key = await cache_entry(live_service)
    body = (
        "<link rel='stylesheet' href='/host.css'>"
        + element(
            "feedback-thumbs",
            conversation_id=conv,
            token=await live_service.mint_token(conversation_id=conv),
        )
        + element(
            "feedback-stars", cache_key=key, token=await live_service.mint_token(cache_key=key)
        )
    )
    await open_host_page(page, host_pages, live_service, body, **{"Content-Security-Policy": csp})
    p = page.page

    down = p.get_by_role("button", name="Thumbs down")
    await expect(down).to_have_css("border-top-color", "rgb(4, 5, 6)")
    # The shadow stylesheet applied (constructable, so `style-src 'self'` allows it).
    await expect(down).to_have_css("border-top-left-radius", "8px")
    await down.click()
    await expect(p.get_by_role("dialog")).to_be_visible()
    await p.get_by_role("dialog").get_by_role("button", name="Other").click()
    await p.get_by_role("dialog").get_by_role("button", name="Send").click()
    await wait_for_event(page, "feedback-sent")
    await expect(down).to_have_css("background-color", "rgb(1, 2, 3)")
    await expect(p.get_by_role("radio", name="5 stars")).to_be_visible()

    assert await page.csp_violations() == []
    assert page.console_errors == []
    assert page.page_errors == []
    assert (await live_service.conversation_votes(conv))["current"] == "down"


async def test_demo_page_mints_its_tokens_server_side_and_shows_the_stored_vote(
    page: PageProbe, live_service: LiveService
) -> None:
    p = page.page
    response = await p.goto(f"{live_service.base_url}/widget/demo")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    html = await response.text()
    assert "fbk_" not in html  # no key, only feedback tokens
    assert html.count('token="fbt_') == 2
    await p.evaluate(RECORD_EVENTS)

    await p.get_by_role("button", name="Thumbs up").click()
    await wait_for_event(page, "feedback-sent")
    await expect(p.locator("#current")).to_have_text("up")
    await expect(p.locator("#history li")).to_have_count(1)
    conversation = await p.locator("#conversation").text_content()
    assert conversation is not None
    assert (await live_service.conversation_votes(conversation))["current"] == "up"

    await p.get_by_role("radio", name="5 stars").click()
    await p.get_by_role("button", name="Send").nth(0).click()
    await wait_for_event(page, "feedback-sent", count=2)

    assert await page.csp_violations() == []
    assert page.console_errors == []
    assert page.page_errors == []


async def test_stars_keyboard_arrows_choose_a_rating_and_enter_sends_it(
    page: PageProbe, host_pages: HostPages, live_service: LiveService
) -> None:
    key = await cache_entry(live_service)
    token = await live_service.mint_token(cache_key=key)
    await open_host_page(
        page, host_pages, live_service, element("feedback-stars", cache_key=key, token=token)
    )
    p = page.page
    kb = p.keyboard
    await kb.press("Tab")  # one tab stop for the whole radio group
    await expect(p.get_by_role("radio", name="1 star")).to_be_focused()
    await kb.press("ArrowRight")
    await kb.press("ArrowRight")
    three = p.get_by_role("radio", name="3 stars")
    await expect(three).to_be_focused()
    await expect(three).to_have_attribute("aria-checked", "true")
    await kb.press("Tab")
    await expect(p.get_by_label("Comment")).to_be_focused()
    await kb.press("Tab")
    await expect(p.get_by_role("button", name="Send")).to_be_focused()
    await kb.press("Enter")
    [sent] = await wait_for_event(page, "feedback-sent")
    assert sent["rating"] == 3
    async with live_service.http() as http:
        entry = (await http.get(f"/api/v1/cache/entries/{key}")).json()
    assert entry["rating_count"] == 1
    assert entry["avg_rating"] == 3
