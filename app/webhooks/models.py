"""Webhook endpoints and the transactional outbox: one event row per change, one delivery
row per (event, subscribed endpoint), one attempt row per HTTP attempt."""

import datetime as dt
import enum
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field, SQLModel

from app.db import created_at_column, pg_enum, text_array, updated_at_column, user_fk, uuid_pk


class DeliveryStatus(enum.StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"


class WebhookEndpoint(SQLModel, table=True):
    """A receiver URL subscribed to some event types; its signing secret is encrypted."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        sa.CheckConstraint("cardinality(events) >= 1", name="events_not_empty"),
        sa.Index("ix_webhook_endpoints_created_at", "created_at"),
    )

    id: uuid.UUID | None = uuid_pk()
    url: str = Field(sa_type=sa.String(2000), nullable=False)
    events: list[str] = Field(default_factory=list, sa_column=text_array())
    # AES-GCM ciphertexts (app/webhooks/secrets.py); never the secret itself.
    secret_ciphertext: str = Field(sa_type=sa.Text, nullable=False)
    previous_secret_ciphertext: str | None = Field(default=None, sa_type=sa.Text)
    previous_secret_expires_at: dt.datetime | None = Field(
        default=None, sa_type=sa.DateTime(timezone=True)
    )
    enabled: bool = Field(
        default=True, nullable=False, sa_column_kwargs={"server_default": sa.true()}
    )
    disabled_reason: str | None = Field(default=None, sa_type=sa.Text)
    disabled_at: dt.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    # Start of the current run of failed attempts (NULL after a success): an endpoint whose
    # delivery exhausts the schedule while failing since before that delivery is disabled.
    failing_since: dt.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    created_at: dt.datetime | None = created_at_column()
    updated_at: dt.datetime | None = updated_at_column()


class WebhookEvent(SQLModel, table=True):
    """One domain event, written in the transaction of the change that caused it."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        sa.Index("ix_webhook_events_created_at", "created_at"),
        sa.Index("ix_webhook_events_user_id", "user_id"),
    )

    id: uuid.UUID | None = uuid_pk()
    type: str = Field(sa_type=sa.String(64), nullable=False)
    data: dict[str, Any] = Field(sa_type=pg.JSONB, nullable=False)
    # The user the payload names, if any: erasure finds the payloads to anonymise by it.
    user_id: int | None = user_fk()
    created_at: dt.datetime | None = created_at_column()


class WebhookDelivery(SQLModel, table=True):
    """The outbox entry of one event for one endpoint, claimed by a dispatcher under a lease."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        sa.UniqueConstraint("event_id", "endpoint_id"),
        # What a dispatcher claims: due, pending deliveries.
        sa.Index(
            "ix_webhook_deliveries_next_attempt_at_pending",
            "next_attempt_at",
            postgresql_where=sa.text("status = 'pending'"),
        ),
        # An endpoint's deliveries, newest first (the deliveries list).
        sa.Index(
            "ix_webhook_deliveries_endpoint_id_created_at",
            "endpoint_id",
            sa.text("created_at DESC"),
            sa.text("id DESC"),
        ),
    )

    id: uuid.UUID | None = uuid_pk()
    event_id: uuid.UUID = Field(
        sa_type=pg.UUID(as_uuid=True),
        foreign_key="webhook_events.id",
        ondelete="CASCADE",
        nullable=False,
    )
    endpoint_id: uuid.UUID = Field(
        sa_type=pg.UUID(as_uuid=True),
        foreign_key="webhook_endpoints.id",
        ondelete="CASCADE",
        nullable=False,
    )
    status: DeliveryStatus = Field(
        default=DeliveryStatus.pending,
        sa_type=pg_enum(DeliveryStatus, "webhook_delivery_status"),
        nullable=False,
        sa_column_kwargs={"server_default": DeliveryStatus.pending.value},
    )
    # Attempts claimed so far; a claim increments it, so one attempt number is one claim.
    attempts: int = Field(
        default=0, sa_type=sa.Integer, nullable=False, sa_column_kwargs={"server_default": "0"}
    )
    # `attempts` when the current retry schedule began (a manual retry restarts it).
    schedule_start: int = Field(
        default=0, sa_type=sa.Integer, nullable=False, sa_column_kwargs={"server_default": "0"}
    )
    next_attempt_at: dt.datetime | None = Field(
        default=None,
        sa_type=sa.DateTime(timezone=True),
        sa_column_kwargs={"server_default": sa.func.now(), "nullable": False},
    )
    lease_until: dt.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    last_status_code: int | None = Field(default=None, sa_type=sa.SmallInteger)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    delivered_at: dt.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    created_at: dt.datetime | None = created_at_column()
    updated_at: dt.datetime | None = updated_at_column()


class WebhookAttempt(SQLModel, table=True):
    """One HTTP attempt of a delivery; (delivery, attempt) is unique: never sent twice."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (sa.UniqueConstraint("delivery_id", "attempt"),)

    id: uuid.UUID | None = uuid_pk()
    delivery_id: uuid.UUID = Field(
        sa_type=pg.UUID(as_uuid=True),
        foreign_key="webhook_deliveries.id",
        ondelete="CASCADE",
        nullable=False,
    )
    attempt: int = Field(sa_type=sa.Integer, nullable=False)
    status_code: int | None = Field(default=None, sa_type=sa.SmallInteger)
    error: str | None = Field(default=None, sa_type=sa.Text)
    duration_ms: float | None = Field(default=None, sa_type=sa.Float)
    created_at: dt.datetime | None = created_at_column()
