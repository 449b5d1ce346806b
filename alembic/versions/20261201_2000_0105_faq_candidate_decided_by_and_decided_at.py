# mypy: disable-error-code="attr-defined"
"""faq candidate decided_by_key_id (the admin key) and decided_at

Revision ID: 0105
Revises: 0102
Create Date: 2026-12-01 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0105"
down_revision: str | Sequence[str] | None = "0102"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    # This revision commits midway (the autocommit block below), so a retry after a failure
    # there runs this first step again: each statement tolerates its own earlier run.
    op.add_column(
        "expert_faq_candidates",
        sa.Column("decided_by_key_id", postgresql.UUID(as_uuid=True), nullable=True),
        if_not_exists=True,
    )
    op.add_column(
        "expert_faq_candidates",
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        if_not_exists=True,
    )
    # NOT VALID: only a brief lock on both tables, no scan; validated below, outside this
    # transaction, under the weaker SHARE UPDATE EXCLUSIVE lock.
    op.execute(
        # What a failed earlier run of this revision left; no client relies on it yet.
        "-- squawk-ignore ban-drop-constraint\n"
        "ALTER TABLE expert_faq_candidates "
        "DROP CONSTRAINT IF EXISTS fk_expert_faq_candidates_decided_by_key_id_api_keys"
    )
    op.create_foreign_key(
        op.f("fk_expert_faq_candidates_decided_by_key_id_api_keys"),
        "expert_faq_candidates",
        "api_keys",
        ["decided_by_key_id"],
        ["id"],
        ondelete="SET NULL",
        postgresql_not_valid=True,
    )
    # Decisions taken before: their time was kept in approved_at, which from now on means
    # "approved at" only (null for a rejection). The deciding key was never recorded.
    # `decided_at IS NULL`: a second run must not copy the rejections' cleared approved_at.
    op.execute(
        "UPDATE expert_faq_candidates SET decided_at = approved_at "
        "WHERE approval_status <> 'pending' AND decided_at IS NULL"
    )
    op.execute(
        "UPDATE expert_faq_candidates SET approved_at = NULL WHERE approval_status = 'rejected'"
    )
    # Outside the transaction, with env.py's session advisory lock still held
    # (docs/reliability.md): the scan of the FK check and the index build let writes go on.
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '5s'")  # autocommit: no transaction for SET LOCAL
        op.execute(
            "ALTER TABLE expert_faq_candidates "
            "VALIDATE CONSTRAINT fk_expert_faq_candidates_decided_by_key_id_api_keys"
        )
        # A failed concurrent build leaves an INVALID index behind: drop it first.
        op.drop_index(
            "ix_expert_faq_candidates_decided_by_key_id",
            table_name="expert_faq_candidates",
            postgresql_concurrently=True,
            if_exists=True,
        )
        op.create_index(
            "ix_expert_faq_candidates_decided_by_key_id",
            "expert_faq_candidates",
            ["decided_by_key_id"],
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    # The index first, outside the transaction: the rest then stays one transaction.
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '5s'")
        op.drop_index(
            "ix_expert_faq_candidates_decided_by_key_id",
            table_name="expert_faq_candidates",
            postgresql_concurrently=True,
            if_exists=True,
        )
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        "UPDATE expert_faq_candidates SET approved_at = decided_at "
        "WHERE approval_status = 'rejected'"
    )
    op.drop_constraint(
        op.f("fk_expert_faq_candidates_decided_by_key_id_api_keys"),
        "expert_faq_candidates",
        type_="foreignkey",
    )
    op.drop_column("expert_faq_candidates", "decided_at")
    op.drop_column("expert_faq_candidates", "decided_by_key_id")
