"""What erasure keeps: a keyed hash of each erased user id, never the id itself."""

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db import created_at_column


class UserErasure(SQLModel, table=True):
    """One erased user: feedback tokens bound to them and minted before `created_at` (the
    erasure) are refused, so an old browser token cannot record votes or re-create them."""

    __tablename__ = "user_erasures"

    # HMAC-SHA256 (hex) of the user id with the feedback token secret: without the secret
    # the table does not reveal which ids were erased.
    user_hash: str = Field(sa_type=sa.String(64), primary_key=True)
    created_at: dt.datetime | None = created_at_column()
