"""The platform's user ids. The platform's auth service owns users; we only refer to them."""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db import created_at_column


class User(SQLModel, table=True):
    """One platform user id, registered the first time a request carries it."""

    __tablename__ = "users"

    id: int = Field(
        sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False),
    )
    created_at: datetime | None = created_at_column()
