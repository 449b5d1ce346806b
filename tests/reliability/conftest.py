"""Fixtures of the reliability suite: its own PostgreSQL clusters and live services, each
killed in a `finally`. Every test here is marked `reliability` (run by
`make test-reliability`, left out of `make test`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from app import migrate
from tests.reliability.harness import PgCluster, Service

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(HERE):
            item.add_marker(pytest.mark.reliability)


@pytest.fixture
def make_cluster() -> Iterator[Callable[..., PgCluster]]:
    """Start clusters of our own; every one is killed and removed at the end."""
    made: list[PgCluster] = []

    def make(name: str = "pg", **settings: str) -> PgCluster:
        cluster = PgCluster(name)
        made.append(cluster)
        cluster.init()
        cluster.start(**settings)
        return cluster

    try:
        yield make
    finally:
        for cluster in made:
            cluster.destroy()


@pytest.fixture
async def cluster(make_cluster: Callable[..., PgCluster]) -> PgCluster:
    """A running cluster whose `postgres` database is at the Alembic head."""
    pg = make_cluster()
    await migrate.upgrade_to_head_async(pg.url)
    return pg


@pytest.fixture
async def make_service(tmp_path: Path) -> AsyncIterator[Callable[..., Service]]:
    started: list[Service] = []

    def make(database_url: str, **env: str) -> Service:
        service = Service(database_url, tmp_path / f"serve-{len(started)}.log", **env)
        started.append(service)
        return service

    try:
        yield make
    finally:
        for service in started:
            if service.process is not None and service.process.returncode is None:
                service.process.kill()
                await service.process.wait()
