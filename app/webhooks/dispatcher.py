"""The webhook dispatcher: a task in every service process that delivers the outbox.

* **Claim**: `SELECT … FOR UPDATE SKIP LOCKED` picks due, pending deliveries of enabled
  endpoints and, in the same short transaction, increments their attempt count and sets a
  lease (`WEBHOOK_LEASE_SECONDS`, longer than the HTTP timeout). No lock is held during
  the HTTP call; a process that dies mid-delivery leaves a lease that simply expires, and
  another dispatcher takes the delivery over. An attempt number is claimed once, so two
  dispatchers never send one event in the same attempt. The result is written back only
  if the attempt is still the delivery's latest (a fence against a late, expired claim).
* **Wake-up**: `LISTEN webhook_outbox` on a dedicated connection (the emitting transaction
  NOTIFYs at commit), and a poll every `WEBHOOK_POLL_SECONDS` that is enough on its own
  (LISTEN does not work through PgBouncer in transaction mode; `WEBHOOK_LISTEN=false`).
* **Delivery**: httpx, timeout `WEBHOOK_TIMEOUT_SECONDS`, redirects not followed, no proxy
  from the environment, to the address the SSRF guard checked at this attempt. 2xx:
  delivered. 410: the endpoint is disabled. Anything else: retried on the schedule of
  app/webhooks/backoff.py, honouring Retry-After; a delivery whose schedule runs out fails,
  and disables its endpoint when the endpoint has been failing since before it was created.
* It runs on its own small connection pool, so it never takes a connection from requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db import create_engine
from app.webhooks import ssrf
from app.webhooks.backoff import parse_retry_after, retry_delay
from app.webhooks.secrets import SecretUnreadable, feedback_signature, standard_signature
from app.webhooks.service import NOTIFY_CHANNEL, secret_box

log = logging.getLogger(__name__)

USER_AGENT = "feedback-service-webhooks/1"
ERROR_MAX = 500
OUTCOMES = ("delivered", "retry", "failed", "gone", "refused")

_CLAIM_SQL = sa.text(
    """
WITH due AS (
    SELECT d.id FROM webhook_deliveries AS d
    WHERE d.status = 'pending'
      AND d.next_attempt_at <= now()
      AND (d.lease_until IS NULL OR d.lease_until < now())
      AND EXISTS (SELECT 1 FROM webhook_endpoints AS e WHERE e.id = d.endpoint_id AND e.enabled)
    ORDER BY d.next_attempt_at
    LIMIT CAST(:n AS integer)
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries AS d
SET attempts = d.attempts + 1,
    lease_until = now() + make_interval(secs => CAST(:lease AS double precision))
FROM due, webhook_events AS ev, webhook_endpoints AS ep
WHERE d.id = due.id AND ev.id = d.event_id AND ep.id = d.endpoint_id
RETURNING d.id, d.attempts, d.schedule_start, d.created_at AS delivery_created_at,
          ev.id AS event_id, ev.type, ev.data, ev.created_at AS event_created_at,
          ep.id AS endpoint_id, ep.url, ep.secret_ciphertext, ep.previous_secret_ciphertext,
          ep.previous_secret_expires_at > now() AS previous_valid
"""
)

_RECORD_ATTEMPT_SQL = sa.text(
    """
INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error, duration_ms)
VALUES (:id, :attempt, :status_code, :error, :duration_ms)
ON CONFLICT (delivery_id, attempt) DO NOTHING
"""
)

# Fenced by the attempt number: a late result of an expired claim changes nothing.
_RECORD_DELIVERY_SQL = sa.text(
    """
UPDATE webhook_deliveries
SET status = CAST(:status AS webhook_delivery_status),
    next_attempt_at = coalesce(
        clock_timestamp() + make_interval(secs => CAST(:delay AS double precision)),
        next_attempt_at
    ),
    lease_until = NULL,
    last_status_code = :status_code,
    last_error = :error,
    delivered_at = CASE WHEN CAST(:status AS text) = 'delivered' THEN clock_timestamp()
                   ELSE delivered_at END
