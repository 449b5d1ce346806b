"""Group commit for the hot inserts: requests queue their rows, one writer commits them.

**The guarantee: acknowledged means committed.** A request hands its row to `submit()` and
awaits it; the future resolves only after the transaction holding that row (its user
registration and its Idempotency-Key record too) has committed. A 2xx is sent after that,
never before, so no acknowledged row can be lost by a crash, a SIGTERM or a failed commit.

How: a bounded `asyncio.Queue` feeds `writer_concurrency` loops. Each loop takes what is
queued (at most `writer_max_batch` rows, waiting at most `writer_max_delay_ms` for more)
and writes it in one transaction: Idempotency-Key claims, one `register_users`, one
multi-row INSERT per kind of row, the idempotency records, one COMMIT. Per-row commits
cost a WAL flush each; one flush per batch is where the throughput comes from.

- **A failing row fails only its own request**: if the batch's transaction fails, each of
  its rows is written again in a transaction of its own, so the good ones commit and the
  bad one gets its own error (mapped to 404/409/422 by `app/errors.py`). An unreachable
  database fails the whole batch at once (503), without retrying row by row.
- **Back-pressure**: when the queue is full, `submit()` raises `WriterOverloaded`
  (503 + Retry-After) instead of growing memory.
- **Shutdown**: `close()` (lifespan shutdown, after uvicorn drained the requests)
  refuses new rows and commits everything still queued before the pool closes.
- **Loops in parallel** (`writer_concurrency`, default 2: one batch is written while the
  next fills, so request CPU and database time overlap) are two transactions, as two
  processes would be: a second claim of an Idempotency-Key waits on the first one's row
  lock and replays it; a rater's ratings of an entry serialise on the entry's row
  (`cache_feedback_supersede`), so one current rating remains; when two batches deadlock,
  PostgreSQL aborts one, whose rows are then retried one by one (below).
- Statement-level triggers see ordinary multi-row INSERTs.

The rules stay where they live: a kind's `insert` is a service function of its domain
(`app/votes/service.py::record_votes`), idempotency is `app/idempotency/service.py`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.analytics.triggers import SLOT_SETTING
from app.auth.principal import Principal
from app.errors import PROBLEM_JSON, AppError, Problem, is_database_unavailable
from app.idempotency import service as idempotency_service
from app.idempotency.dependencies import Replay

log = logging.getLogger(__name__)
JSON = "application/json"
P = TypeVar("P")
R = TypeVar("R")


class WriterOverloaded(AppError):
    """The write queue is full (or the writer is shutting down): retry later."""

    status, title, slug = 503, "Service Unavailable", "overloaded"


@dataclass(frozen=True)
class RowKind(Generic[P, R]):
    """One kind of row: how to insert many at once, and what a created row answers."""

    name: str
    # Insert every payload in one statement (inside the writer's transaction), results
    # in the same order; it registers the rows' users itself (one home for that rule).
    insert: Callable[[AsyncSession, Sequence[P]], Awaitable[Sequence[R]]]
    # The response body of a created row: sent to the client and stored for replays.
    render: Callable[[R], bytes]
    status_code: int = 201
    # The user ids a row registers (idempotency records remember them for erasure).
    user_ids: Callable[[P], Iterable[int]] = lambda _payload: ()
    # When the status depends on the result (a re-send answers 200, not 201).
    status_of: Callable[[R], int] | None = None

    def written(self, result: R) -> Written:
        status = self.status_code if self.status_of is None else self.status_of(result)
        return Written(status, self.render(result))


@dataclass(frozen=True)
class Claim:
    """An Idempotency-Key as the writer claims it: (caller, key) and the request's print."""

    caller: str
    key: str
    fingerprint: str


@dataclass(frozen=True)
class Written:
    """What the route sends: the status and body of the committed row."""

    status_code: int
    body: bytes


@dataclass
class _Item:
    kind: RowKind[Any, Any]
    payload: Any
    claim: Claim | None
    future: asyncio.Future[Written]
    claim_id: object = None
    result: Any = None

    def settle(self, outcome: Written | BaseException) -> None:
        if self.future.done():  # the request went away; its row is committed anyway
            return
        if isinstance(outcome, BaseException):
            self.future.set_exception(outcome)
        else:
            self.future.set_result(outcome)


_STOP = object()
_SET_SLOT = sa.text(f"SELECT set_config('{SLOT_SETTING}', :slot, true)")


class _WriterCollector(Collector):
    """Queue depth, read at scrape time."""

    def __init__(self, writer: GroupWriter) -> None:
        self.writer = writer

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        depth = GaugeMetricFamily(
            "writer_queue_depth", "Rows queued for the group-commit writer, not yet taken."
        )
        depth.add_metric([], self.writer.queue_depth)
        capacity = GaugeMetricFamily("writer_queue_capacity", "Bound of the writer queue.")
        capacity.add_metric([], self.writer.queue_capacity)
        return [depth, capacity]


