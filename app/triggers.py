"""Database functions and triggers, as alembic_utils entities so autogenerate sees them.

Every table with an `updated_at` column gets the shared `set_updated_at` trigger; the
list is derived from the metadata, so a new table cannot forget it (alembic check would
report the missing trigger).
"""

from __future__ import annotations

from alembic_utils.pg_function import PGFunction
from alembic_utils.pg_trigger import PGTrigger
from alembic_utils.replaceable_entity import ReplaceableEntity
from sqlmodel import SQLModel

from app.cache.flagging import GOOD_RATING
from app.quality import triggers as quality_triggers

# clock_timestamp(), not now(): an update later in the same transaction as the insert
# must still move updated_at.
set_updated_at = PGFunction(
    schema="public",
    signature="set_updated_at()",
    definition="""
RETURNS trigger
LANGUAGE plpgsql
AS $function$
BEGIN
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END;
$function$
""",
)


def _good_rating_in(sql: str) -> str:
    """The SQL with the `GOOD_RATING` placeholder replaced by the Python constant."""
    return sql.replace("GOOD_RATING", str(int(GOOD_RATING)))


# Keeps response_cache's rating tallies equal to its *current* cache_feedback rows (those not
# superseded by a later rating of the same rater). "Good" is GOOD_RATING, the one constant
# the flagging rule also uses; `alembic check` fails if the migrated function differs.
# After a cascade from a deleted entry the UPDATE finds no row, which is what we want.
cache_feedback_tally = PGFunction(
    schema="public",
    signature="cache_feedback_tally()",
    definition=_good_rating_in("""
RETURNS trigger
LANGUAGE plpgsql
AS $function$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE response_cache
        SET rating_count = rating_count + 1,
            rating_sum = rating_sum + NEW.rating,
            good_count = good_count + CASE WHEN NEW.rating >= GOOD_RATING THEN 1 ELSE 0 END
        WHERE cache_key = NEW.cache_key;
        RETURN NEW;
    END IF;
    IF OLD.superseded_at IS NULL THEN
        UPDATE response_cache
        SET rating_count = rating_count - 1,
            rating_sum = rating_sum - OLD.rating,
            good_count = good_count - CASE WHEN OLD.rating >= GOOD_RATING THEN 1 ELSE 0 END
        WHERE cache_key = OLD.cache_key;
    END IF;
    RETURN OLD;
END;
$function$
"""),
)

# One rater (a feedback token, or the user it is bound to) has one current rating per entry:
# before their new rating goes in, their previous one is marked superseded (history kept)
# and taken out of the tallies. The entry's row is locked first, so two ratings of one
# rater at once queue and the second sees the first.
cache_feedback_supersede = PGFunction(
    schema="public",
    signature="cache_feedback_supersede()",
    definition=_good_rating_in("""
RETURNS trigger
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
            good_count = good_count - CASE WHEN previous >= GOOD_RATING THEN 1 ELSE 0 END
        WHERE cache_key = NEW.cache_key;
    END IF;
    RETURN NEW;
END;
$function$
"""),
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

cache_feedback_tally_trigger = PGTrigger(
    schema="public",
    signature="trg_cache_feedback_tally",
    on_entity="public.cache_feedback",
    is_constraint=False,
    definition=(
        "AFTER INSERT OR DELETE ON public.cache_feedback FOR EACH ROW "
        "EXECUTE FUNCTION public.cache_feedback_tally()"
    ),
)


def updated_at_trigger(table: str) -> PGTrigger:
    """`BEFORE UPDATE` trigger that keeps `table.updated_at` current."""
    return PGTrigger(
        schema="public",
        signature=f"trg_{table}_updated_at",
        on_entity=f"public.{table}",
        is_constraint=False,
        definition=(
            f"BEFORE UPDATE ON public.{table} FOR EACH ROW EXECUTE FUNCTION public.set_updated_at()"
        ),
    )


def tables_with_updated_at() -> list[str]:
    """Names of the metadata's tables that have an `updated_at` column."""
    return sorted(t.name for t in SQLModel.metadata.sorted_tables if "updated_at" in t.columns)


def replaceable_entities() -> list[ReplaceableEntity]:
    """What env.py registers with alembic_utils."""
    import app.models  # noqa: F401  (the trigger list depends on every table being loaded)
    from app.analytics import triggers as analytics_triggers

    return [
        set_updated_at,
        *(updated_at_trigger(t) for t in tables_with_updated_at()),
        cache_feedback_tally,
        cache_feedback_tally_trigger,
        cache_feedback_supersede,
        cache_feedback_supersede_trigger,
        *quality_triggers.replaceable_entities(),
        *analytics_triggers.entities(),
    ]