WHERE id = :id AND attempts = :attempt
RETURNING id
"""
)

_ENDPOINT_OK_SQL = sa.text("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = :id")
# now(): the same instant as this transaction's attempt row, so the comparison below holds
# for an endpoint whose run of failures began with this delivery's first attempt.
_ENDPOINT_FAILING_SQL = sa.text(
    "UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, now()) "
    "WHERE id = :id RETURNING failing_since"
)
# Disabled when no attempt has succeeded since the first attempt of this schedule.
_ENDPOINT_EXHAUSTED_SQL = sa.text(
    "UPDATE webhook_endpoints SET enabled = false, disabled_reason = :reason, "
    "disabled_at = clock_timestamp() WHERE id = :id AND enabled AND failing_since <= ("
    "SELECT created_at FROM webhook_attempts WHERE delivery_id = :delivery AND attempt = :first)"
)
_ENDPOINT_DISABLE_SQL = sa.text(
    "UPDATE webhook_endpoints SET enabled = false, disabled_reason = :reason, "
    "disabled_at = clock_timestamp() WHERE id = :id AND enabled"
)
_RELEASE_SQL = sa.text(
    "UPDATE webhook_deliveries SET lease_until = NULL, next_attempt_at = now() "
    "WHERE id = :id AND attempts = :attempt AND status = 'pending'"
)
# Pending deliveries of enabled endpoints (a disabled endpoint's are not attempted).
_BACKLOG_SQL = sa.text(
    "SELECT count(*) AS backlog, "
    "coalesce(extract(epoch FROM clock_timestamp() - min(d.created_at)), 0) AS oldest "
    "FROM webhook_deliveries AS d JOIN webhook_endpoints AS e ON e.id = d.endpoint_id "
    "WHERE d.status = 'pending' AND e.enabled"
)


@dataclass(frozen=True)
class Claimed:
    """One claimed attempt, with what it takes to send it."""

    id: uuid.UUID
    attempt: int
    schedule_start: int
    delivery_created_at: dt.datetime
    event_id: uuid.UUID
    type: str
    data: dict[str, Any]
    event_created_at: dt.datetime
    endpoint_id: uuid.UUID
    url: str
    secret_ciphertext: str
    previous_secret_ciphertext: str | None
    previous_valid: bool | None

    def body(self) -> bytes:
        """The payload `{id, type, created_at, data}`; the same bytes on every attempt."""
        document = {
            "id": str(self.event_id),
            "type": self.type,
            "created_at": self.event_created_at.astimezone(dt.UTC).isoformat(),
            "data": self.data,
        }
        return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to."""

    kind: str  # one of OUTCOMES
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None


def _trim(text: str) -> str:
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"


