# mypy: disable-error-code="attr-defined"
"""quality loop: current votes per query and query signals, kept by triggers

Revision ID: 0101
Revises: 0103
Create Date: 2026-12-01 19:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from alembic_utils.pg_function import PGFunction
from alembic_utils.pg_trigger import PGTrigger
from sqlalchemy.dialects import postgresql

revision: str = "0101"
down_revision: str | Sequence[str] | None = "0103"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of app/quality/triggers.py at this revision (alembic check compares them).
quality_priority = PGFunction(
    schema="public",
    signature="quality_priority(down bigint, up bigint, reasoned bigint, traffic bigint)",
    definition="RETURNS double precision\nLANGUAGE sql\nIMMUTABLE PARALLEL SAFE\nAS $function$\nSELECT CASE WHEN down <= 0 THEN 0::double precision ELSE\n    (down::double precision\n        + 0.5::double precision * least(greatest(reasoned, 0), down))\n    * (down + 1)::double precision\n    / (down + greatest(up, 0) + 2)::double precision\n    * (1::double precision + ln(1::double precision + greatest(coalesce(traffic, 0), 0)))\nEND\n$function$",
)

quality_merge_reasons = PGFunction(
    schema="public",
    signature="quality_merge_reasons(counts jsonb, deltas jsonb)",
    definition="RETURNS jsonb\nLANGUAGE sql\nIMMUTABLE PARALLEL SAFE\nAS $function$\nSELECT coalesce(jsonb_object_agg(key, n), '{}'::jsonb)\nFROM (\n    SELECT key, sum(n) AS n\n    FROM (\n        SELECT key, CAST(value AS bigint) AS n FROM jsonb_each_text(counts)\n        UNION ALL\n        SELECT key, CAST(value AS bigint) FROM jsonb_each_text(coalesce(deltas, '{}'::jsonb))\n    ) AS both_sides\n    GROUP BY key\n    HAVING sum(n) > 0\n) AS merged\n$function$",
)

quality_lock_queries = PGFunction(
    schema="public",
    signature="quality_lock_queries(query_ids uuid[])",
    definition="RETURNS void\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    PERFORM pg_advisory_xact_lock(1903389031, keys.k)\n    FROM (\n        SELECT DISTINCT hashtext(CAST(q AS text)) AS k FROM unnest(query_ids) AS q\n        ORDER BY k\n        OFFSET 0\n    ) AS keys;\n    INSERT INTO query_signals (query_id)\n    SELECT DISTINCT q FROM unnest(query_ids) AS q\n    ON CONFLICT (query_id) DO NOTHING;\nEND;\n$function$",
)

quality_refresh_votes = PGFunction(
    schema="public",
    signature="quality_refresh_votes(query_ids uuid[])",
    definition="RETURNS void\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    UPDATE query_signals AS s\n    SET down_votes = t.down,\n        up_votes = t.up,\n        reasoned_down_votes = t.reasoned,\n        reasons = t.reasons,\n        priority = quality_priority(t.down, t.up, t.reasoned, 0)\n    FROM (\n        SELECT q.query_id, v.down, v.up, v.reasoned, coalesce(r.reasons, '{}'::jsonb) AS reasons\n        FROM (SELECT DISTINCT unnest(query_ids) AS query_id) AS q\n        CROSS JOIN LATERAL (\n            SELECT count(*) FILTER (WHERE c.vote = 'down') AS down,\n                   count(*) FILTER (WHERE c.vote = 'up') AS up,\n                   count(*) FILTER (WHERE c.vote = 'down' AND cardinality(c.reasons) > 0)\n                       AS reasoned\n            FROM query_current_votes AS c\n            WHERE c.query_id = q.query_id\n        ) AS v\n        CROSS JOIN LATERAL (\n            SELECT jsonb_object_agg(x.reason, x.n) AS reasons\n            FROM (\n                SELECT d.reason, count(*) AS n\n                FROM query_current_votes AS c\n                CROSS JOIN LATERAL (SELECT DISTINCT unnest(c.reasons) AS reason) AS d\n                WHERE c.query_id = q.query_id AND c.vote = 'down'\n                GROUP BY d.reason\n            ) AS x\n        ) AS r\n    ) AS t\n    WHERE s.query_id = t.query_id AND s.query_id = ANY(query_ids);\n    DELETE FROM query_signals\n    WHERE query_id = ANY(query_ids)\n      AND down_votes = 0 AND up_votes = 0 AND first_reviewed_at IS NULL;\nEND;\n$function$",
)

quality_rederive_votes = PGFunction(
    schema="public",
    signature="quality_rederive_votes(query_ids uuid[], conversation_ids text[])",
    definition="RETURNS void\nLANGUAGE plpgsql\nAS $function$\nDECLARE\n    touched uuid[] := ARRAY(SELECT DISTINCT q FROM unnest(query_ids) AS q ORDER BY q);\nBEGIN\n    IF cardinality(touched) = 0 THEN\n        RETURN;\n    END IF;\n    PERFORM quality_lock_queries(touched);\n    DELETE FROM query_current_votes AS c\n    USING unnest(query_ids, conversation_ids) AS p(query_id, conversation_id)\n    WHERE c.query_id = p.query_id AND c.conversation_id = p.conversation_id\n      AND c.query_id = ANY(touched);\n    INSERT INTO query_current_votes (query_id, conversation_id, vote_id, vote, reasons, voted_at)\n    SELECT v.query_id, v.conversation_id, v.id, v.vote, v.reasons, v.created_at\n    FROM (\n        SELECT DISTINCT p.query_id, p.conversation_id\n        FROM unnest(query_ids, conversation_ids) AS p(query_id, conversation_id)\n    ) AS p\n    CROSS JOIN LATERAL (\n        SELECT w.query_id, w.conversation_id, w.id, w.vote, w.reasons, w.created_at\n        FROM votes AS w\n        WHERE w.conversation_id = p.conversation_id AND w.query_id = p.query_id\n        ORDER BY w.created_at DESC, w.id DESC\n        LIMIT 1\n    ) AS v;\n    PERFORM quality_refresh_votes(touched);\nEND;\n$function$",
)

quality_votes_changed = PGFunction(
    schema="public",
    signature="quality_votes_changed()",
    definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nDECLARE\n    touched uuid[];\n    qids uuid[];\n    convs text[];\nBEGIN\n    IF TG_OP = 'INSERT' THEN\n        touched := ARRAY(\n            SELECT DISTINCT query_id FROM new_rows WHERE query_id IS NOT NULL ORDER BY query_id\n        );\n        IF cardinality(touched) = 0 THEN\n            RETURN NULL;\n        END IF;\n        PERFORM quality_lock_queries(touched);\n        -- Under the lock, `previous` (this statement's snapshot) is exactly what `upserted`\n        -- replaces, so the tallies move by (new current votes - the ones they replace)\n        -- without re-reading the query's other votes. LATERAL keeps each lookup on the PK.\n        WITH incoming AS (\n            SELECT DISTINCT ON (query_id, conversation_id)\n                   query_id, conversation_id, id, vote, reasons, created_at\n            FROM new_rows\n            WHERE query_id IS NOT NULL\n            ORDER BY query_id, conversation_id, created_at DESC, id DESC\n        ),\n        previous AS (\n            SELECT i.query_id, i.conversation_id, p.vote, p.reasons\n            FROM incoming AS i\n            CROSS JOIN LATERAL (\n                SELECT c.vote, c.reasons FROM query_current_votes AS c\n                WHERE c.query_id = i.query_id AND c.conversation_id = i.conversation_id\n            ) AS p\n        ),\n        upserted AS (\n            INSERT INTO query_current_votes AS c\n                (query_id, conversation_id, vote_id, vote, reasons, voted_at)\n            SELECT query_id, conversation_id, id, vote, reasons, created_at FROM incoming\n            ON CONFLICT (query_id, conversation_id) DO UPDATE\n            SET vote_id = EXCLUDED.vote_id,\n                vote = EXCLUDED.vote,\n                reasons = EXCLUDED.reasons,\n                voted_at = EXCLUDED.voted_at\n            WHERE (EXCLUDED.voted_at, EXCLUDED.vote_id) > (c.voted_at, c.vote_id)\n            RETURNING c.query_id, c.conversation_id, c.vote, c.reasons\n        ),\n        changes AS (\n            SELECT u.query_id, 1 AS sign, u.vote, u.reasons FROM upserted AS u\n            UNION ALL\n            SELECT p.query_id, -1, p.vote, p.reasons\n            FROM previous AS p\n            JOIN upserted AS u USING (query_id, conversation_id)\n        ),\n        reason_deltas AS (\n            SELECT query_id, jsonb_object_agg(reason, n) AS deltas\n            FROM (\n                SELECT ch.query_id, r.reason, sum(ch.sign) AS n\n                FROM changes AS ch\n                CROSS JOIN LATERAL (SELECT DISTINCT unnest(ch.reasons) AS reason) AS r\n                WHERE ch.vote = 'down'\n                GROUP BY ch.query_id, r.reason\n                HAVING sum(ch.sign) <> 0\n            ) AS per_reason\n            GROUP BY query_id\n        ),\n        tallies AS (\n            SELECT ch.query_id,\n                   coalesce(sum(ch.sign) FILTER (WHERE ch.vote = 'down'), 0) AS down,\n                   coalesce(sum(ch.sign) FILTER (WHERE ch.vote = 'up'), 0) AS up,\n                   coalesce(sum(ch.sign) FILTER (\n                       WHERE ch.vote = 'down' AND cardinality(ch.reasons) > 0\n                   ), 0) AS reasoned\n            FROM changes AS ch\n            GROUP BY ch.query_id\n        )\n        UPDATE query_signals AS s\n        SET down_votes = s.down_votes + t.down,\n            up_votes = s.up_votes + t.up,\n            reasoned_down_votes = s.reasoned_down_votes + t.reasoned,\n            reasons = CASE WHEN d.deltas IS NULL THEN s.reasons\n                           ELSE quality_merge_reasons(s.reasons, d.deltas) END,\n            priority = quality_priority(\n                s.down_votes + t.down, s.up_votes + t.up, s.reasoned_down_votes + t.reasoned, 0\n            )\n        FROM tallies AS t\n        LEFT JOIN reason_deltas AS d ON d.query_id = t.query_id\n        WHERE s.query_id = t.query_id AND s.query_id = ANY(touched);\n        RETURN NULL;\n    END IF;\n    IF TG_OP = 'DELETE' THEN\n        SELECT array_agg(query_id), array_agg(conversation_id) INTO qids, convs\n        FROM (SELECT DISTINCT query_id, conversation_id FROM old_rows\n              WHERE query_id IS NOT NULL) AS p;\n    ELSE\n        SELECT array_agg(query_id), array_agg(conversation_id) INTO qids, convs\n        FROM (SELECT query_id, conversation_id FROM old_rows WHERE query_id IS NOT NULL\n              UNION\n              SELECT query_id, conversation_id FROM new_rows WHERE query_id IS NOT NULL) AS p;\n    END IF;\n    IF qids IS NOT NULL THEN\n        PERFORM quality_rederive_votes(qids, convs);\n    END IF;\n    RETURN NULL;\nEND;\n$function$",
)

quality_refresh_reviews = PGFunction(
    schema="public",
    signature="quality_refresh_reviews(query_ids uuid[])",
    definition="RETURNS void\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    PERFORM quality_lock_queries(query_ids);\n    UPDATE query_signals AS s\n    SET first_reviewed_at = r.first_at,\n        verdict = r.feedback_type,\n        verdict_at = r.created_at\n    FROM (\n        SELECT q.query_id, f.first_at, l.feedback_type, l.created_at\n        FROM (SELECT DISTINCT unnest(query_ids) AS query_id) AS q\n        CROSS JOIN LATERAL (\n            SELECT min(e.created_at) AS first_at FROM expert_feedback AS e\n            WHERE e.query_id = q.query_id\n        ) AS f\n        LEFT JOIN LATERAL (\n            SELECT e.feedback_type, e.created_at FROM expert_feedback AS e\n            WHERE e.query_id = q.query_id\n            ORDER BY e.created_at DESC, e.id DESC\n            LIMIT 1\n        ) AS l ON true\n    ) AS r\n    WHERE s.query_id = r.query_id AND s.query_id = ANY(query_ids);\n    DELETE FROM query_signals\n    WHERE query_id = ANY(query_ids)\n      AND down_votes = 0 AND up_votes = 0 AND first_reviewed_at IS NULL;\nEND;\n$function$",
)

quality_expert_feedback_changed = PGFunction(
    schema="public",
    signature="quality_expert_feedback_changed()",
    definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nDECLARE\n    touched uuid[];\nBEGIN\n    IF TG_OP = 'INSERT' THEN\n        touched := ARRAY(SELECT DISTINCT query_id FROM new_rows ORDER BY query_id);\n    ELSIF TG_OP = 'DELETE' THEN\n        touched := ARRAY(SELECT DISTINCT query_id FROM old_rows ORDER BY query_id);\n    ELSE\n        touched := ARRAY(\n            SELECT query_id FROM old_rows UNION SELECT query_id FROM new_rows ORDER BY 1\n        );\n    END IF;\n    IF cardinality(touched) > 0 THEN\n        PERFORM quality_refresh_reviews(touched);\n    END IF;\n    RETURN NULL;\nEND;\n$function$",
)

quality_votes_truncated = PGFunction(
    schema="public",
    signature="quality_votes_truncated()",
    definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    DELETE FROM query_current_votes;\n    DELETE FROM query_signals WHERE first_reviewed_at IS NULL;\n    UPDATE query_signals\n    SET down_votes = 0, up_votes = 0, reasoned_down_votes = 0, reasons = '{}'::jsonb,\n        priority = 0;\n    RETURN NULL;\nEND;\n$function$",
)

quality_expert_feedback_truncated = PGFunction(
    schema="public",
    signature="quality_expert_feedback_truncated()",
    definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    DELETE FROM query_signals WHERE down_votes = 0 AND up_votes = 0;\n    UPDATE query_signals SET first_reviewed_at = NULL, verdict = NULL, verdict_at = NULL;\n    RETURN NULL;\nEND;\n$function$",
)

trg_votes_quality_insert = PGTrigger(
    schema="public",
    signature="trg_votes_quality_insert",
    on_entity="public.votes",
    is_constraint=False,
    definition="AFTER INSERT ON public.votes REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.quality_votes_changed()",
)

trg_votes_quality_delete = PGTrigger(
    schema="public",
    signature="trg_votes_quality_delete",
    on_entity="public.votes",
    is_constraint=False,
    definition="AFTER DELETE ON public.votes REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.quality_votes_changed()",
)

trg_votes_quality_update = PGTrigger(
    schema="public",
    signature="trg_votes_quality_update",
    on_entity="public.votes",
    is_constraint=False,
    definition="AFTER UPDATE ON public.votes REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.quality_votes_changed()",
)

trg_expert_feedback_quality_insert = PGTrigger(
    schema="public",
    signature="trg_expert_feedback_quality_insert",
    on_entity="public.expert_feedback",
    is_constraint=False,
    definition="AFTER INSERT ON public.expert_feedback REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.quality_expert_feedback_changed()",
)

trg_expert_feedback_quality_delete = PGTrigger(
    schema="public",
    signature="trg_expert_feedback_quality_delete",
    on_entity="public.expert_feedback",
    is_constraint=False,
    definition="AFTER DELETE ON public.expert_feedback REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.quality_expert_feedback_changed()",
)

trg_expert_feedback_quality_update = PGTrigger(
    schema="public",
    signature="trg_expert_feedback_quality_update",
    on_entity="public.expert_feedback",
    is_constraint=False,
    definition="AFTER UPDATE ON public.expert_feedback REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.quality_expert_feedback_changed()",
)

trg_votes_quality_truncate = PGTrigger(
    schema="public",
    signature="trg_votes_quality_truncate",
    on_entity="public.votes",
    is_constraint=False,
    definition="AFTER TRUNCATE ON public.votes FOR EACH STATEMENT EXECUTE FUNCTION public.quality_votes_truncated()",
)

trg_expert_feedback_quality_truncate = PGTrigger(
    schema="public",
    signature="trg_expert_feedback_quality_truncate",
    on_entity="public.expert_feedback",
    is_constraint=False,
    definition="AFTER TRUNCATE ON public.expert_feedback FOR EACH STATEMENT EXECUTE FUNCTION public.quality_expert_feedback_truncated()",
)

FUNCTIONS = [
    quality_priority,
    quality_merge_reasons,
    quality_lock_queries,
    quality_refresh_votes,
    quality_rederive_votes,
    quality_votes_changed,
    quality_refresh_reviews,
    quality_expert_feedback_changed,
    quality_votes_truncated,
    quality_expert_feedback_truncated,
]
TRIGGERS = [
    trg_votes_quality_insert,
    trg_votes_quality_delete,
    trg_votes_quality_update,
    trg_expert_feedback_quality_insert,
    trg_expert_feedback_quality_delete,
    trg_expert_feedback_quality_update,
    trg_votes_quality_truncate,
    trg_expert_feedback_quality_truncate,
]

# The existing enum types, reused (never created or dropped here).
VOTE_DIRECTION = postgresql.ENUM("up", "down", name="vote_direction", create_type=False)
FEEDBACK_TYPE = postgresql.ENUM(
    "correct", "incomplete", "incorrect", name="feedback_type", create_type=False
)


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table(
        "query_current_votes",
        sa.Column("query_id", sa.UUID(), nullable=False),
        sa.Column("conversation_id", sa.String(length=200), nullable=False),
        sa.Column("vote_id", sa.UUID(), nullable=False),
        sa.Column("vote", VOTE_DIRECTION, nullable=False),
        sa.Column(
            "reasons",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
        ),
        sa.Column("voted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("query_id", "conversation_id", name=op.f("pk_query_current_votes")),
    )
    op.create_table(
        "query_signals",
        sa.Column("query_id", sa.UUID(), nullable=False),
        sa.Column("down_votes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("up_votes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reasoned_down_votes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "reasons",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("priority", sa.Float(), server_default="0", nullable=False),
        sa.Column("first_reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verdict", FEEDBACK_TYPE, nullable=True),
        sa.Column("verdict_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "down_votes >= 0 AND up_votes >= 0 AND reasoned_down_votes >= 0 "
            "AND reasoned_down_votes <= down_votes",
            name=op.f("ck_query_signals_vote_counts_consistent"),
        ),
        sa.CheckConstraint("priority >= 0", name=op.f("ck_query_signals_priority_non_negative")),
        sa.PrimaryKeyConstraint("query_id", name=op.f("pk_query_signals")),
    )
    op.create_index(
        "ix_query_signals_review_queue",
        "query_signals",
        [sa.text("priority DESC"), "query_id"],
        unique=False,
        postgresql_where=sa.text("first_reviewed_at IS NULL AND down_votes > 0"),
    )
    op.create_index(
        "ix_query_signals_verdict_at",
        "query_signals",
        ["verdict_at"],
        unique=False,
        postgresql_where=sa.text("verdict_at IS NOT NULL"),
    )
    for function in FUNCTIONS:
        op.create_entity(function)
    # Existing rows, derived once with the same functions the triggers use; from here on
    # the triggers keep both tables right.
    op.execute(
        "SELECT quality_rederive_votes(array_agg(query_id), array_agg(conversation_id)) "
        "FROM (SELECT DISTINCT query_id, conversation_id FROM votes "
        "WHERE query_id IS NOT NULL) AS p"
    )
    op.execute(
        "SELECT quality_refresh_reviews(array_agg(DISTINCT query_id)) FROM expert_feedback "
        "HAVING count(*) > 0"
    )
    for trigger in TRIGGERS:
        op.create_entity(trigger)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    for trigger in reversed(TRIGGERS):
        op.drop_entity(trigger)
    for function in reversed(FUNCTIONS):
        op.drop_entity(function)
    op.drop_index("ix_query_signals_verdict_at", table_name="query_signals")
    op.drop_index("ix_query_signals_review_queue", table_name="query_signals")
    op.drop_table("query_signals")
    op.drop_table("query_current_votes")
