"""`<feedback-thumbs>` in Debian's Chromium, against the real service over HTTP."""

from __future__ import annotations

import pytest
from playwright.async_api import Request, Route, expect

from tests.browser import HostPages, LiveService, PageProbe
from tests.widget.conftest import element, open_host_page, wait_for_event

pytestmark = pytest.mark.browser


async def thumbs_page(
    page: PageProbe, host_pages: HostPages, live: LiveService, conv: str, token: str | None = None
) -> None:
    token = token or await live.mint_token(conversation_id=conv)
    body = element("feedback-thumbs", conversation_id=conv, token=token)
    await open_host_page(page, host_pages, live, body)


async def test_thumbs_down_with_two_reasons_and_a_comment_is_stored(
    page: PageProbe, host_pages: HostPages, live_service: LiveService, conv: str
) -> None:
    await thumbs_page(page, host_pages, live_service, conv)
    p = page.page

    await p.get_by_role("button", name="Thumbs down").click()
    sheet = p.get_by_role("dialog")
    await expect(sheet).to_be_visible()
    await sheet.get_by_role("button", name="Not factually correct").click()
    await sheet.get_by_role("button", name="Too verbose").click()
    await expect(sheet.get_by_role("button", name="Too verbose")).to_have_attribute(
        "aria-pressed", "true"
    )
    await sheet.get_by_label("Comment").fill("The 2026 threshold changed.")
    await sheet.get_by_role("button", name="Send").click()

    [sent] = await wait_for_event(page, "feedback-sent")
    assert sent["response"]["status"] == "ok"
    votes = await live_service.conversation_votes(conv)
    assert votes["current"] == "down"
    [vote] = votes["history"]
    assert vote["id"] == sent["response"]["id"]
    assert vote["reasons"] == ["not_factually_correct", "too_verbose"]
    assert vote["comment"] == "The 2026 threshold changed."
    await expect(p.get_by_role("dialog")).to_have_count(0)
    await expect(p.get_by_role("button", name="Thumbs down")).to_have_attribute(
        "aria-pressed", "true"
    )
    assert page.console_errors == []
    assert page.page_errors == []


async def test_switching_to_up_keeps_both_votes_in_history_and_up_is_current(
    page: PageProbe, host_pages: HostPages, live_service: LiveService, conv: str
) -> None:
    await thumbs_page(page, host_pages, live_service, conv)
    p = page.page

    await p.get_by_role("button", name="Thumbs down").click()
    await p.get_by_role("dialog").get_by_role("button", name="Not helpful").click()
    await p.get_by_role("button", name="Send").click()
    await wait_for_event(page, "feedback-sent")
    await p.get_by_role("button", name="Thumbs up").click()
    sent = await wait_for_event(page, "feedback-sent", count=2)

    votes = await live_service.conversation_votes(conv)
    assert votes["current"] == "up"
    assert [v["vote"] for v in votes["history"]] == ["up", "down"]
    assert [v["id"] for v in votes["history"]] == [s["response"]["id"] for s in reversed(sent)]
    await expect(p.get_by_role("button", name="Thumbs up")).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(p.get_by_role("button", name="Thumbs down")).to_have_attribute(
        "aria-pressed", "false"
    )


async def test_keyboard_only_flow_with_tab_enter_space_and_esc_returns_focus(
    page: PageProbe, host_pages: HostPages, live_service: LiveService, conv: str
) -> None:
    await thumbs_page(page, host_pages, live_service, conv)
    p = page.page
    kb = p.keyboard
    thumbs_down = p.get_by_role("button", name="Thumbs down")

    await kb.press("Tab")
    await expect(p.get_by_role("button", name="Thumbs up")).to_be_focused()
    await kb.press("Tab")
    await expect(thumbs_down).to_be_focused()

    # Esc closes the sheet without sending and gives focus back to the thumb.
    await kb.press("Enter")
    await expect(p.get_by_role("dialog")).to_be_visible()
    await kb.press("Escape")
    await expect(p.get_by_role("dialog")).to_have_count(0)
    await expect(thumbs_down).to_be_focused()

    # Enter opens the sheet, which takes focus (its first reason chip).
    await kb.press("Enter")
    sheet = p.get_by_role("dialog")
    first = sheet.get_by_role("button", name="Not factually correct")
    await expect(first).to_be_focused()
    await kb.press("Space")
    await kb.press("Tab")
    await expect(
        sheet.get_by_role("button", name="Didn't fully follow instructions")
    ).to_be_focused()
    await kb.press("Space")
    comment = sheet.get_by_label("Comment")
    for _ in range(10):  # Tab past the remaining chips to the comment
        if await comment.evaluate("el => el.getRootNode().activeElement === el"):
            break
        await kb.press("Tab")
    await expect(comment).to_be_focused()
    await kb.type("Typed only.")
    await kb.press("Tab")
    await expect(sheet.get_by_role("button", name="Send")).to_be_focused()
    await kb.press("Enter")

    await wait_for_event(page, "feedback-sent")
    await expect(p.get_by_role("dialog")).to_have_count(0)
    await expect(thumbs_down).to_be_focused()
    [vote] = (await live_service.conversation_votes(conv))["history"]
    assert vote["vote"] == "down"
    assert vote["reasons"] == ["not_factually_correct", "didnt_fully_follow_instructions"]
    assert vote["comment"] == "Typed only."


