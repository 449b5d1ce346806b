"""Each /api/v1 operation by each kind of credential → allowed (anything but 401/403) or 403.

The table is api.md's "auth" column; a route missing from it fails the test, so every new
route must declare who may call it."""

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa

from app.auth.models import Scope
from app.main import create_app
from tests.auth.test_route_protection import api_routes
from tests.conftest import bearer

INGEST, EXPERT, ADMIN, CONV_TOKEN, CACHE_TOKEN = "ingest", "expert", "admin", "conv", "cache"
ALL = (INGEST, EXPERT, ADMIN, CONV_TOKEN, CACHE_TOKEN)
KEYS = {ADMIN, INGEST}

EXPECTED: dict[tuple[str, str], set[str]] = {
    ("POST", "/api/v1/feedback-tokens"): KEYS,
    ("POST", "/api/v1/feedback"): KEYS | {CONV_TOKEN},
    ("GET", "/api/v1/conversations/{conversation_id}/votes"): {ADMIN},
    ("GET", "/api/v1/analytics/votes"): {ADMIN},
    ("POST", "/api/v1/routing/metrics"): KEYS,
    ("POST", "/api/v1/routing/feedback"): KEYS,
    ("GET", "/api/v1/analytics/routing"): {ADMIN},
    ("GET", "/api/v1/routing/recommendations"): KEYS,
    ("GET", "/api/v1/analytics/routing/regret"): {ADMIN},
    ("POST", "/api/v1/cache/entries"): KEYS,
    ("GET", "/api/v1/cache/entries"): KEYS,
    ("GET", "/api/v1/cache/entries/{cache_key}"): KEYS,
    ("DELETE", "/api/v1/cache/entries/{cache_key}"): {ADMIN},
    ("POST", "/api/v1/cache/entries/{cache_key}/hits"): KEYS,
    ("POST", "/api/v1/cache/entries/{cache_key}/feedback"): KEYS | {CACHE_TOKEN},
    ("POST", "/api/v1/cache/entries/{cache_key}/unflag"): {ADMIN},
    ("GET", "/api/v1/analytics/cache"): {ADMIN},
    ("POST", "/api/v1/experts"): {ADMIN},
    ("GET", "/api/v1/experts"): {ADMIN},
    ("GET", "/api/v1/experts/{expert_id}"): {ADMIN},
    ("PATCH", "/api/v1/experts/{expert_id}"): {ADMIN},
    ("POST", "/api/v1/experts/{expert_id}/keys"): {ADMIN},
    ("POST", "/api/v1/expert-feedback"): {ADMIN, EXPERT},
    ("GET", "/api/v1/experts/{expert_id}/feedback"): {ADMIN},
    ("GET", "/api/v1/faq-candidates"): {ADMIN},
    ("POST", "/api/v1/faq-candidates/{candidate_id}/approve"): {ADMIN},
    ("POST", "/api/v1/faq-candidates/{candidate_id}/reject"): {ADMIN},
    ("GET", "/api/v1/analytics/experts"): {ADMIN},
    ("DELETE", "/api/v1/users/{user_id}"): {ADMIN},
    ("GET", "/api/v1/export/{dataset}"): {ADMIN},
    ("GET", "/api/v1/whoami"): set(ALL),
    ("GET", "/api/v1/review-queue"): {ADMIN},
    ("GET", "/api/v1/analytics/calibration"): {ADMIN},
    ("POST", "/api/v1/webhooks"): {ADMIN},
    ("GET", "/api/v1/webhooks"): {ADMIN},
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): {ADMIN},
    ("POST", "/api/v1/webhooks/{webhook_id}/rotate-secret"): {ADMIN},
    ("POST", "/api/v1/webhooks/{webhook_id}/enable"): {ADMIN},
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): {ADMIN},
    ("POST", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"): {ADMIN},
}

PATH_VALUES = {
    "conversation_id": "conv-matrix",
    "cache_key": "cache-matrix",
    "expert_id": str(uuid.uuid4()),
    "candidate_id": str(uuid.uuid4()),
    "user_id": "987654321",
    "dataset": "votes",
    "webhook_id": str(uuid.uuid4()),
    "delivery_id": str(uuid.uuid4()),
}


def _operations() -> list[tuple[str, str]]:
    # `{cache_key:path}` is `{cache_key}` in the contract (the convertor admits slashes).
    return sorted(
        (method, re.sub(r":\w+}", "}", r.path or ""))
        for r in api_routes(create_app())
        for method in r.methods or ()
    )


def test_every_operation_declares_who_may_call_it() -> None:
    assert set(_operations()) == set(EXPECTED)


@pytest.fixture
async def credentials(client, make_key, db, ingest_headers) -> dict[str, dict[str, str]]:
    await db.execute(sa.text("INSERT INTO users (id) VALUES (880001)"))
    expert_id = await db.scalar(
        sa.text(
            "INSERT INTO expert_profiles (user_id, is_verified) VALUES (880001, true) RETURNING id"
        )
    )
    await db.commit()
    conv = await client.post(
        "/api/v1/feedback-tokens",
        headers=ingest_headers,
        json={"conversation_id": PATH_VALUES["conversation_id"]},
    )
    cache = await client.post(
        "/api/v1/feedback-tokens",
        headers=ingest_headers,
        json={"cache_key": PATH_VALUES["cache_key"]},
    )
    return {
        INGEST: ingest_headers,
        ADMIN: bearer(await make_key(Scope.admin)),
        EXPERT: bearer(await make_key(Scope.expert, expert_id=expert_id)),
        CONV_TOKEN: bearer(conv.json()["token"]),
        CACHE_TOKEN: bearer(cache.json()["token"]),
    }


