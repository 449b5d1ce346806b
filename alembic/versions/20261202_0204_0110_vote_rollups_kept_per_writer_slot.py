# mypy: disable-error-code="attr-defined"
"""vote rollups kept per writer slot

Every vote batch added to the same hour and day rows of vote_rollups (and the reasons'
rows), locked until COMMIT, so concurrent group commits waited on each other. A `slot` in
the key gives each writer loop rows of its own (app/analytics/triggers.py, ROLLUP_SLOT);
readers sum a bucket's slots. Existing rows become slot 0.

Revision ID: 0110
Revises: 0108
Create Date: 2026-12-02 02:04:09.383561
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from alembic_utils.pg_function import PGFunction

revision: str = "0110"
down_revision: str | Sequence[str] | None = "0108"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, key columns without the slot)
TABLES = (
    ("vote_rollups", ("grain", "bucket_start")),
    ("vote_reason_rollups", ("grain", "bucket_start", "reason")),
)

VOTE_ROLLUPS_APPLY = PGFunction(
    schema="public",
    signature="vote_rollups_apply()",
    definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF TG_OP = 'INSERT' THEN\n\nWITH cand AS (\n    SELECT DISTINCT ON (conversation_id) conversation_id, id, vote, reasons, created_at\n    FROM new_rows\n    ORDER BY conversation_id, created_at DESC, id DESC\n),\nchanged AS (\n    INSERT INTO vote_current AS vc (conversation_id, vote_id, vote, reasons, cast_at)\n    SELECT conversation_id, id, vote, reasons, created_at FROM cand ORDER BY conversation_id\n    ON CONFLICT (conversation_id) DO UPDATE\n    SET vote_id = excluded.vote_id, vote = excluded.vote, reasons = excluded.reasons,\n        cast_at = excluded.cast_at\n    WHERE (excluded.cast_at, excluded.vote_id) > (vc.cast_at, vc.vote_id)\n    RETURNING WITH (OLD AS was, NEW AS now_is)\n        was.vote AS old_vote, was.reasons AS old_reasons, was.cast_at AS old_cast_at,\n        now_is.vote AS new_vote, now_is.reasons AS new_reasons, now_is.cast_at AS new_cast_at\n),\ngone AS (SELECT NULL::vote_direction AS vote, NULL::text[] AS reasons,\n                NULL::timestamptz AS cast_at WHERE false),\ndelta AS (\n    SELECT old_vote AS vote, old_reasons AS reasons, old_cast_at AS cast_at, -1 AS sign\n    FROM changed WHERE old_cast_at IS NOT NULL\n    UNION ALL\n    SELECT new_vote, new_reasons, new_cast_at, 1 FROM changed\n    UNION ALL\n    SELECT vote, reasons, cast_at, -1 FROM gone\n)\n, vote_totals AS (\n    INSERT INTO vote_rollups AS r (grain, bucket_start, slot, up, down)\n    SELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'), CAST(coalesce(nullif(current_setting('feedback.rollup_slot', true), ''), '0') AS smallint),\n           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0),\n           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0)\n    FROM delta AS d CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\n    GROUP BY 1, 2\n    HAVING coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0) <> 0\n        OR coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0) <> 0\n    ORDER BY 1, 2\n    ON CONFLICT (grain, bucket_start, slot) DO UPDATE\n    SET up = r.up + excluded.up, down = r.down + excluded.down\n)\nINSERT INTO vote_reason_rollups AS r (grain, bucket_start, reason, slot, n)\nSELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'), x.reason, CAST(coalesce(nullif(current_setting('feedback.rollup_slot', true), ''), '0') AS smallint), sum(d.sign)\nFROM delta AS d\nCROSS JOIN LATERAL (SELECT DISTINCT unnest(d.reasons) AS reason) AS x\nCROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3\nHAVING sum(d.sign) <> 0\nORDER BY 1, 2, 3\nON CONFLICT (grain, bucket_start, reason, slot) DO UPDATE SET n = r.n + excluded.n;\n    ELSIF TG_OP = 'DELETE' THEN\n\nWITH aff AS (SELECT DISTINCT conversation_id FROM old_rows),\nnewest AS (\n    SELECT a.conversation_id, n.id, n.vote, n.reasons, n.created_at\n    FROM aff AS a\n    LEFT JOIN LATERAL (\n        SELECT v.id, v.vote, v.reasons, v.created_at FROM votes AS v\n        WHERE v.conversation_id = a.conversation_id\n        ORDER BY v.created_at DESC, v.id DESC LIMIT 1\n    ) AS n ON true\n),\ngone AS (\n    DELETE FROM vote_current AS vc USING newest AS n\n    WHERE vc.conversation_id = n.conversation_id AND n.id IS NULL\n    RETURNING vc.vote, vc.reasons, vc.cast_at\n),\nchanged AS (\n    INSERT INTO vote_current AS vc (conversation_id, vote_id, vote, reasons, cast_at)\n    SELECT conversation_id, id, vote, reasons, created_at FROM newest\n    WHERE id IS NOT NULL ORDER BY conversation_id\n    ON CONFLICT (conversation_id) DO UPDATE\n    SET vote_id = excluded.vote_id, vote = excluded.vote, reasons = excluded.reasons,\n        cast_at = excluded.cast_at\n    WHERE (vc.vote_id, vc.vote, vc.reasons, vc.cast_at)\n        IS DISTINCT FROM (excluded.vote_id, excluded.vote, excluded.reasons, excluded.cast_at)\n    RETURNING WITH (OLD AS was, NEW AS now_is)\n        was.vote AS old_vote, was.reasons AS old_reasons, was.cast_at AS old_cast_at,\n        now_is.vote AS new_vote, now_is.reasons AS new_reasons, now_is.cast_at AS new_cast_at\n),\ndelta AS (\n    SELECT old_vote AS vote, old_reasons AS reasons, old_cast_at AS cast_at, -1 AS sign\n    FROM changed WHERE old_cast_at IS NOT NULL\n    UNION ALL\n    SELECT new_vote, new_reasons, new_cast_at, 1 FROM changed\n    UNION ALL\n    SELECT vote, reasons, cast_at, -1 FROM gone\n)\n, vote_totals AS (\n    INSERT INTO vote_rollups AS r (grain, bucket_start, slot, up, down)\n    SELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'), CAST(coalesce(nullif(current_setting('feedback.rollup_slot', true), ''), '0') AS smallint),\n           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0),\n           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0)\n    FROM delta AS d CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\n    GROUP BY 1, 2\n    HAVING coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0) <> 0\n        OR coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0) <> 0\n    ORDER BY 1, 2\n    ON CONFLICT (grain, bucket_start, slot) DO UPDATE\n    SET up = r.up + excluded.up, down = r.down + excluded.down\n)\nINSERT INTO vote_reason_rollups AS r (grain, bucket_start, reason, slot, n)\nSELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'), x.reason, CAST(coalesce(nullif(current_setting('feedback.rollup_slot', true), ''), '0') AS smallint), sum(d.sign)\nFROM delta AS d\nCROSS JOIN LATERAL (SELECT DISTINCT unnest(d.reasons) AS reason) AS x\nCROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3\nHAVING sum(d.sign) <> 0\nORDER BY 1, 2, 3\nON CONFLICT (grain, bucket_start, reason, slot) DO UPDATE SET n = r.n + excluded.n;\n    ELSE\n\nWITH aff AS (SELECT conversation_id FROM old_rows UNION SELECT conversation_id FROM new_rows),\nnewest AS (\n    SELECT a.conversation_id, n.id, n.vote, n.reasons, n.created_at\n    FROM aff AS a\n    LEFT JOIN LATERAL (\n        SELECT v.id, v.vote, v.reasons, v.created_at FROM votes AS v\n        WHERE v.conversation_id = a.conversation_id\n        ORDER BY v.created_at DESC, v.id DESC LIMIT 1\n    ) AS n ON true\n),\ngone AS (\n    DELETE FROM vote_current AS vc USING newest AS n\n    WHERE vc.conversation_id = n.conversation_id AND n.id IS NULL\n    RETURNING vc.vote, vc.reasons, vc.cast_at\n),\nchanged AS (\n    INSERT INTO vote_current AS vc (conversation_id, vote_id, vote, reasons, cast_at)\n    SELECT conversation_id, id, vote, reasons, created_at FROM newest\n    WHERE id IS NOT NULL ORDER BY conversation_id\n    ON CONFLICT (conversation_id) DO UPDATE\n    SET vote_id = excluded.vote_id, vote = excluded.vote, reasons = excluded.reasons,\n        cast_at = excluded.cast_at\n    WHERE (vc.vote_id, vc.vote, vc.reasons, vc.cast_at)\n        IS DISTINCT FROM (excluded.vote_id, excluded.vote, excluded.reasons, excluded.cast_at)\n    RETURNING WITH (OLD AS was, NEW AS now_is)\n        was.vote AS old_vote, was.reasons AS old_reasons, was.cast_at AS old_cast_at,\n        now_is.vote AS new_vote, now_is.reasons AS new_reasons, now_is.cast_at AS new_cast_at\n),\ndelta AS (\n    SELECT old_vote AS vote, old_reasons AS reasons, old_cast_at AS cast_at, -1 AS sign\n    FROM changed WHERE old_cast_at IS NOT NULL\n    UNION ALL\n    SELECT new_vote, new_reasons, new_cast_at, 1 FROM changed\n    UNION ALL\n    SELECT vote, reasons, cast_at, -1 FROM gone\n)\n, vote_totals AS (\n    INSERT INTO vote_rollups AS r (grain, bucket_start, slot, up, down)\n    SELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'), CAST(coalesce(nullif(current_setting('feedback.rollup_slot', true), ''), '0') AS smallint),\n           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0),\n           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0)\n    FROM delta AS d CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\n    GROUP BY 1, 2\n    HAVING coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0) <> 0\n        OR coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0) <> 0\n    ORDER BY 1, 2\n    ON CONFLICT (grain, bucket_start, slot) DO UPDATE\n    SET up = r.up + excluded.up, down = r.down + excluded.down\n)\nINSERT INTO vote_reason_rollups AS r (grain, bucket_start, reason, slot, n)\nSELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'), x.reason, CAST(coalesce(nullif(current_setting('feedback.rollup_slot', true), ''), '0') AS smallint), sum(d.sign)\nFROM delta AS d\nCROSS JOIN LATERAL (SELECT DISTINCT unnest(d.reasons) AS reason) AS x\nCROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3\nHAVING sum(d.sign) <> 0\nORDER BY 1, 2, 3\nON CONFLICT (grain, bucket_start, reason, slot) DO UPDATE SET n = r.n + excluded.n;\n    END IF;\n    RETURN NULL;\nEND;\n$function$",
)
PREVIOUS_VOTE_ROLLUPS_APPLY = PGFunction(
    schema="public",
    signature="vote_rollups_apply()",
    definition="returns trigger\n LANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF TG_OP = 'INSERT' THEN\n\nWITH cand AS (\n    SELECT DISTINCT ON (conversation_id) conversation_id, id, vote, reasons, created_at\n    FROM new_rows\n    ORDER BY conversation_id, created_at DESC, id DESC\n),\nchanged AS (\n    INSERT INTO vote_current AS vc (conversation_id, vote_id, vote, reasons, cast_at)\n    SELECT conversation_id, id, vote, reasons, created_at FROM cand ORDER BY conversation_id\n    ON CONFLICT (conversation_id) DO UPDATE\n    SET vote_id = excluded.vote_id, vote = excluded.vote, reasons = excluded.reasons,\n        cast_at = excluded.cast_at\n    WHERE (excluded.cast_at, excluded.vote_id) > (vc.cast_at, vc.vote_id)\n    RETURNING WITH (OLD AS was, NEW AS now_is)\n        was.vote AS old_vote, was.reasons AS old_reasons, was.cast_at AS old_cast_at,\n        now_is.vote AS new_vote, now_is.reasons AS new_reasons, now_is.cast_at AS new_cast_at\n),\ngone AS (SELECT NULL::vote_direction AS vote, NULL::text[] AS reasons,\n                NULL::timestamptz AS cast_at WHERE false),\ndelta AS (\n    SELECT old_vote AS vote, old_reasons AS reasons, old_cast_at AS cast_at, -1 AS sign\n    FROM changed WHERE old_cast_at IS NOT NULL\n    UNION ALL\n    SELECT new_vote, new_reasons, new_cast_at, 1 FROM changed\n    UNION ALL\n    SELECT vote, reasons, cast_at, -1 FROM gone\n)\n, vote_totals AS (\n    INSERT INTO vote_rollups AS r (grain, bucket_start, up, down)\n    SELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'),\n           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0),\n           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0)\n    FROM delta AS d CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\n    GROUP BY 1, 2\n    HAVING coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0) <> 0\n        OR coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0) <> 0\n    ORDER BY 1, 2\n    ON CONFLICT (grain, bucket_start) DO UPDATE\n    SET up = r.up + excluded.up, down = r.down + excluded.down\n)\nINSERT INTO vote_reason_rollups AS r (grain, bucket_start, reason, n)\nSELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'), x.reason, sum(d.sign)\nFROM delta AS d\nCROSS JOIN LATERAL (SELECT DISTINCT unnest(d.reasons) AS reason) AS x\nCROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3\nHAVING sum(d.sign) <> 0\nORDER BY 1, 2, 3\nON CONFLICT (grain, bucket_start, reason) DO UPDATE SET n = r.n + excluded.n;\n    ELSIF TG_OP = 'DELETE' THEN\n\nWITH aff AS (SELECT DISTINCT conversation_id FROM old_rows),\nnewest AS (\n    SELECT a.conversation_id, n.id, n.vote, n.reasons, n.created_at\n    FROM aff AS a\n    LEFT JOIN LATERAL (\n        SELECT v.id, v.vote, v.reasons, v.created_at FROM votes AS v\n        WHERE v.conversation_id = a.conversation_id\n        ORDER BY v.created_at DESC, v.id DESC LIMIT 1\n    ) AS n ON true\n),\ngone AS (\n    DELETE FROM vote_current AS vc USING newest AS n\n    WHERE vc.conversation_id = n.conversation_id AND n.id IS NULL\n    RETURNING vc.vote, vc.reasons, vc.cast_at\n),\nchanged AS (\n    INSERT INTO vote_current AS vc (conversation_id, vote_id, vote, reasons, cast_at)\n    SELECT conversation_id, id, vote, reasons, created_at FROM newest\n    WHERE id IS NOT NULL ORDER BY conversation_id\n    ON CONFLICT (conversation_id) DO UPDATE\n    SET vote_id = excluded.vote_id, vote = excluded.vote, reasons = excluded.reasons,\n        cast_at = excluded.cast_at\n    WHERE (vc.vote_id, vc.vote, vc.reasons, vc.cast_at)\n        IS DISTINCT FROM (excluded.vote_id, excluded.vote, excluded.reasons, excluded.cast_at)\n    RETURNING WITH (OLD AS was, NEW AS now_is)\n        was.vote AS old_vote, was.reasons AS old_reasons, was.cast_at AS old_cast_at,\n        now_is.vote AS new_vote, now_is.reasons AS new_reasons, now_is.cast_at AS new_cast_at\n),\ndelta AS (\n    SELECT old_vote AS vote, old_reasons AS reasons, old_cast_at AS cast_at, -1 AS sign\n    FROM changed WHERE old_cast_at IS NOT NULL\n    UNION ALL\n    SELECT new_vote, new_reasons, new_cast_at, 1 FROM changed\n    UNION ALL\n    SELECT vote, reasons, cast_at, -1 FROM gone\n)\n, vote_totals AS (\n    INSERT INTO vote_rollups AS r (grain, bucket_start, up, down)\n    SELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'),\n           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0),\n           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0)\n    FROM delta AS d CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\n    GROUP BY 1, 2\n    HAVING coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0) <> 0\n        OR coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0) <> 0\n    ORDER BY 1, 2\n    ON CONFLICT (grain, bucket_start) DO UPDATE\n    SET up = r.up + excluded.up, down = r.down + excluded.down\n)\nINSERT INTO vote_reason_rollups AS r (grain, bucket_start, reason, n)\nSELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'), x.reason, sum(d.sign)\nFROM delta AS d\nCROSS JOIN LATERAL (SELECT DISTINCT unnest(d.reasons) AS reason) AS x\nCROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3\nHAVING sum(d.sign) <> 0\nORDER BY 1, 2, 3\nON CONFLICT (grain, bucket_start, reason) DO UPDATE SET n = r.n + excluded.n;\n    ELSE\n\nWITH aff AS (SELECT conversation_id FROM old_rows UNION SELECT conversation_id FROM new_rows),\nnewest AS (\n    SELECT a.conversation_id, n.id, n.vote, n.reasons, n.created_at\n    FROM aff AS a\n    LEFT JOIN LATERAL (\n        SELECT v.id, v.vote, v.reasons, v.created_at FROM votes AS v\n        WHERE v.conversation_id = a.conversation_id\n        ORDER BY v.created_at DESC, v.id DESC LIMIT 1\n    ) AS n ON true\n),\ngone AS (\n    DELETE FROM vote_current AS vc USING newest AS n\n    WHERE vc.conversation_id = n.conversation_id AND n.id IS NULL\n    RETURNING vc.vote, vc.reasons, vc.cast_at\n),\nchanged AS (\n    INSERT INTO vote_current AS vc (conversation_id, vote_id, vote, reasons, cast_at)\n    SELECT conversation_id, id, vote, reasons, created_at FROM newest\n    WHERE id IS NOT NULL ORDER BY conversation_id\n    ON CONFLICT (conversation_id) DO UPDATE\n    SET vote_id = excluded.vote_id, vote = excluded.vote, reasons = excluded.reasons,\n        cast_at = excluded.cast_at\n    WHERE (vc.vote_id, vc.vote, vc.reasons, vc.cast_at)\n        IS DISTINCT FROM (excluded.vote_id, excluded.vote, excluded.reasons, excluded.cast_at)\n    RETURNING WITH (OLD AS was, NEW AS now_is)\n        was.vote AS old_vote, was.reasons AS old_reasons, was.cast_at AS old_cast_at,\n        now_is.vote AS new_vote, now_is.reasons AS new_reasons, now_is.cast_at AS new_cast_at\n),\ndelta AS (\n    SELECT old_vote AS vote, old_reasons AS reasons, old_cast_at AS cast_at, -1 AS sign\n    FROM changed WHERE old_cast_at IS NOT NULL\n    UNION ALL\n    SELECT new_vote, new_reasons, new_cast_at, 1 FROM changed\n    UNION ALL\n    SELECT vote, reasons, cast_at, -1 FROM gone\n)\n, vote_totals AS (\n    INSERT INTO vote_rollups AS r (grain, bucket_start, up, down)\n    SELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'),\n           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0),\n           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0)\n    FROM delta AS d CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\n    GROUP BY 1, 2\n    HAVING coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0) <> 0\n        OR coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0) <> 0\n    ORDER BY 1, 2\n    ON CONFLICT (grain, bucket_start) DO UPDATE\n    SET up = r.up + excluded.up, down = r.down + excluded.down\n)\nINSERT INTO vote_reason_rollups AS r (grain, bucket_start, reason, n)\nSELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'), x.reason, sum(d.sign)\nFROM delta AS d\nCROSS JOIN LATERAL (SELECT DISTINCT unnest(d.reasons) AS reason) AS x\nCROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3\nHAVING sum(d.sign) <> 0\nORDER BY 1, 2, 3\nON CONFLICT (grain, bucket_start, reason) DO UPDATE SET n = r.n + excluded.n;\n    END IF;\n    RETURN NULL;\nEND;\n$function$",
)


def _key_with_slot() -> None:
    """Make each table's primary key its key columns plus `slot`.

    The new unique index is built CONCURRENTLY outside the transaction (env.py's advisory
    lock still held), then becomes the primary key under a lock held for a catalog change
    only. Safe to run again after a failure anywhere: a leftover index is rebuilt and the
    constraint is replaced whatever it was."""
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '5s'")  # autocommit: no transaction for SET LOCAL
        for table, key in TABLES:
            op.drop_index(
                f"uq_{table}_key", table_name=table, postgresql_concurrently=True, if_exists=True
            )
            op.create_index(
                f"uq_{table}_key",
                table,
                [*key, "slot"],
                unique=True,
                postgresql_concurrently=True,
                if_not_exists=True,
            )
    op.execute("SET LOCAL lock_timeout = '5s'")
    for table, _ in TABLES:
        op.execute(
            # The key is replaced by the index built above, in this one transaction.
            "-- squawk-ignore ban-drop-constraint\n"
            f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS pk_{table}"
        )
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY USING INDEX uq_{table}_key"
        )


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    for table, _ in TABLES:
        # A constant default: a catalog-only change, no table rewrite.
        op.add_column(
            table,
            sa.Column("slot", sa.SmallInteger(), server_default="0", nullable=False),
            if_not_exists=True,
        )
    _key_with_slot()
    # In the transaction that re-keyed the tables: no vote sees the new key without the
    # function that writes it, or the other way round.
    op.replace_entity(VOTE_ROLLUPS_APPLY)


def downgrade() -> None:
    # One transaction: the slots folded into slot 0, the old key and the old function
    # together (tables of two rows an hour: the non-concurrent key build is brief).
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        "WITH moved AS (DELETE FROM vote_rollups WHERE slot <> 0 RETURNING *) "
        "INSERT INTO vote_rollups AS r (grain, bucket_start, slot, up, down) "
        "SELECT grain, bucket_start, 0, sum(up), sum(down) FROM moved GROUP BY 1, 2 "
        "ON CONFLICT (grain, bucket_start, slot) DO UPDATE "
        "SET up = r.up + excluded.up, down = r.down + excluded.down"
    )
    op.execute(
        "WITH moved AS (DELETE FROM vote_reason_rollups WHERE slot <> 0 RETURNING *) "
        "INSERT INTO vote_reason_rollups AS r (grain, bucket_start, reason, slot, n) "
        "SELECT grain, bucket_start, reason, 0, sum(n) FROM moved GROUP BY 1, 2, 3 "
        "ON CONFLICT (grain, bucket_start, reason, slot) DO UPDATE SET n = r.n + excluded.n"
    )
    for table, key in TABLES:
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.create_primary_key(f"pk_{table}", table, list(key))
        op.drop_column(table, "slot")
    op.replace_entity(PREVIOUS_VOTE_ROLLUPS_APPLY)
