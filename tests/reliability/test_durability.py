"""PostgreSQL's commit guarantee, end to end: kill -9 of the database or of the service
under write load loses no acknowledged (2xx) write; the same harness with
`synchronous_commit=off` injected does detect loss (so it can fail)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from tests.reliability.harness import Figure, Load, PgCluster, Service, create_key, missing_votes

LOAD_SECONDS = 5.0
CLIENTS = 8
WANTED_ACKS = 100  # keep loading past LOAD_SECONDS until this many (bounded by EXTRA_SECONDS)
EXTRA_SECONDS = 15.0
MIN_ACKS = 20  # below this the run proves little: the machine was starved


async def _load_long_enough(load: Load) -> None:
    """At least LOAD_SECONDS of load, longer (bounded) on a starved machine."""
    await asyncio.sleep(LOAD_SECONDS)
    for _ in range(int(EXTRA_SECONDS * 10)):
        if len(load.acknowledged) >= WANTED_ACKS:
            break
        await asyncio.sleep(0.1)


async def _kill_postgres_under_load(
    cluster: PgCluster, service: Service, token: str
) -> tuple[Load, set[str]]:
    """8 writers for >= 5 s, kill -9 of every PostgreSQL process mid-load, restart it; the
    acknowledged votes that are missing afterwards."""
    load = Load(service.base, token, clients=CLIENTS, timeout=10)
    tasks = load.start()
    try:
        await _load_long_enough(load)
        await asyncio.to_thread(cluster.kill9)
        await asyncio.sleep(0.5)  # requests in flight fail; none may be acknowledged
    finally:
        load.stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
    await asyncio.to_thread(cluster.start)
    return load, await missing_votes(cluster, load.acknowledged)


async def test_kill9_postgres_under_load_loses_no_acknowledged_write(
    cluster: PgCluster, make_service: Callable[..., Service], figure: Figure
) -> None:
    service = make_service(cluster.url)
    await service.start()
    token = await create_key(cluster.url)
    load, missing = await _kill_postgres_under_load(cluster, service, token)

    assert len(load.acknowledged) >= MIN_ACKS, load.statuses()
    assert not missing, f"{len(missing)} of {len(load.acknowledged)} acknowledged votes lost"
    # The service came back without a restart: the same process writes again.
    async with httpx.AsyncClient(base_url=service.base, timeout=10) as http:
        after = await http.post(
            "/api/v1/feedback",
            json={"conversation_id": "after-restart", "vote": "down"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert after.status_code == 201, after.text
    errors = {s for s in load.statuses() if s is not None and s >= 500}
    assert errors <= {503}, load.statuses()
    figure(
        f"kill -9 postgres: {len(load.acknowledged)} acknowledged by {CLIENTS} clients "
        f"(>= {LOAD_SECONDS:.0f}s of load), 0 lost; statuses {load.statuses()}"
    )


async def test_harness_detects_loss_with_synchronous_commit_off(
    make_cluster: Callable[..., PgCluster], make_service: Callable[..., Service], figure: Figure
) -> None:
    from app import migrate

    # Asynchronous commit acknowledges before the WAL is flushed; a long WAL writer delay
    # widens the window so the kill reliably lands inside it.
    unsafe = {"synchronous_commit": "off", "wal_writer_delay": "10s"}
    cluster = make_cluster("syncoff", **unsafe)
    await migrate.upgrade_to_head_async(cluster.url)
    # /readyz refuses such a database by default; the harness runs it anyway to show loss.
    service = make_service(cluster.url, REQUIRE_DURABLE_COMMITS="false")
    await service.start()
    async with httpx.AsyncClient(base_url=service.base, timeout=10) as http:
        ready = (await http.get("/readyz")).json()
    assert ready["durability"]["synchronous_commit"] == "off"
    token = await create_key(cluster.url)

    cluster_start = cluster.start
    cluster.start = lambda **_: cluster_start(**unsafe)  # type: ignore[method-assign]
    load, missing = await _kill_postgres_under_load(cluster, service, token)

    assert len(load.acknowledged) >= MIN_ACKS, load.statuses()
    assert missing, "synchronous_commit=off lost nothing: the harness could not fail"
    figure(
        f"synchronous_commit=off: {len(missing)} of {len(load.acknowledged)} acknowledged "
        "votes lost (detected)"
    )


async def test_kill9_service_under_load_then_retries_give_one_row_per_key(
    cluster: PgCluster, make_service: Callable[..., Service], figure: Figure
) -> None:
    service = make_service(cluster.url)
    await service.start()
    token = await create_key(cluster.url)
    load = Load(service.base, token, clients=CLIENTS, timeout=10)
    tasks = load.start()
    try:
        await _load_long_enough(load)
        await service.kill9()  # requests in flight lose their connection
        await asyncio.sleep(0.3)
    finally:
        load.stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)

    # The postmaster's backends of the killed process end on their own; restart serve.
    await service.start()
    assert not await missing_votes(cluster, load.acknowledged)
    unacknowledged = [o for o in load.outcomes if o.vote_id is None]
    assert unacknowledged, "the kill landed between requests: nothing in flight"

    retried: dict[int, int] = {}
    async with httpx.AsyncClient(base_url=service.base, timeout=10) as http:
        for outcome in unacknowledged:
            response = await http.post(
                "/api/v1/feedback",
                json=load.body(outcome.key),
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": outcome.key},
            )
            retried[response.status_code] = retried.get(response.status_code, 0) + 1
            assert response.status_code == 201, response.text
        # A second retry of every key replays: still nothing new is written.
        for outcome in load.outcomes[:50]:
            again = await http.post(
                "/api/v1/feedback",
                json=load.body(outcome.key),
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": outcome.key},
            )
            assert again.status_code == 201
            assert again.headers.get("idempotent-replayed") == "true"

    keys = [o.key for o in load.outcomes]
    rows = await cluster.fetch(
        "SELECT conversation_id, count(*) AS n FROM votes "
        "WHERE conversation_id = ANY($1::text[]) GROUP BY conversation_id",
        keys,
    )
    counts = {r["conversation_id"]: r["n"] for r in rows}
    assert set(counts) == set(keys), f"{len(set(keys) - set(counts))} keys have no row"
    assert all(n == 1 for n in counts.values()), {k: n for k, n in counts.items() if n != 1}
    figure(
        f"kill -9 serve: {len(load.acknowledged)} acknowledged, all present; "
        f"{len(unacknowledged)} unacknowledged retried ({retried}); "
        f"{len(keys)} keys -> {len(keys)} rows"
    )
