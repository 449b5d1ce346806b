"""Concurrent requests with one key whose cache entry is missing (or just expired) share one
database lookup instead of each running its own."""

import asyncio

from app.auth import service as auth_service
from tests.conftest import app_on_own_database, bearer, committed_key


async def test_concurrent_misses_share_one_lookup(databases, monkeypatch) -> None:
    async with app_on_own_database(databases) as (app, http):
        key = bearer(await committed_key(app))
        calls = 0
        real = auth_service.find_key

        async def counting(session, public_id):
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.05)  # every request arrives while it is in flight
            return await real(session, public_id)

        monkeypatch.setattr(auth_service, "find_key", counting)
        responses = await asyncio.gather(
            *(http.get("/api/v1/whoami", headers=key) for _ in range(20))
        )
        assert [r.status_code for r in responses] == [200] * 20
        assert calls == 1
        assert app.state.auth.lookups == {}  # nothing left behind

        # A lookup that fails fails every request waiting on it, with the same answer.
        async def failing(session, public_id):
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.05)
            raise ConnectionRefusedError("database down")

        monkeypatch.setattr(auth_service, "find_key", failing)
        app.state.auth.key_cache = type(app.state.auth.key_cache)(60)  # empty cache
        calls = 0
        failed = await asyncio.gather(*(http.get("/api/v1/whoami", headers=key) for _ in range(10)))
        assert [r.status_code for r in failed] == [503] * 10
        assert all("Retry-After" in r.headers for r in failed)
        assert calls == 1