@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED))
async def test_scope_matrix(
    client: httpx.AsyncClient, credentials: dict[str, dict[str, str]], method: str, path: str
) -> None:
    url = path.format(**PATH_VALUES)
    outcome = {}
    for who in ALL:
        body: dict[str, object] | None = {} if method in ("POST", "PATCH") else None
        response = await client.request(method, url, headers=credentials[who], json=body)
        outcome[who] = response.status_code
    allowed = {who for who, code in outcome.items() if code not in (401, 403)}
    refused = {who: code for who, code in outcome.items() if who not in allowed}
    assert allowed == EXPECTED[(method, path)], outcome
    assert set(refused.values()) <= {403}, outcome


# --- Credentials that are not valid: 401 on every protected operation -----------------


@pytest.fixture
async def bad_credentials(app, client, make_key, db) -> AsyncIterator[dict[str, dict[str, str]]]:
    """Each kind of credential the service must refuse as unauthenticated."""
    import datetime as dt

    from app.auth import service as auth_service

    revoked = await make_key(Scope.admin, name="to revoke")
    await auth_service.revoke_key(db, revoked.split("_")[1])
    await db.commit()
    minter = await make_key(Scope.ingest, name="minter")
    record = await auth_service.find_key(db, minter.split("_")[1])
    assert record is not None
    expired, _ = app.state.auth.signer.mint(
        conversation_id=PATH_VALUES["conversation_id"],
        cache_key=None,
        user_id=None,
        ttl_seconds=60,
        key_id=record.id,
        now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2),
    )
    # 8 refusals x every route would spend the per-address failure budget (tested apart).
    budget = app.state.auth.failed_auth
    saved, budget.per_minute = budget.per_minute, 0
    yield {
        "anonymous": {},
        "empty bearer": {"Authorization": "Bearer "},
        "other scheme": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "malformed key": bearer("fbk_not-a-key"),
        "unknown key": bearer("fbk_000000000000_" + "x" * 43),
        "tampered token": bearer("fbt_" + "x" * 60),
        "revoked key": bearer(revoked),
        "expired token": bearer(expired),
    }
    budget.per_minute = saved


@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED))
async def test_invalid_credentials_are_401_everywhere(
    client: httpx.AsyncClient,
    bad_credentials: dict[str, dict[str, str]],
    method: str,
    path: str,
) -> None:
    url = path.format(**PATH_VALUES)
    outcome = {}
    for who, headers in bad_credentials.items():
        body: dict[str, object] | None = {} if method in ("POST", "PATCH") else None
        response = await client.request(method, url, headers=headers, json=body)
        outcome[who] = response.status_code
    assert outcome == dict.fromkeys(bad_credentials, 401)


async def test_an_expert_key_never_reaches_another_experts_data(
    client: httpx.AsyncClient, make_key, db, admin_headers
) -> None:
    ids = []
    for user in (880101, 880102):
        await db.execute(sa.text("INSERT INTO users (id) VALUES (:u)"), {"u": user})
        ids.append(
            await db.scalar(
                sa.text("INSERT INTO expert_profiles (user_id) VALUES (:u) RETURNING id"),
                {"u": user},
            )
        )
    await db.commit()
    own, other = ids
    key = bearer(await make_key(Scope.expert, expert_id=own))
    review = {
        "query_id": str(uuid.uuid4()),
        "feedback_type": "correct",
        "query_text": "q",
        "original_answer": "a",
        "confidence_score": 0.9,
        "time_spent_seconds": 30,
    }
    reads = {
        url: (await client.get(url, headers=key)).status_code
        for url in (
            f"/api/v1/experts/{other}",
            f"/api/v1/experts/{other}/feedback",
            "/api/v1/experts",
            "/api/v1/analytics/experts",
        )
    }
    as_other = await client.post(
        "/api/v1/expert-feedback", headers=key, json={**review, "expert_id": str(other)}
    )
    as_self = await client.post("/api/v1/expert-feedback", headers=key, json=review)
    whoami = (await client.get("/api/v1/whoami", headers=key)).json()
    stored = (
        await db.execute(
            sa.text("SELECT expert_id FROM expert_feedback WHERE query_id = :q"),
            {"q": review["query_id"]},
        )
    ).scalars()
    own_reviews = await client.get(f"/api/v1/experts/{own}/feedback", headers=key)
    assert set(reads.values()) == {403}, reads
    # Its own reviews it may read (`Principal.may_read_expert`), and they are only its own.
    assert own_reviews.status_code == 200
    assert {r["expert_id"] for r in own_reviews.json()["items"]} == {str(own)}
    assert as_other.status_code == 403
    assert as_self.status_code == 201, as_self.text
    assert whoami["expert_id"] == str(own)
    assert list(stored) == [own]
