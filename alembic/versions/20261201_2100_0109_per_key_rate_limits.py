"""per-key rate limits: api_keys.rate_limit_per_minute (NULL: the scope's default)

Revision ID: 0109
Revises: 0105
Create Date: 2026-12-01 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0109"
# The brief named 0006; 0103 (erasure records) already follows 0006 on this branch, so this
# chains after it to keep a single head. The lead re-chains at merge time.
down_revision: str | Sequence[str] | None = "0105"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    # A nullable column without a default: a catalog-only change, no table rewrite.
    # This revision commits midway (the VALIDATE below), so a retry after a failure there
    # runs this first step again: each statement tolerates its own earlier run.
    op.add_column(
        "api_keys",
        sa.Column("rate_limit_per_minute", sa.Integer(), nullable=True),
        if_not_exists=True,
    )
    op.execute(
        # What a failed earlier run of this revision left; no client relies on it yet.
        "-- squawk-ignore ban-drop-constraint\n"
        "ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS ck_api_keys_rate_limit_positive"
    )
    # NOT VALID: no scan under the ACCESS EXCLUSIVE lock that adding a constraint takes;
    # the scan happens below, outside this transaction, under SHARE UPDATE EXCLUSIVE.
    op.create_check_constraint(
        op.f("ck_api_keys_rate_limit_positive"),
        "api_keys",
        "rate_limit_per_minute IS NULL OR rate_limit_per_minute > 0",
        postgresql_not_valid=True,
    )
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '5s'")  # autocommit: no transaction for SET LOCAL
        op.execute("ALTER TABLE api_keys VALIDATE CONSTRAINT ck_api_keys_rate_limit_positive")


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_constraint(op.f("ck_api_keys_rate_limit_positive"), "api_keys", type_="check")
    op.drop_column("api_keys", "rate_limit_per_minute")