class Dispatcher:
    """Claims and delivers due webhook deliveries until stopped."""

    def __init__(
        self,
        settings: Settings,
        database_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: ssrf.Resolver = ssrf.system_resolver,
        engine: AsyncEngine | None = None,
    ) -> None:
        self.settings = settings
        self.database_url = database_url
        self.resolver = resolver
        self.allow = ssrf.AllowList.parse(settings.webhook_allow_hosts)
        self.schedule = list(settings.webhook_retry_schedule_seconds)
        self.concurrency = settings.webhook_batch_size
        # A lease shorter than an attempt could let a second dispatcher take it over early.
        self.lease_seconds = max(
            settings.webhook_lease_seconds, 2 * settings.webhook_timeout_seconds
        )
        self._own_engine = engine is None
        self.engine = engine or create_engine(
            settings.model_copy(update={"db_pool_size": 2}), database_url
        )
        self.http = httpx.AsyncClient(
            transport=transport,
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
            trust_env=False,  # an environment proxy would resolve the name itself
            # Fresh connections: a pooled one was opened with another host's SNI.
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        self.outcomes: Counter[str] = Counter()
        self.backlog = 0
        self.oldest_age_seconds = 0.0
        self._stats_at: float | None = None
        self._wake = asyncio.Event()
        self._soonest: float | None = None
        self._inflight: dict[asyncio.Task[None], Claimed] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = False
        self._rng = random.Random()  # noqa: S311  (jitter, not a secret)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the loop (and the LISTEN connection unless WEBHOOK_LISTEN is off)."""
        self._tasks.append(asyncio.create_task(self._run(), name="webhook-dispatcher"))
        if self.settings.webhook_listen:
            self._tasks.append(asyncio.create_task(self._listen(), name="webhook-listener"))

    async def stop(self) -> None:
        """Stop claiming, cancel attempts in flight and hand their deliveries back."""
        if self._stopped:
            return
        self._stopped = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        interrupted = [(t, c) for t, c in self._inflight.items() if not t.done()]
        for task, _ in interrupted:
            task.cancel()
        for task, _ in interrupted:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if interrupted:
            with contextlib.suppress(Exception):
                async with self.engine.begin() as conn:
                    for _, claim in interrupted:
                        await conn.execute(
                            _RECORD_ATTEMPT_SQL,
                            {
                                "id": claim.id,
                                "attempt": claim.attempt,
                                "status_code": None,
                                "error": "interrupted: the dispatcher stopped",
                                "duration_ms": None,
                            },
                        )
                        await conn.execute(_RELEASE_SQL, {"id": claim.id, "attempt": claim.attempt})
        self._inflight.clear()
        await self.http.aclose()
        if self._own_engine:
            await self.engine.dispose()

    def wake(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------ loop

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            claimed = 0
            try:
                claimed = await self.dispatch_due()
                await self._refresh_stats()
            except Exception as exc:  # an outage must not end the loop
                log.warning("webhook dispatch failed: %s", type(exc).__name__)
            if claimed and len(self._inflight) < self.concurrency:
                continue  # more may be due right now
            await self._sleep()

    async def _sleep(self) -> None:
        timeout = self.settings.webhook_poll_seconds
        if self._soonest is not None:
            timeout = max(0.0, min(timeout, self._soonest - time.monotonic()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=timeout)
        if self._soonest is not None and self._soonest <= time.monotonic():
            self._soonest = None  # that retry is due now; kept while it is still ahead

    async def dispatch_due(self) -> int:
        """Claim what free slots allow and start sending it; the number claimed."""
        free = self.concurrency - len(self._inflight)
        if free <= 0:
            return 0
        claims = await self.claim(free)
        for claim in claims:
            task = asyncio.create_task(self._attempt(claim))
            self._inflight[task] = claim
            task.add_done_callback(self._finished)
        return len(claims)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.pop(task, None)
        self._wake.set()

    async def claim(self, limit: int) -> list[Claimed]:
        """Claim up to `limit` due deliveries (one short transaction)."""
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(_CLAIM_SQL, {"n": limit, "lease": self.lease_seconds})
            ).mappings()
            return [
                Claimed(
                    id=r["id"],
                    attempt=r["attempts"],
                    schedule_start=r["schedule_start"],
                    delivery_created_at=r["delivery_created_at"],
                    event_id=r["event_id"],
                    type=r["type"],
                    data=r["data"],
                    event_created_at=r["event_created_at"],
                    endpoint_id=r["endpoint_id"],
                    url=r["url"],
                    secret_ciphertext=r["secret_ciphertext"],
                    previous_secret_ciphertext=r["previous_secret_ciphertext"],
                    previous_valid=r["previous_valid"],
                )
                for r in rows
            ]

    # ------------------------------------------------------------ one attempt

    async def _attempt(self, claim: Claimed) -> None:
        started = time.perf_counter()
        try:
            outcome = await self.send(claim)
        except Exception as exc:  # e.g. a URL httpx cannot send to: a failed attempt
            outcome = Outcome("retry", error=_trim(f"{type(exc).__name__}: {exc}"))
        duration_ms = (time.perf_counter() - started) * 1000
        try:
            await self.record(claim, outcome, duration_ms)
            # Recorded: a stop from here on must not hand this attempt back as interrupted.
            self._inflight.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
        except Exception as exc:
            # The lease expires and another attempt follows: at-least-once holds.
            log.warning("webhook result not recorded: %s", type(exc).__name__)

    def _secrets(self, claim: Claimed) -> list[str]:
        box = secret_box(self.settings)
        found = [box.open(claim.secret_ciphertext, claim.endpoint_id)]
        if claim.previous_secret_ciphertext is not None and claim.previous_valid:
            found.append(box.open(claim.previous_secret_ciphertext, claim.endpoint_id))
        return found

    async def send(self, claim: Claimed) -> Outcome:
        """POST the event to the checked address; never raises."""
        try:
            signing = self._secrets(claim)
        except SecretUnreadable:
            return Outcome("retry", error="the stored secret does not decrypt with this key")
        try:
            target = await ssrf.check_url(claim.url, self.allow, self.resolver)
        except ssrf.AddressRefused as exc:
            return Outcome("refused", error=_trim(f"refused by the address policy: {exc.reason}"))
        body = claim.body()
        msg_id = str(claim.event_id)
        timestamp = int(time.time())
        headers = {
            "Host": target.host_header,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": standard_signature(signing, msg_id, timestamp, body),
            "X-Feedback-Signature": feedback_signature(signing, body),
        }
        extensions = {"sni_hostname": target.hostname} if target.scheme == "https" else {}
        try:
            response = await self.http.post(
                target.connect_url, content=body, headers=headers, extensions=extensions
            )
        except httpx.TimeoutException:
            return Outcome("retry", error="timed out")
        except httpx.HTTPError as exc:
            return Outcome("retry", error=_trim(f"{type(exc).__name__}: {exc}"))
        code = response.status_code
        if 200 <= code < 300:
            return Outcome("delivered", status_code=code)
        if code == 410:
            return Outcome("gone", status_code=code, error="HTTP 410 Gone from the receiver")
        retry_after = parse_retry_after(
            response.headers.get("retry-after"), dt.datetime.now(dt.UTC)
        )
        if 300 <= code < 400:
            location = response.headers.get("location", "")
            error = f"HTTP {code}: redirect to {location!r} not followed"
            return Outcome("retry", status_code=code, error=_trim(error), retry_after=retry_after)
        return Outcome(
            "retry",
            status_code=code,
            error=f"HTTP {code} from the receiver",
            retry_after=retry_after,
        )

    async def record(self, claim: Claimed, outcome: Outcome, duration_ms: float | None) -> None:
        """Write the attempt, the delivery's new state and the endpoint's health."""
        kind = outcome.kind
        delay: float | None = None
        status = "pending"
        if kind == "delivered":
            status = "delivered"
        elif kind == "gone":
            status = "failed"
        else:
            delay = retry_delay(
                claim.attempt - claim.schedule_start,
                self.schedule,
                retry_after=outcome.retry_after,
                rng=self._rng,
            )
            if delay is None:
                status, kind = "failed", "failed"
        async with self.engine.begin() as conn:
            await conn.execute(
                _RECORD_ATTEMPT_SQL,
                {
                    "id": claim.id,
                    "attempt": claim.attempt,
                    "status_code": outcome.status_code,
                    "error": outcome.error,
                    "duration_ms": duration_ms,
                },
            )
            current = (
                await conn.execute(
                    _RECORD_DELIVERY_SQL,
                    {
                        "id": claim.id,
                        "attempt": claim.attempt,
                        "status": status,
                        "delay": delay,
                        "status_code": outcome.status_code,
                        "error": outcome.error,
                    },
                )
            ).first()
            if current is None:
                return  # superseded by a newer claim of the same delivery
            if kind == "delivered":
                await conn.execute(_ENDPOINT_OK_SQL, {"id": claim.endpoint_id})
            elif kind == "gone":
                reason = "The receiver answered 410 Gone."
                await conn.execute(
                    _ENDPOINT_DISABLE_SQL, {"id": claim.endpoint_id, "reason": reason}
                )
            else:
                since = (
                    await conn.execute(_ENDPOINT_FAILING_SQL, {"id": claim.endpoint_id})
                ).scalar_one()
                if kind == "failed":
                    reason = _trim(
                        f"Every attempt failed for the whole retry schedule "
                        f"({len(self.schedule) + 1} attempts; failing since "
                        f"{since.isoformat()}). Last error: {outcome.error}"
                    )
                    await conn.execute(
                        _ENDPOINT_EXHAUSTED_SQL,
                        {
                            "id": claim.endpoint_id,
                            "reason": reason,
                            "delivery": claim.id,
                            "first": claim.schedule_start + 1,
                        },
                    )
        self.outcomes[kind] += 1
        if delay is not None:
            due = time.monotonic() + delay
            self._soonest = due if self._soonest is None else min(self._soonest, due)

    # ------------------------------------------------------------ wake-ups and stats

    def _listen_dsn(self) -> str:
        url = make_url(self.database_url).set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    async def _listen(self) -> None:
        """Hold a LISTEN connection; reconnect with a pause when it drops."""
        while True:
            conn: Any = None
            try:
                conn = await asyncpg.connect(self._listen_dsn(), timeout=10)
                closed = asyncio.Event()
                conn.add_termination_listener(lambda *_, done=closed: done.set())
                await conn.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
                self._wake.set()  # catch up on what was committed while not listening
                await closed.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("webhook LISTEN unavailable (polling continues): %s", type(exc).__name__)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), timeout=2)
            await asyncio.sleep(max(self.settings.webhook_poll_seconds, 1.0))

    async def _refresh_stats(self) -> None:
        now = time.monotonic()
        if self._stats_at is not None and now - self._stats_at < self.settings.webhook_poll_seconds:
            return
        self._stats_at = now
        async with self.engine.connect() as conn:
            row = (await conn.execute(_BACKLOG_SQL)).one()
        self.backlog = int(row.backlog)
        self.oldest_age_seconds = float(row.oldest)


