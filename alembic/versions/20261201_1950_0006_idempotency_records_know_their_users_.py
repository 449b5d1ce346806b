# mypy: disable-error-code="attr-defined"
"""idempotency records know their users and whether they may be replayed

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 19:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column(
        "idempotency_keys",
        sa.Column("replayable", sa.Boolean(), server_default=sa.true(), nullable=False),
        if_not_exists=True,  # robust: this revision commits midway (squawk)
    )
    op.add_column(
        "idempotency_keys",
        sa.Column(
            "owner_user_ids",
            postgresql.ARRAY(sa.BigInteger()),
            server_default=sa.text("'{}'::bigint[]"),
            nullable=False,
        ),
        if_not_exists=True,
    )
    # An index on an existing (write-hot) table: built CONCURRENTLY outside the
    # transaction, with env.py's session advisory lock still held (docs/reliability.md).
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '5s'")
        op.drop_index(
            "ix_idempotency_keys_owner_user_ids",
            table_name="idempotency_keys",
            postgresql_concurrently=True,
            if_exists=True,
        )
        op.create_index(
            "ix_idempotency_keys_owner_user_ids",
            "idempotency_keys",
            ["owner_user_ids"],
            unique=False,
            postgresql_using="gin",
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '5s'")
        op.drop_index(
            "ix_idempotency_keys_owner_user_ids",
            table_name="idempotency_keys",
            postgresql_concurrently=True,
            if_exists=True,
        )
    op.drop_column("idempotency_keys", "owner_user_ids")
    op.drop_column("idempotency_keys", "replayable")