@dataclass
class WriterMetrics:
    registry: CollectorRegistry | None
    batch_size: Histogram = field(init=False)
    commit_seconds: Histogram = field(init=False)

    def __post_init__(self) -> None:
        registry = self.registry if self.registry is not None else CollectorRegistry()
        self.batch_size = Histogram(
            "writer_batch_rows",
            "Rows per group commit.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
            registry=registry,
        )
        self.commit_seconds = Histogram(
            "writer_commit_seconds",
            "Time to write and commit one batch.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=registry,
        )


class GroupWriter:
    """The group-commit writer of one process (on `app.state.writer`)."""

    def __init__(
        self,
        sessionmaker: Callable[[], async_sessionmaker[AsyncSession]],
        *,
        queue_size: int,
        max_batch: int,
        max_delay_seconds: float,
        concurrency: int = 1,
        retry_after_seconds: int = 1,
        registry: CollectorRegistry | None = None,
    ) -> None:
        # A callable, read per batch: tests swap the app's sessionmaker for one that joins
        # their outer transaction.
        self._sessionmaker = sessionmaker
        self._queue: asyncio.Queue[_Item | object] = asyncio.Queue(maxsize=queue_size)
        self.max_batch = max_batch
        self.max_delay_seconds = max_delay_seconds
        self.concurrency = concurrency
        self.retry_after_seconds = retry_after_seconds
        self._loops: list[asyncio.Task[None]] = []
        self._closing = False
        self._registry = registry
        self._collector = _WriterCollector(self)
        self.metrics = WriterMetrics(registry)
        if registry is not None:
            registry.register(self._collector)

    @classmethod
    def for_app(cls, app: FastAPI) -> GroupWriter:
        settings = app.state.settings
        return cls(
            lambda: app.state.sessionmaker,
            queue_size=settings.writer_queue_size,
            max_batch=settings.writer_max_batch,
            max_delay_seconds=settings.writer_max_delay_ms / 1000,
            concurrency=settings.writer_concurrency,
            retry_after_seconds=settings.retry_after_seconds,
            registry=getattr(app.state, "metrics_registry", None),
        )

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    @property
    def queue_capacity(self) -> int:
        return self._queue.maxsize

    @property
    def running(self) -> bool:
        """Started and not closed: rows are accepted."""
        return bool(self._loops) and not self._closing

    def start(self) -> None:
        self._loops = [asyncio.create_task(self._run(slot)) for slot in range(self.concurrency)]

    async def close(self) -> None:
        """Refuse new rows, commit every queued one, then stop (lifespan shutdown)."""
        self._closing = True
        for _ in self._loops:
            await self._queue.put(_STOP)  # after every queued row: FIFO
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops = []
        if self._registry is not None:
            for metric in (self._collector, self.metrics.batch_size, self.metrics.commit_seconds):
                self._registry.unregister(metric)
            self._registry = None

    def _overloaded(self, detail: str) -> WriterOverloaded:
        return WriterOverloaded(detail, headers={"Retry-After": str(self.retry_after_seconds)})

    async def submit(self, kind: RowKind[P, R], payload: P, *, claim: Claim | None) -> Written:
        """Queue one row and wait until it is committed; raises its own error otherwise."""
        if self._closing or not self._loops:
            raise self._overloaded("The service is shutting down; retry on another replica.")
        future: asyncio.Future[Written] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait(_Item(kind, payload, claim, future))
        except asyncio.QueueFull:
            raise self._overloaded("Too many writes are queued; retry later.") from None
        # No `asyncio.shield` (a future and callbacks per request, ~5 % of a vote's CPU):
        # the queued item, not this wait, is what the loop writes, and `settle` skips a
        # future that is already done, so a client that goes away (this wait cancelled,
        # which cancels the future) cannot cancel a row about to be committed.
        return await future

    # --- the loops --------------------------------------------------------------------

    async def _take(self, carry: list[_Item]) -> tuple[list[_Item], bool]:
        """The next batch (rows carried over first) and whether a stop was seen."""
        batch = list(carry)
        carry.clear()
        stop = False
        if not batch:
            first = await self._queue.get()
            if first is _STOP:
                return [], True
            assert isinstance(first, _Item)
            batch.append(first)
        waited = False
        while len(batch) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                if waited or self.max_delay_seconds <= 0 or self._closing:
                    break
                waited = True
                await asyncio.sleep(self.max_delay_seconds)
                continue
            if item is _STOP:
                stop = True
                break
            assert isinstance(item, _Item)
            batch.append(item)
        # One claim of an Idempotency-Key per transaction: a duplicate waits for the next
        # batch, where its claim sees the first one committed (and replays it).
        seen: set[tuple[str, str]] = set()
        unique: list[_Item] = []
        for item in batch:
            if item.claim is not None:
                ident = (item.claim.caller, item.claim.key)
                if ident in seen:
                    carry.append(item)
                    continue
                seen.add(ident)
            unique.append(item)
        return unique, stop

    async def _run(self, slot: int) -> None:
        carry: list[_Item] = []
        stop = False
        while not stop or carry:
            batch, stopped = await self._take(carry) if not stop else self._carried(carry)
            stop = stop or stopped
            if batch:
                try:
                    await self._write(batch, slot)
                except Exception as exc:  # never let a loop die with requests waiting on it
                    log.error("group commit failed unexpectedly", exc_info=exc)
                    for item in batch:
                        item.settle(exc)

    @staticmethod
    def _carried(carry: list[_Item]) -> tuple[list[_Item], bool]:
        item = carry.pop(0)
        return [item], True

    async def _write(self, batch: list[_Item], slot: int) -> None:
        started = time.perf_counter()
        try:
            outcomes = await self._transaction(batch, slot)
        except Exception as exc:
            if len(batch) == 1 or is_database_unavailable(exc):
                for item in batch:
                    item.settle(exc)
                return
            # Find the bad row: every row alone, so only it fails.
            for item in batch:
                try:
                    single = await self._transaction([item], slot)
                except Exception as item_exc:
                    item.settle(item_exc)
                else:
                    item.settle(single[0])
            return
        finally:
            self.metrics.batch_size.observe(len(batch))
            self.metrics.commit_seconds.observe(time.perf_counter() - started)
        for item, outcome in zip(batch, outcomes, strict=True):
            item.settle(outcome)

    async def _transaction(self, batch: list[_Item], slot: int) -> list[Written | BaseException]:
        """Write `batch` in one transaction; each row's outcome once it has committed."""
        outcomes: dict[int, Written | BaseException] = {}
        async with self._sessionmaker()() as session:
            # This loop's own rollup rows (`ROLLUP_SLOT`): no waiting on the other loops'.
            # Unset means slot 0, so the first loop spends no round trip on it.
            if slot:
                await session.execute(_SET_SLOT, {"slot": str(slot)})
            to_insert: list[_Item] = []
            for index, item in enumerate(batch):
                item.claim_id = None
                if item.claim is not None:
                    try:
                        claimed = await idempotency_service.claim(
                            session,
                            caller=item.claim.caller,
                            key=item.claim.key,
                            request_fingerprint=item.claim.fingerprint,
                        )
                    except AppError as exc:  # key reused with another body: 409
                        outcomes[index] = exc
                        continue
                    if claimed.replay is not None:
                        outcomes[index] = Replay(claimed.replay)  # the stored first response
                        continue
                    item.claim_id = claimed.id
                to_insert.append(item)
            by_kind: dict[str, list[_Item]] = {}
            for item in to_insert:
                by_kind.setdefault(item.kind.name, []).append(item)
            for items in by_kind.values():
                results = await items[0].kind.insert(session, [i.payload for i in items])
                for item, result in zip(items, results, strict=True):
                    item.result = result
            for index, item in enumerate(batch):
                if index in outcomes:
                    continue
                written = item.kind.written(item.result)
                if item.claim_id is not None:
                    await idempotency_service.record(
                        session,
                        item.claim_id,
                        status_code=written.status_code,
                        body=written.body.decode(),
                        owner_user_ids=item.kind.user_ids(item.payload),
                    )
                outcomes[index] = written
            await session.commit()
        return [outcomes[i] for i in range(len(batch))]


