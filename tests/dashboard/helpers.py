"""Reading the dashboard's HTML in tests: sign-in, CSRF tokens, and table cells' values."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import httpx

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


async def sign_in(http: httpx.AsyncClient, key: str) -> httpx.Response:
    form = await http.get("/dashboard/login")
    return await http.post(
        "/dashboard/login",
        data={"csrf_token": csrf_token(form.text), "api_key": key, "next": "/dashboard"},
    )


class _Tables(HTMLParser):
    """Collects, per element id, the rows of `data-value` cells under it."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str | None] = []
        self.tables: dict[str, list[list[Any]]] = {}
        self.row: list[Any] | None = None
        self.values: dict[str, Any] = {}
        self.kpi: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("figure", "table", "section", "p"):
            self.stack.append(a.get("id"))
        if tag == "tr":
            self.row = []
        if "data-value" in a and a["data-value"] is not None:
            value = json.loads(a["data-value"])
            if self.row is not None and tag == "td":
                self.row.append(value)
            if a.get("data-total"):
                self.values[str(a["data-total"])] = value
        if tag == "tr" and a.get("data-kpi"):
            self.kpi = a["data-kpi"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self.row is not None:
            if self.row:
                for owner in self.stack:
                    if owner:
                        self.tables.setdefault(owner, []).append(self.row)
                if self.kpi is not None:
                    self.values[self.kpi] = self.row[0]
                    self.kpi = None
            self.row = None
        if tag in ("figure", "table", "section", "p") and self.stack:
            self.stack.pop()


def page_tables(html: str) -> tuple[dict[str, list[list[Any]]], dict[str, Any]]:
    """({element id: rows of data-value cells}, {kpi or total name: value})."""
    parser = _Tables()
    parser.feed(html)
    return parser.tables, parser.values


def chart_spec(html: str, chart_id: str) -> dict[str, Any]:
    match = re.search(
        rf'<script type="application/json" id="{re.escape(chart_id)}-data">(.*?)</script>',
        html,
        re.S,
    )
    assert match, f"no chart data for {chart_id}"
    spec: dict[str, Any] = json.loads(match.group(1))
    return spec
