# mypy: disable-error-code="attr-defined"
"""indexes for erasure by email and session

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 20:49:53.746057
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES: list[tuple[str, str, list[str | sa.ColumnElement[str]]]] = [
    ("ix_routing_feedback_session_id", "routing_feedback", ["session_id"]),
    ("ix_routing_metrics_session_id", "routing_metrics", ["session_id"]),
    ("ix_votes_email_lower", "votes", [sa.literal_column("lower(email)")]),
]


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    # Indexes on existing (write-hot) tables: built CONCURRENTLY outside the transaction,
    # with env.py's session advisory lock still held (docs/reliability.md).
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '5s'")  # autocommit: no transaction for SET LOCAL
        for name, table, columns in INDEXES:
            # A failed concurrent build leaves an INVALID index behind: drop it first.
            op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
            op.create_index(name, table, columns, postgresql_concurrently=True, if_not_exists=True)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '5s'")
        for name, table, _ in reversed(INDEXES):
            op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