class DispatcherCollector(Collector):
    """`/metrics`: outbox backlog and oldest undelivered age of enabled endpoints (as of the
    dispatcher's last refresh, at most WEBHOOK_POLL_SECONDS old) and this process's
    attempts by outcome."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        dispatcher: Dispatcher | None = getattr(self.app.state, "webhooks", None)
        backlog = GaugeMetricFamily(
            "webhook_outbox_backlog", "Webhook deliveries not yet delivered (pending)."
        )
        oldest = GaugeMetricFamily(
            "webhook_outbox_oldest_age_seconds", "Age of the oldest pending webhook delivery."
        )
        attempts = CounterMetricFamily(
            "webhook_delivery_attempts",
            "Webhook delivery attempts by outcome (delivered, retry, failed: schedule used "
            "up, gone: 410, refused: address policy).",
            labels=["outcome"],
        )
        if dispatcher is not None:
            backlog.add_metric([], dispatcher.backlog)
            oldest.add_metric([], dispatcher.oldest_age_seconds)
            for outcome in OUTCOMES:
                attempts.add_metric([outcome], dispatcher.outcomes[outcome])
        return [backlog, oldest, attempts]


def start(app: FastAPI, settings: Settings, database_url: str) -> Dispatcher | None:
    """Start this process's dispatcher (unless WEBHOOK_DISPATCHER is off) and its metrics."""
    registry = getattr(app.state, "metrics_registry", None)
    if registry is not None and not getattr(app.state, "webhook_metrics", False):
        registry.register(DispatcherCollector(app))
        app.state.webhook_metrics = True
    if not settings.webhook_dispatcher:
        app.state.webhooks = None
        return None
    dispatcher = Dispatcher(settings, database_url)
    dispatcher.start()
    app.state.webhooks = dispatcher
    return dispatcher


async def stop(app: FastAPI) -> None:
    """Stop the dispatcher started by `start`, if any."""
    dispatcher: Dispatcher | None = getattr(app.state, "webhooks", None)
    if dispatcher is not None:
        await dispatcher.stop()
        app.state.webhooks = None
