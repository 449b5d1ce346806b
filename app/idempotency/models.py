"""Remembered responses of creating POSTs, per caller and `Idempotency-Key`."""

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field, SQLModel

from app.db import created_at_column, uuid_pk


class IdempotencyKey(SQLModel, table=True):
    """The first response to (caller, key); replayed for the same body, 409 for another."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        sa.UniqueConstraint("caller", "key"),
        sa.Index("ix_idempotency_keys_expires_at", "expires_at"),
        # Erasure finds a user's records by this array, never by reading bodies.
        sa.Index("ix_idempotency_keys_owner_user_ids", "owner_user_ids", postgresql_using="gin"),
    )

    id: uuid.UUID | None = uuid_pk()
    caller: str = Field(sa_type=sa.String(300), nullable=False)
    key: str = Field(sa_type=sa.String(255), nullable=False)
    request_fingerprint: str = Field(sa_type=sa.String(64), nullable=False)
    status_code: int = Field(sa_type=sa.SmallInteger, nullable=False)
    # The exact bytes of the first response body, replayed as they were sent; NULL when
    # the response carried a secret (`replayable` is then false and nothing is kept).
    response_body: str | None = Field(default=None, sa_type=sa.Text)
    replayable: bool = Field(
        default=True, sa_column_kwargs={"server_default": sa.true()}, nullable=False
    )
    # The user ids the request registered (`app.users.service`), so erasure can find it.
    owner_user_ids: list[int] = Field(
        default_factory=list,
        sa_column=sa.Column(
            pg.ARRAY(sa.BigInteger), nullable=False, server_default=sa.text("'{}'::bigint[]")
        ),
    )
    created_at: dt.datetime | None = created_at_column()
    expires_at: dt.datetime = Field(sa_type=sa.DateTime(timezone=True), nullable=False)
