"""Widget tests: browser fixtures from tests/browser.py, and host pages that embed the widget
the way an integrator's site does (another origin, the module loaded from the service)."""

from __future__ import annotations

import html
import uuid
from typing import Any

import pytest

from tests.browser import (  # noqa: F401  (fixtures)
    HostPages,
    LiveService,
    PageProbe,
    browser,
    host_pages,
    live_service,
    page,
)

# Records the widget's events in the page (CDP-evaluated, so the page's CSP does not apply).
RECORD_EVENTS = """() => {
  window.__events = [];
  for (const type of ["feedback-sent", "feedback-error", "token-expired"]) {
    document.addEventListener(type, (e) => window.__events.push({type, detail: e.detail}));
  }
}"""


def element(tag: str, **attributes: str) -> str:
    """`<tag a="…">` with attribute names from keyword arguments (`_` → `-`)."""
    attrs = " ".join(
        f'{name.replace("_", "-")}="{html.escape(value)}"' for name, value in attributes.items()
    )
    return f"<{tag} {attrs}></{tag}>"


def host_page(live: LiveService, body: str, *, head: str = "") -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>host</title>"
        f"<script type='module' src='{live.base_url}/widget/feedback.js'></script>{head}"
        f"</head><body>{body}</body></html>"
    )


async def open_host_page(
    probe: PageProbe, pages: HostPages, live: LiveService, body: str, **headers: str
) -> None:
    """Serve `body` on the host origin, open it, wait for the widget, record its events."""
    url = pages.add(f"/{uuid.uuid4().hex}.html", host_page(live, body), **headers)
    await probe.page.goto(url)
    await probe.page.wait_for_function(
        "() => !!(customElements.get('feedback-thumbs') && customElements.get('feedback-stars'))"
    )
    await probe.page.evaluate(RECORD_EVENTS)


async def wait_for_event(probe: PageProbe, event_type: str, count: int = 1) -> list[dict[str, Any]]:
    """The details of the first `count` events of that type (waits for them)."""
    # A function, not an expression string: strings are eval'd, which a strict CSP refuses.
    await probe.page.wait_for_function(
        "([type, n]) => window.__events.filter(e => e.type === type).length >= n",
        arg=[event_type, count],
    )
    events = await probe.page.evaluate("window.__events")
    return [e["detail"] for e in events if e["type"] == event_type]


def conversation_id() -> str:
    return f"conv-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def conv() -> str:
    return conversation_id()
