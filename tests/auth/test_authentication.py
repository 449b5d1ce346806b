"""The caller is resolved once, before the body is read; unauthenticated traffic is bounded."""

import httpx
import sqlalchemy as sa

from app.auth.authentication import LRU, KeyCache
from app.main import create_app
from tests.conftest import bearer, make_settings


async def test_credentials_are_checked_before_the_body_is_parsed(client) -> None:
    for headers in ({}, bearer("fbk_unknown_secret"), bearer("fbt_forged")):
        response = await client.post(
            "/api/v1/feedback",
            headers={**headers, "content-type": "application/json"},
            content=b'{"conversation_id": ',  # not even JSON
        )
        assert response.status_code == 401, (headers, response.text)


async def test_failed_authentication_spends_a_budget_per_address(database_url) -> None:
    app = create_app(make_settings(database_url, failed_auth_per_minute=3))
    lookups = 0

    async with app.router.lifespan_context(app):
        original = app.state.sessionmaker

        def counting_sessionmaker():
            nonlocal lookups
            lookups += 1
            return original()

        app.state.sessionmaker = counting_sessionmaker
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            codes = [
                (await http.get("/api/v1/whoami", headers=bearer(f"fbk_{i:012x}_nope")))
                for i in range(5)
            ]
        other = httpx.ASGITransport(app=app, client=("203.0.113.8", 1234))
        async with httpx.AsyncClient(transport=other, base_url="http://t") as http:
            elsewhere = await http.get("/api/v1/whoami", headers=bearer("fbk_000000000099_x"))
    assert [r.status_code for r in codes] == [401, 401, 401, 429, 429]
    assert int(codes[-1].headers["retry-after"]) >= 1
    assert lookups == 3 + 1  # refused attempts never reach the database
    assert elsewhere.status_code == 401  # the budget is per client address


def test_caches_forget_the_oldest_entries_not_all_of_them() -> None:
    lru: LRU[int, int] = LRU(3)
    for i in range(3):
        lru.put(i, i)
    assert lru.get(0) == 0  # 0 is now the most recently used
    lru.put(3, 3)
    assert lru.get(1) is None
    assert [lru.get(i) for i in (0, 2, 3)] == [0, 2, 3]
    cache = KeyCache(ttl_seconds=60, capacity=2)
    cache.put("a", None)
    cache.put("b", None)
    cache.put("c", None)
    assert cache.get("a") == (False, None)
    assert cache.get("c") == (True, None)


async def test_whoami_names_the_caller(client, make_key, ingest_headers, db) -> None:
    from app.auth.models import Scope

    key = await make_key(Scope.ingest, name="gateway")
    me = await client.get("/api/v1/whoami", headers=bearer(key))
    assert me.status_code == 200
    body = me.json()
    assert body["kind"] == "key"
    assert body["scope"] == "ingest"
    key_id = await db.scalar(
        sa.text("SELECT id::text FROM api_keys WHERE public_id = :p"), {"p": key.split("_")[1]}
    )
    assert body["key_id"] == key_id
    minted = await client.post(
        "/api/v1/feedback-tokens",
        headers=ingest_headers,
        json={"conversation_id": "conv-who", "user_id": 4211},
    )
    token = await client.get("/api/v1/whoami", headers=bearer(minted.json()["token"]))
    assert token.json() | {"expires_at": None} == {
        "kind": "token",
        "scope": None,
        "key_id": None,
        "expert_id": None,
        "conversation_id": "conv-who",
        "cache_key": None,
        "user_id": 4211,
        "expires_at": None,
    }
    assert (await client.get("/api/v1/whoami")).status_code == 401
