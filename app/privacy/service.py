"""Erasure of one user's data (one transaction), and the streamed export of a dataset that
both `GET /api/v1/export/{dataset}` and `feedback-service export` use."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import enum
import io
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import SQLModel

import app.models  # noqa: F401  (every table is in the metadata)
from app.errors import NotFound
from app.idempotency import service as idempotency_service
from app.privacy.schemas import Dataset, ErasureResult, ExportFormat
from app.schemas import iso_z

log = structlog.stdlib.get_logger(__name__)


class UnknownUser(NotFound): ...


# --- erasure ------------------------------------------------------------------------------

ERASURE_POLICY = """\
In one transaction, for user `user_id`:

- **votes**: deleted when cast by that user id, or carrying any e-mail address that user
  ever gave with a vote and sent with no user id. Another user's votes are never deleted
  by e-mail (anyone can type someone else's address).
- **routing_feedback**, **cache_feedback**: the user's rows are deleted (with their comments).
- **routing_metrics**: kept for cost and latency statistics, *anonymised*: `user_id` and
  `session_id` set to NULL on the user's rows and on any row sharing one of the user's
  session ids.
- **expert profile** (if the user is an expert): the profile, its reviews
  (`expert_feedback`) and its expert API keys are deleted. FAQ candidates built from
  those reviews: approved (or auto-approved) ones keep their question and answer with
  `expert_id` and `source_feedback_id` set to NULL; pending and rejected ones are deleted.
- **expert_faq_candidates.approved_by**, **api_keys.user_id**: set to NULL where they name the
  user (the decisions and the keys stay).
- **idempotency_keys**: the records of requests that registered the user id are deleted (a
  retry with that key then runs again instead of replaying). Stored responses never hold
  an e-mail address, so none is searched for.
- **webhook_events**: outbox payloads that name the user (undelivered, or kept after
  delivery) are *anonymised*: their `user_id` becomes null, so a retry carries no
  identifier; payloads never hold e-mails or comments.
- **users**: the row is deleted last.
- **user_erasures**: a keyed hash of the id (HMAC-SHA256 with the token secret, not the id)
  and the time; feedback tokens bound to the user and minted before it are refused (401)
  and cannot re-create the user. Tokens minted afterwards work as usual.

`deleted` counts removed rows per table; `anonymised` counts rows kept with the user's
identifiers cleared. Unknown user → 404.
"""


def _rowcount(result: sa.Result[Any]) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount or 0)


async def erase_user(session: AsyncSession, user_id: int, *, erasure_hash: str) -> ErasureResult:
    """Remove or anonymise every row that identifies `user_id` (see ERASURE_POLICY);
    `erasure_hash` (a keyed hash of the id) is recorded so older tokens of the user fail."""

    async def run(sql: str, **params: Any) -> int:
        return _rowcount(await session.execute(sa.text(sql), params))

    found = await session.scalar(
        sa.text("SELECT id FROM users WHERE id = :uid FOR UPDATE"), {"uid": user_id}
    )
    if found is None:
        raise UnknownUser(f"No data for user {user_id}.")
    uid = {"uid": user_id}
    emails = list(
        (
            await session.scalars(
                sa.text(
                    "SELECT DISTINCT lower(email) FROM votes "
                    "WHERE user_id = :uid AND email IS NOT NULL"
                ),
                uid,
            )
        ).all()
    )
    sessions = list(
        (
            await session.scalars(
                sa.text(
                    "SELECT session_id FROM routing_metrics WHERE user_id = :uid "
                    "AND session_id IS NOT NULL UNION "
                    "SELECT session_id FROM routing_feedback WHERE user_id = :uid "
                    "AND session_id IS NOT NULL"
                ),
                uid,
            )
        ).all()
    )
    deleted: dict[str, int] = {}
    anonymised: dict[str, int] = {}

    # One indexed statement per condition (an OR across columns would scan the table).
    deleted["votes"] = await run("DELETE FROM votes WHERE user_id = :uid", **uid)
    if emails:
        deleted["votes"] += await run(
            # Another user's vote carrying this e-mail is theirs: anyone can type a victim's
            # address on their own vote, and erasing it must not wipe the victim's votes.
            "DELETE FROM votes WHERE lower(email) = ANY(CAST(:emails AS text[])) "
            "AND (user_id IS NULL OR user_id = :uid)",
            emails=emails,
            **uid,
        )
    deleted["routing_feedback"] = await run(
        "DELETE FROM routing_feedback WHERE user_id = :uid", **uid
    )
    deleted["cache_feedback"] = await run("DELETE FROM cache_feedback WHERE user_id = :uid", **uid)
    anonymised["routing_metrics"] = await run(
        "UPDATE routing_metrics SET user_id = NULL, session_id = NULL WHERE user_id = :uid", **uid
    )
    anonymised["routing_feedback"] = 0
    if sessions:
        anonymised["routing_metrics"] += await run(
            "UPDATE routing_metrics SET session_id = NULL "
            "WHERE session_id = ANY(CAST(:sessions AS text[]))",
            sessions=sessions,
        )
        # Other users' feedback in the user's sessions keeps its rows, not the session id.
        anonymised["routing_feedback"] = await run(
            "UPDATE routing_feedback SET session_id = NULL "
            "WHERE session_id = ANY(CAST(:sessions AS text[]))",
            sessions=sessions,
        )

    deleted["expert_faq_candidates"] = 0
    deleted["expert_feedback"] = 0
    deleted["api_keys"] = 0
    deleted["expert_profiles"] = 0
    anonymised["expert_faq_candidates"] = 0
    expert_id = await session.scalar(
        sa.text("SELECT id FROM expert_profiles WHERE user_id = :uid"), uid
    )
    if expert_id is not None:
        anonymised["expert_faq_candidates"] += await run(
            "UPDATE expert_faq_candidates SET expert_id = NULL, source_feedback_id = NULL "
            "WHERE approval_status IN ('approved', 'auto_approved') AND (expert_id = :eid "
            "OR source_feedback_id IN (SELECT id FROM expert_feedback WHERE expert_id = :eid))",
            eid=expert_id,
        )
        deleted["expert_faq_candidates"] = await run(
            "DELETE FROM expert_faq_candidates "
            "WHERE approval_status IN ('pending', 'rejected') AND (expert_id = :eid "
            "OR source_feedback_id IN (SELECT id FROM expert_feedback WHERE expert_id = :eid))",
            eid=expert_id,
        )
        deleted["expert_feedback"] = await run(
            "DELETE FROM expert_feedback WHERE expert_id = :eid", eid=expert_id
        )
        deleted["api_keys"] = await run(
            "DELETE FROM api_keys WHERE expert_id = :eid", eid=expert_id
        )
        deleted["expert_profiles"] = await run(
            "DELETE FROM expert_profiles WHERE id = :eid", eid=expert_id
        )
    anonymised["expert_faq_candidates"] += await run(
        "UPDATE expert_faq_candidates SET approved_by = NULL WHERE approved_by = :uid", **uid
    )
    anonymised["api_keys"] = await run(
        "UPDATE api_keys SET user_id = NULL WHERE user_id = :uid", **uid
    )
    # Found by the user ids each record's request registered (an indexed array), never
    # by reading stored bodies: a number that merely equals the id is someone else's.
    deleted["idempotency_keys"] = await idempotency_service.forget_user(session, user_id)
    anonymised["webhook_events"] = await run(
        "UPDATE webhook_events SET user_id = NULL, "
        "data = data || jsonb_build_object('user_id', NULL) WHERE user_id = :uid",
        **uid,
    )
    deleted["users"] = await run("DELETE FROM users WHERE id = :uid", **uid)
    # clock_timestamp(): tokens minted while this transaction ran are older than the record.
    await session.execute(
        sa.text(
            "INSERT INTO user_erasures (user_hash, created_at) VALUES (:h, clock_timestamp()) "
            "ON CONFLICT (user_hash) DO UPDATE SET created_at = excluded.created_at"
        ),
        {"h": erasure_hash},
    )
    log.info(
        "user_erased",
        rows_deleted=sum(deleted.values()),
        rows_anonymised=sum(anonymised.values()),
    )
    return ErasureResult(deleted=deleted, anonymised=anonymised)


# --- export -------------------------------------------------------------------------------

EXPORT_TABLES: dict[Dataset, sa.Table] = {
    dataset: SQLModel.metadata.tables[dataset.value] for dataset in Dataset
}
EXPORT_BATCH_ROWS = 2000
MEDIA_TYPES = {
    ExportFormat.csv: "text/csv; charset=utf-8",
    ExportFormat.ndjson: "application/x-ndjson",
}

Converter = Callable[[Any], Any]


def _window(
    table: sa.Table, start: dt.datetime | None, end: dt.datetime | None
) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if start is not None:
        conditions.append(table.c.created_at >= start)
    if end is not None:
        conditions.append(table.c.created_at < end)
    return conditions


def export_statement(
    dataset: Dataset, start: dt.datetime | None = None, end: dt.datetime | None = None
) -> sa.Select[*tuple[Any, ...]]:
    """Every column of the dataset's table in `[start, end)`, oldest first.

    Columns are selected untyped: values arrive as the driver decodes them (str for text
    and enums, datetime, UUID, list for arrays), skipping SQLAlchemy's per-value result
    processing, which would double the export's CPU time."""
    table = EXPORT_TABLES[dataset]
    return (
        sa.select(*(sa.literal_column(f'"{c.name}"') for c in table.c))
        .select_from(table)
        .where(*_window(table, start, end))
        .order_by(table.c.created_at, table.c.id)
        .execution_options(yield_per=EXPORT_BATCH_ROWS)
    )


def iso_utc(value: dt.datetime) -> str:
    return iso_z(value) or ""


def json_array(value: Sequence[Any]) -> str:
    if not value:
        return "[]"
    return json.dumps(value, ensure_ascii=False, default=json_value)


def json_value(value: Any) -> Any:
    """A JSON-ready value: timestamps ISO-8601 UTC, UUIDs and enums as strings."""
    if isinstance(value, dt.datetime):
        return iso_utc(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


# A spreadsheet runs a cell starting with one of these as a formula (`=HYPERLINK(...)`,
# `=cmd|' /C calc'!A0`): OWASP's CSV-injection rule.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: str) -> str:
    """A text cell a spreadsheet shows as text: prefixed with `'` when it would start a
    formula (CSV only; NDJSON keeps the exact value)."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def _csv_converter(column: sa.Column[Any]) -> Converter | None:
    """How a column's value becomes a CSV cell; None: as is (csv writes NULL as empty)."""
    if isinstance(column.type, sa.String) and not isinstance(column.type, sa.Enum):
        return neutralise_formula
    if isinstance(column.type, sa.DateTime):
        return iso_utc
    if isinstance(column.type, sa.Date):
        return dt.date.isoformat
    if isinstance(column.type, sa.Boolean):
        return lambda v: "true" if v else "false"
    if isinstance(column.type, sa.ARRAY):
        return json_array
    return None


def _json_converter(column: sa.Column[Any]) -> Converter | None:
    if isinstance(column.type, sa.DateTime):
        return iso_utc
    if isinstance(column.type, sa.Date):
        return dt.date.isoformat
    if isinstance(column.type, sa.Numeric) and column.type.asdecimal:
        return float
    if isinstance(column.type, sa.Uuid):
        return str
    return None


class RowEncoder:
    """Encodes chunks of one dataset's rows; converts only the columns that need it."""

    def __init__(self, dataset: Dataset, fmt: ExportFormat) -> None:
        table = EXPORT_TABLES[dataset]
        self.fmt = fmt
        self.columns = [c.name for c in table.c]
        pick = _csv_converter if fmt is ExportFormat.csv else _json_converter
        self.special = [(i, conv) for i, c in enumerate(table.c) if (conv := pick(c)) is not None]

    def header(self) -> bytes:
        if self.fmt is not ExportFormat.csv:
            return b""
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(self.columns)
        return buffer.getvalue().encode()

    def _converted(self, rows: Sequence[Sequence[Any]]) -> Iterator[list[Any]]:
        special = self.special
        for row in rows:
            values = list(row)
            for i, conv in special:
                if values[i] is not None:
                    values[i] = conv(values[i])
            yield values

    def encode(self, rows: Sequence[Sequence[Any]]) -> bytes:
        if self.fmt is ExportFormat.csv:
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerows(self._converted(rows))
            return buffer.getvalue().encode()
        columns = self.columns
        return "".join(
            json.dumps(
                dict(zip(columns, values, strict=True)),
                ensure_ascii=False,
                separators=(",", ":"),
                default=json_value,
            )
            + "\n"
            for values in self._converted(rows)
        ).encode()


async def export_chunks(
    engine: AsyncEngine,
    dataset: Dataset,
    *,
    fmt: ExportFormat,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> AsyncIterator[tuple[bytes, int]]:
    """(chunk, rows in it), read through a server-side cursor on a connection of its own:
    memory stays flat whatever the size. The CSV header chunk counts as 0 rows."""
    encoder = RowEncoder(dataset, fmt)
    async with engine.connect() as conn:
        result = await conn.stream(export_statement(dataset, start, end))
        if fmt is ExportFormat.csv:
            yield encoder.header(), 0
        async for rows in result.partitions():
            yield encoder.encode(rows), len(rows)


async def export_bytes(
    engine: AsyncEngine,
    dataset: Dataset,
    *,
    fmt: ExportFormat,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> AsyncIterator[bytes]:
    """The body of `GET /api/v1/export/{dataset}`."""
    async for chunk, _ in export_chunks(engine, dataset, fmt=fmt, start=start, end=end):
        yield chunk


async def count_rows(
    engine: AsyncEngine,
    dataset: Dataset,
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> int:
    """How many rows an export will hold (for the CLI's progress bar)."""
    table = EXPORT_TABLES[dataset]
    async with engine.connect() as conn:
        total = await conn.scalar(
            sa.select(sa.func.count()).select_from(table).where(*_window(table, start, end))
        )
    return int(total or 0)
