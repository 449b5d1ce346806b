# mypy: disable-error-code="attr-defined"
"""index for recent routing metrics of a pattern

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 21:03:34.404602
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    # An index on an existing (write-hot) table: built CONCURRENTLY outside the transaction,
    # with env.py's session advisory lock still held (docs/reliability.md).
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '5s'")  # autocommit: no transaction for SET LOCAL
        # A failed concurrent build leaves an INVALID index behind: drop it first.
        op.drop_index(
            "ix_routing_metrics_pattern_detected_created_at",
            table_name="routing_metrics",
            postgresql_concurrently=True,
            if_exists=True,
        )
        op.create_index(
            "ix_routing_metrics_pattern_detected_created_at",
            "routing_metrics",
            ["pattern_detected", "created_at"],
            unique=False,
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '5s'")
        op.drop_index(
            "ix_routing_metrics_pattern_detected_created_at",
            table_name="routing_metrics",
            postgresql_concurrently=True,
            if_exists=True,
        )
