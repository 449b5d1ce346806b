"""Retention: delete rows older than a cutoff, per dataset, in small batches.

Each batch is `DELETE ... WHERE id IN (SELECT id ... LIMIT n)` in its own short
transaction, so row locks are held for one batch only and concurrent writers never wait
long. Defaults per dataset come from settings (`RETENTION_*_DAYS`).

Besides the exportable datasets, `purge` prunes webhook history: an outbox event older than
`RETENTION_WEBHOOK_EVENTS_DAYS` goes with its deliveries and attempts (FK cascade) once no
delivery of it is still pending, so the outbox does not grow forever while nothing that
could still be sent is lost (Stripe keeps 30 days of events for the same reason).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from app.config import Settings
from app.privacy.schemas import Dataset
from app.privacy.service import EXPORT_TABLES
from app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEvent


class PurgeTarget(enum.StrEnum):
    """What `purge` deletes: every exportable dataset, and delivered webhook history.

    In purge order: children before parents (routing feedback before the metrics it
    references; a purged metric takes its remaining feedback with it, ON DELETE CASCADE).
    """

    routing_feedback = Dataset.routing_feedback.value
    cache_feedback = Dataset.cache_feedback.value
    expert_feedback = Dataset.expert_feedback.value
    votes = Dataset.votes.value
    routing_metrics = Dataset.routing_metrics.value
    webhook_events = "webhook_events"


PURGE_BATCH_ROWS = 5000
PURGE_ORDER = list(PurgeTarget)
WEBHOOK_EVENTS = SQLModel.metadata.tables[WebhookEvent.__tablename__]
WEBHOOK_DELIVERIES = SQLModel.metadata.tables[WebhookDelivery.__tablename__]

_AGE_RE = re.compile(r"^\s*(\d+)\s*([dhw]?)\s*$")
_UNIT = {"d": "days", "": "days", "h": "hours", "w": "weeks"}


MAX_AGE = dt.timedelta(days=36500)  # keeps `now - age` far from datetime's limits


class InvalidAge(ValueError):
    """An --older-than value that is not `<n>d`, `<n>w` or `<n>h` with n > 0."""


def parse_age(text: str) -> dt.timedelta:
    """`365d` → 365 days; `12w`, `48h` too; a bare number means days."""
    match = _AGE_RE.match(text.lower())
    if match is None or int(match.group(1)) <= 0:
        raise InvalidAge(f"expected e.g. 365d, 12w or 48h, got {text!r}")
    try:
        age = dt.timedelta(**{_UNIT[match.group(2)]: int(match.group(1))})
    except OverflowError:
        age = MAX_AGE + MAX_AGE
    if age > MAX_AGE:
        raise InvalidAge(f"at most {MAX_AGE.days} days, got {text!r}")
    return age


def default_ages(settings: Settings) -> dict[PurgeTarget, dt.timedelta]:
    """The documented retention of each target (settings `RETENTION_*_DAYS`)."""
    return {
        PurgeTarget.votes: dt.timedelta(days=settings.retention_votes_days),
        PurgeTarget.routing_metrics: dt.timedelta(days=settings.retention_routing_metrics_days),
        PurgeTarget.routing_feedback: dt.timedelta(days=settings.retention_routing_feedback_days),
        PurgeTarget.cache_feedback: dt.timedelta(days=settings.retention_cache_feedback_days),
        PurgeTarget.expert_feedback: dt.timedelta(days=settings.retention_expert_feedback_days),
        PurgeTarget.webhook_events: dt.timedelta(days=settings.retention_webhook_events_days),
    }


def _purgeable(target: PurgeTarget, cutoff: dt.datetime) -> tuple[sa.Table, sa.ColumnElement[bool]]:
    """The table of `target` and which of its rows are past `cutoff` and may go."""
    if target is PurgeTarget.webhook_events:
        pending = sa.exists().where(
            WEBHOOK_DELIVERIES.c.event_id == WEBHOOK_EVENTS.c.id,
            WEBHOOK_DELIVERIES.c.status == DeliveryStatus.pending,
        )
        return WEBHOOK_EVENTS, sa.and_(WEBHOOK_EVENTS.c.created_at < cutoff, ~pending)
    table = EXPORT_TABLES[Dataset(target.value)]
    return table, table.c.created_at < cutoff


@dataclass(frozen=True)
class PurgeResult:
    dataset: PurgeTarget
    cutoff: dt.datetime
    rows: int
    dry_run: bool


async def count_older(engine: AsyncEngine, dataset: PurgeTarget, cutoff: dt.datetime) -> int:
    """Rows of `dataset` that a purge with `cutoff` would delete."""
    table, past = _purgeable(PurgeTarget(dataset), cutoff)
    async with engine.connect() as conn:
        total = await conn.scalar(sa.select(sa.func.count()).select_from(table).where(past))
    return int(total or 0)


async def purge_older(
    engine: AsyncEngine,
    dataset: PurgeTarget,
    cutoff: dt.datetime,
    *,
    batch_size: int = PURGE_BATCH_ROWS,
) -> int:
    """Delete rows of `dataset` past `cutoff`, one committed batch at a time."""
    table, past = _purgeable(PurgeTarget(dataset), cutoff)
    batch = sa.select(table.c.id).where(past).limit(batch_size).scalar_subquery()
    statement = sa.delete(table).where(table.c.id.in_(batch))
    total = 0
    while True:
        async with engine.begin() as conn:
            result = await conn.execute(statement)
        assert isinstance(result, CursorResult)
        deleted = int(result.rowcount or 0)
        total += deleted
        if deleted < batch_size:
            return total


async def purge(
    engine: AsyncEngine,
    settings: Settings,
    *,
    datasets: list[PurgeTarget] | None = None,
    older_than: dt.timedelta | None = None,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    batch_size: int = PURGE_BATCH_ROWS,
) -> list[PurgeResult]:
    """Purge (or with `dry_run` count) each dataset's rows older than `older_than`, or
    than its default retention."""
    now = now or dt.datetime.now(dt.UTC)
    defaults = default_ages(settings)
    chosen = set(datasets or PURGE_ORDER)
    results = []
    for dataset in PURGE_ORDER:
        if dataset not in chosen:
            continue
        cutoff = now - (older_than or defaults[dataset])
        rows = (
            await count_older(engine, dataset, cutoff)
            if dry_run
            else await purge_older(engine, dataset, cutoff, batch_size=batch_size)
        )
        results.append(PurgeResult(dataset, cutoff, rows, dry_run))
    return results
