# mypy: disable-error-code="attr-defined"
"""erasure records, and one current cache rating per token rater

Revision ID: 0103
Revises: 0006
Create Date: 2026-12-01 20:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from alembic_utils.pg_function import PGFunction
from alembic_utils.pg_trigger import PGTrigger

revision: str = "0103"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of app/triggers.py at this revision; 4 is app.cache.flagging.GOOD_RATING
# (tests/cache/test_one_rater_one_rating.py proves the migrated SQL uses that constant).
TALLY_BODY = """RETURNS trigger
LANGUAGE plpgsql
AS $function$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE response_cache
        SET rating_count = rating_count + 1,
            rating_sum = rating_sum + NEW.rating,
            good_count = good_count + CASE WHEN NEW.rating >= 4 THEN 1 ELSE 0 END
        WHERE cache_key = NEW.cache_key;
        RETURN NEW;
    END IF;
    IF OLD.superseded_at IS NULL THEN
        UPDATE response_cache
        SET rating_count = rating_count - 1,
            rating_sum = rating_sum - OLD.rating,
            good_count = good_count - CASE WHEN OLD.rating >= 4 THEN 1 ELSE 0 END
        WHERE cache_key = OLD.cache_key;
    END IF;
    RETURN OLD;
END;
$function$"""

# As migration 0004 left it.
PREVIOUS_TALLY_BODY = "RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF TG_OP = 'INSERT' THEN\n        UPDATE response_cache\n        SET rating_count = rating_count + 1,\n            rating_sum = rating_sum + NEW.rating,\n            good_count = good_count + CASE WHEN NEW.rating >= 4 THEN 1 ELSE 0 END\n        WHERE cache_key = NEW.cache_key;\n        RETURN NEW;\n    END IF;\n    UPDATE response_cache\n    SET rating_count = rating_count - 1,\n        rating_sum = rating_sum - OLD.rating,\n        good_count = good_count - CASE WHEN OLD.rating >= 4 THEN 1 ELSE 0 END\n    WHERE cache_key = OLD.cache_key;\n    RETURN OLD;\nEND;\n$function$"

SUPERSEDE_BODY = """RETURNS trigger
LANGUAGE plpgsql
AS $function$
DECLARE
    previous smallint;
BEGIN
    PERFORM 1 FROM response_cache WHERE cache_key = NEW.cache_key FOR UPDATE;
    UPDATE cache_feedback
    SET superseded_at = clock_timestamp()
    WHERE cache_key = NEW.cache_key AND rater = NEW.rater AND superseded_at IS NULL
    RETURNING rating INTO previous;
    IF FOUND THEN
        UPDATE response_cache
        SET rating_count = rating_count - 1,
            rating_sum = rating_sum - previous,
            good_count = good_count - CASE WHEN previous >= 4 THEN 1 ELSE 0 END
        WHERE cache_key = NEW.cache_key;
    END IF;
    RETURN NEW;
END;
$function$"""


def _tally(body: str) -> PGFunction:
    return PGFunction(schema="public", signature="cache_feedback_tally()", definition=body)


cache_feedback_supersede = PGFunction(
    schema="public", signature="cache_feedback_supersede()", definition=SUPERSEDE_BODY
)
cache_feedback_supersede_trigger = PGTrigger(
    schema="public",
    signature="trg_cache_feedback_supersede",
    on_entity="public.cache_feedback",
    is_constraint=False,
    definition=(
        "BEFORE INSERT ON public.cache_feedback FOR EACH ROW WHEN (NEW.rater IS NOT NULL) "
        "EXECUTE FUNCTION public.cache_feedback_supersede()"
    ),
)


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table(
        "user_erasures",
        sa.Column("user_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("user_hash", name=op.f("pk_user_erasures")),
        if_not_exists=True,  # robust: this revision commits midway (squawk)
    )
    # Nullable columns without defaults: no table rewrite. Existing ratings came from keys
    # or from tokens that carried no rater, so each keeps counting.
    op.add_column(
        "cache_feedback",
        sa.Column("rater", sa.String(length=64), nullable=True),
        if_not_exists=True,
    )
    op.add_column(
        "cache_feedback",
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        if_not_exists=True,
    )
    op.replace_entity(_tally(TALLY_BODY))
    op.create_entity(cache_feedback_supersede)
    op.create_entity(cache_feedback_supersede_trigger)
    # An index on an existing (write-hot) table: CONCURRENTLY, outside the transaction,
    # with env.py's session advisory lock still held (docs/reliability.md).
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '5s'")
        op.drop_index(
            "uq_cache_feedback_current_rater",
            table_name="cache_feedback",
            postgresql_concurrently=True,
            if_exists=True,
        )
        op.create_index(
            "uq_cache_feedback_current_rater",
            "cache_feedback",
            ["cache_key", "rater"],
            unique=True,
            postgresql_where=sa.text("rater IS NOT NULL AND superseded_at IS NULL"),
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_entity(cache_feedback_supersede_trigger)
    op.drop_entity(cache_feedback_supersede)
    # Superseded ratings would count again under the old function: drop them (their
    # history is what this revision added).
    op.execute("DELETE FROM cache_feedback WHERE superseded_at IS NOT NULL")
    op.replace_entity(_tally(PREVIOUS_TALLY_BODY))
    op.drop_index("uq_cache_feedback_current_rater", table_name="cache_feedback")
    op.drop_column("cache_feedback", "superseded_at")
    op.drop_column("cache_feedback", "rater")
    op.drop_table("user_erasures")
