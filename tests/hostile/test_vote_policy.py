"""1000 scripted submissions with one feedback token: the conversation's current vote moves
no more than the documented policy allows (README, "Vote policy"): at most
`N + N·t/60` votes recorded in t seconds, N = TOKEN_RATE_LIMIT_PER_MINUTE; the rest 429."""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable

import httpx
import pytest

from app.auth.models import Scope
from app.config import Settings
from app.main import create_app
from tests.conftest import DatabaseFactory, bearer, committed_key, make_settings

pytestmark = pytest.mark.hostile

SUBMISSIONS = 1000
# The shipped bucket with a small N: at the default (600) 1000 submissions at the ~25/s of
# two shared cores stay inside `N + N·t/60`, so a missing limiter would pass unnoticed.
PER_MINUTE = 20
assert Settings.model_fields["token_rate_limit_per_minute"].default > PER_MINUTE


async def test_one_token_cannot_move_the_current_vote_beyond_the_policy(
    databases: DatabaseFactory, figure: Callable[[str], None]
) -> None:
    app = create_app(
        make_settings(await databases.migrated(), token_rate_limit_per_minute=PER_MINUTE)
    )
    async with app.router.lifespan_context(app):
        ingest = bearer(await committed_key(app, Scope.ingest))
        admin = bearer(await committed_key(app, Scope.admin))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            minted = await http.post(
                "/api/v1/feedback-tokens", headers=ingest, json={"conversation_id": "c-policy"}
            )
            token = bearer(minted.json()["token"])
            started = time.monotonic()
            statuses = []
            for i in range(SUBMISSIONS):
                vote = "up" if i % 2 else "down"
                response = await http.post(
                    "/api/v1/feedback",
                    headers=token,
                    json={"conversation_id": "c-policy", "vote": vote},
                )
                statuses.append(response.status_code)
                if response.status_code == 429:
                    assert int(response.headers["retry-after"]) >= 1
            elapsed = time.monotonic() - started
            elsewhere = await http.post(
                "/api/v1/feedback", headers=token, json={"conversation_id": "c-other", "vote": "up"}
            )
            other = (await http.get("/api/v1/conversations/c-other/votes", headers=admin)).json()
            history = (
                await http.get("/api/v1/conversations/c-policy/votes", headers=admin)
            ).json()["history"]
    allowed = PER_MINUTE + math.ceil(PER_MINUTE * elapsed / 60)
    accepted = statuses.count(201)
    votes = [h["vote"] for h in reversed(history)]
    changes = sum(1 for a, b in itertools.pairwise(votes) if a != b) + bool(votes)
    figure(
        f"vote policy: {SUBMISSIONS} submissions with one token in {elapsed:.1f} s: "
        f"{accepted} recorded ({allowed} allowed, N = {PER_MINUTE}), "
        f"{statuses.count(429)} x 429, current vote changed {changes} times"
    )
    assert set(statuses) <= {201, 429}
    assert 1 <= accepted <= allowed, (accepted, allowed, elapsed)
    assert len(history) == accepted  # a refused vote stores nothing
    assert changes <= allowed
    # Never a vote on another conversation (403, or 429 once its bucket is spent).
    assert elsewhere.status_code in (403, 429)
    assert other["history"] == []