def render_json(content: Any) -> bytes:
    """The bytes FastAPI's JSONResponse would send for `content` (jsonable already)."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


WRITER_503: dict[str, Any] = {
    "model": Problem,
    "description": "Database unavailable, or the write queue is full; see Retry-After.",
    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def claim_for(
    principal: Principal, idempotency_key: str | None, method: str, path: str, body: bytes
) -> Claim | None:
    """The writer's claim of a request's Idempotency-Key (None without one): the key is the
    caller's, the print covers method, path and the exact body."""
    if idempotency_key is None:
        return None
    return Claim(
        caller=idempotency_service.caller_digest(principal.identity),
        key=idempotency_key,
        fingerprint=idempotency_service.fingerprint(method, path, body),
    )


async def write_row(
    request: Request,
    principal: Principal,
    kind: RowKind[P, R],
    payload: P,
    idempotency_key: str | None,
) -> Response:
    """Hand a validated, authorised row to the app's writer; the response once committed."""
    claim = None
    if idempotency_key is not None:
        claim = claim_for(
            principal, idempotency_key, request.method, request.url.path, await request.body()
        )
    writer: GroupWriter = request.app.state.writer
    written = await writer.submit(kind, payload, claim=claim)
    media_type = JSON if written.body else None  # a 204 has no body to describe
    return Response(content=written.body, status_code=written.status_code, media_type=media_type)