async def test_network_failure_then_retry_stores_one_vote_with_the_same_idempotency_key(
    page: PageProbe, host_pages: HostPages, live_service: LiveService, conv: str
) -> None:
    await thumbs_page(page, host_pages, live_service, conv)
    p = page.page
    keys: list[str | None] = []
    replayed: list[str | None] = []

    async def flaky(route: Route, request: Request) -> None:
        if request.method != "POST":
            await route.continue_()
            return
        keys.append(request.headers.get("idempotency-key"))
        if len(keys) == 1:
            # The server stores the vote, but its answer never reaches the page: the case
            # where a retry without the same key would store a second vote.
            await route.fetch()
            await route.abort("connectionreset")
        else:
            await route.continue_()

    p.on(
        "response",
        lambda r: (
            replayed.append(r.headers.get("idempotent-replayed"))
            if r.request.method == "POST"
            else None
        ),
    )
    await p.route(f"{live_service.base_url}/api/v1/feedback", flaky)

    await p.get_by_role("button", name="Thumbs up").click()
    [error] = await wait_for_event(page, "feedback-error")
    assert error["status"] == 0
    assert error["retryable"] is True
    retry = p.get_by_role("button", name="Retry")
    await expect(retry).to_be_visible()
    await retry.click()
    [sent] = await wait_for_event(page, "feedback-sent")

    assert len(keys) == 2
    assert keys[0]
    assert keys[0] == keys[1]
    assert replayed[-1] == "true"
    votes = await live_service.conversation_votes(conv)
    assert [v["vote"] for v in votes["history"]] == ["up"]
    assert votes["history"][0]["id"] == sent["response"]["id"]
    await expect(retry).to_be_hidden()


async def test_expired_token_fires_token_expired_and_a_fresh_token_resends_the_vote(
    page: PageProbe, host_pages: HostPages, live_service: LiveService, conv: str
) -> None:
    expired = live_service.expired_token(conversation_id=conv)
    await thumbs_page(page, host_pages, live_service, conv, token=expired)
    p = page.page

    await p.get_by_role("button", name="Thumbs up").click()
    [event] = await wait_for_event(page, "token-expired")
    assert event["status"] == 401
    assert event["vote"] == "up"
    assert (await live_service.conversation_votes(conv))["history"] == []

    # What a host page does on `token-expired`: hand the element a token from its backend.
    fresh = await live_service.mint_token(conversation_id=conv)
    await p.locator("feedback-thumbs").evaluate("(el, t) => el.setAttribute('token', t)", fresh)
    await wait_for_event(page, "feedback-sent")
    assert [v["vote"] for v in (await live_service.conversation_votes(conv))["history"]] == ["up"]


async def test_italian_labels_name_the_controls_in_italian(
    page: PageProbe, host_pages: HostPages, live_service: LiveService, conv: str
) -> None:
    token = await live_service.mint_token(conversation_id=conv)
    # `lang` on an ancestor (e.g. <html lang="it">) is inherited like any HTML element's.
    body = f"<div lang='it'>{element('feedback-thumbs', conversation_id=conv, token=token)}</div>"
    await open_host_page(page, host_pages, live_service, body)
    p = page.page
    await p.get_by_role("button", name="Pollice giù").click()
    sheet = p.get_by_role("dialog")
    await expect(sheet.get_by_role("button", name="Non utile")).to_be_visible()
    await expect(sheet.get_by_label("Commento")).to_be_visible()
    await expect(sheet.get_by_role("button", name="Invia")).to_be_visible()


async def test_reasons_and_labels_properties_override_the_defaults(
    page: PageProbe, host_pages: HostPages, live_service: LiveService, conv: str
) -> None:
    await thumbs_page(page, host_pages, live_service, conv)
    p = page.page
    await p.locator("feedback-thumbs").evaluate(
        """el => {
          el.reasons = {down: ["wrong_tax_year", "other"]};
          el.labels = {other: "Something else", send: "Submit"};
        }"""
    )
    await p.get_by_role("button", name="Thumbs down").click()
    sheet = p.get_by_role("dialog")
    chips = sheet.locator("[part=chip]")
    await expect(chips).to_have_count(2)
    await expect(chips.nth(0)).to_have_accessible_name("Wrong tax year")
    await expect(chips.nth(1)).to_have_accessible_name("Something else")
    await chips.nth(0).click()
    await sheet.get_by_role("button", name="Submit").click()
    await wait_for_event(page, "feedback-sent")
    [vote] = (await live_service.conversation_votes(conv))["history"]
    assert vote["reasons"] == ["wrong_tax_year"]


async def test_up_reasons_attribute_opens_the_sheet_for_an_up_vote(
    page: PageProbe, host_pages: HostPages, live_service: LiveService, conv: str
) -> None:
    token = await live_service.mint_token(conversation_id=conv)
    body = element("feedback-thumbs", conversation_id=conv, token=token, up_reasons="")
    await open_host_page(page, host_pages, live_service, body)
    p = page.page
    await p.get_by_role("button", name="Thumbs up").click()
    sheet = p.get_by_role("dialog", name="What went well?")
    await sheet.get_by_role("button", name="Accurate information").click()
    await sheet.get_by_role("button", name="Send").click()
    await wait_for_event(page, "feedback-sent")
    [vote] = (await live_service.conversation_votes(conv))["history"]
    assert vote["vote"] == "up"
    assert vote["reasons"] == ["accurate_information"]
