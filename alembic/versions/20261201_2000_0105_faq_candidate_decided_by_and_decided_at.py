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
    op.add_column(
        "expert_faq_candidates",
        sa.Column("decided_by_key_id", postgresql.UUID(as_uuid=True), nullable=True),
    )
    op.add_column(
        "expert_faq_candidates",
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_foreign_key(
        op.f("fk_expert_faq_candidates_decided_by_key_id_api_keys"),
        "expert_faq_candidates",
        "api_keys",
        ["decided_by_key_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index(
        "ix_expert_faq_candidates_decided_by_key_id", "expert_faq_candidates", ["decided_by_key_id"]
    )
    # Decisions taken before: their time was kept in approved_at, which from now on means
    # "approved at" only (null for a rejection). The deciding key was never recorded.
    op.execute(
        "UPDATE expert_faq_candidates SET decided_at = approved_at "
        "WHERE approval_status <> 'pending'"
    )
    op.execute(
        "UPDATE expert_faq_candidates SET approved_at = NULL WHERE approval_status = 'rejected'"
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        "UPDATE expert_faq_candidates SET approved_at = decided_at "
        "WHERE approval_status = 'rejected'"
    )
    op.drop_index("ix_expert_faq_candidates_decided_by_key_id", table_name="expert_faq_candidates")
    op.drop_constraint(
        op.f("fk_expert_faq_candidates_decided_by_key_id_api_keys"),
        "expert_faq_candidates",
        type_="foreignkey",
    )
    op.drop_column("expert_faq_candidates", "decided_at")
    op.drop_column("expert_faq_candidates", "decided_by_key_id")
