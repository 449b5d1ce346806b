# mypy: disable-error-code="attr-defined"
"""analytics rollups kept by statement triggers

Tables, then trigger functions and statement triggers (app/analytics/triggers.py, frozen
here), then a backfill of the rollups from the rows already stored.

Revision ID: 0108
Revises: 0109
Create Date: 2026-12-01 20:58:46.761134
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from alembic_utils.pg_function import PGFunction
from alembic_utils.pg_trigger import PGTrigger
from sqlalchemy.dialects import postgresql

revision: str = "0108"
down_revision: str | Sequence[str] | None = "0109"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    # The one index on an existing (write-hot) table comes first, CONCURRENTLY and outside
    # the transaction with env.py's session advisory lock still held (docs/reliability.md):
    # it needs nothing this revision creates, and the rest (tables, triggers, backfill)
    # then stays one transaction. A failure after it leaves only this index, which a retry
    # drops and builds again.
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '5s'")  # autocommit: no transaction for SET LOCAL
        op.drop_index(
            "ix_response_cache_flagged_at",
            table_name="response_cache",
            postgresql_concurrently=True,
            if_exists=True,
        )
        op.create_index(
            "ix_response_cache_flagged_at",
            "response_cache",
            [sa.literal_column("flagged_at DESC"), "cache_key"],
            unique=False,
            postgresql_where=sa.text("status = 'flagged'"),
            postgresql_concurrently=True,
            if_not_exists=True,
        )
    op.execute("SET LOCAL lock_timeout = '5s'")  # the new transaction's own bound
    op.create_table(
        "cache_entry_rollups",
        sa.Column("grain", sa.String(length=1), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("n", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("grain = 'h' OR grain = 'd'", name=op.f("ck_cache_entry_rollups_grain")),
        sa.PrimaryKeyConstraint("grain", "bucket_start", name=op.f("pk_cache_entry_rollups")),
    )
    op.create_table(
        "cache_hit_rollups",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hits", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cost_saved", sa.Numeric(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_cache_hit_rollups")),
    )
    op.create_table(
        "cache_rating_rollups",
        sa.Column("grain", sa.String(length=1), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("n", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "grain = 'h' OR grain = 'd'", name=op.f("ck_cache_rating_rollups_grain")
        ),
        sa.PrimaryKeyConstraint(
            "grain", "bucket_start", "rating", name=op.f("pk_cache_rating_rollups")
        ),
    )
    op.create_table(
        "expert_candidate_status_counts",
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("n", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("status", name=op.f("pk_expert_candidate_status_counts")),
    )
    op.create_table(
        "expert_feedback_rollups",
        sa.Column("grain", sa.String(length=1), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("feedback_type", sa.String(length=40), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("n", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "grain = 'h' OR grain = 'd'", name=op.f("ck_expert_feedback_rollups_grain")
        ),
        sa.PrimaryKeyConstraint(
            "grain",
            "bucket_start",
            "feedback_type",
            "category",
            name=op.f("pk_expert_feedback_rollups"),
        ),
    )
    op.create_table(
        "routing_latency_rollups",
        sa.Column("grain", sa.String(length=1), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("provider", sa.String(length=100), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("pattern", sa.String(length=100), nullable=False),
        sa.Column("bin", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "grain = 'h' OR grain = 'd'", name=op.f("ck_routing_latency_rollups_grain")
        ),
        sa.PrimaryKeyConstraint(
            "grain",
            "bucket_start",
            "provider",
            "model",
            "pattern",
            "bin",
            name=op.f("pk_routing_latency_rollups"),
        ),
    )
    op.create_table(
        "routing_rollups",
        sa.Column("grain", sa.String(length=1), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("provider", sa.String(length=100), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("pattern", sa.String(length=100), nullable=False),
        sa.Column("band", sa.String(length=10), nullable=False),
        sa.Column("requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cost_sum", sa.Numeric(), server_default="0", nullable=False),
        sa.Column("savings_sum", sa.Numeric(), server_default="0", nullable=False),
        sa.Column("savings_n", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("feedback_n", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("quality_sum", sa.Float(), server_default="0", nullable=False),
        sa.Column("quality_sq_sum", sa.Float(), server_default="0", nullable=False),
        sa.Column("correct_true", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("correct_n", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("helpful_true", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("helpful_n", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("grain = 'h' OR grain = 'd'", name=op.f("ck_routing_rollups_grain")),
        sa.PrimaryKeyConstraint(
            "grain",
            "bucket_start",
            "provider",
            "model",
            "pattern",
            "band",
            name=op.f("pk_routing_rollups"),
        ),
    )
    op.create_table(
        "vote_current",
        sa.Column("conversation_id", sa.String(length=200), nullable=False),
        sa.Column("vote_id", sa.UUID(), nullable=False),
        sa.Column(
            "vote",
            postgresql.ENUM("up", "down", name="vote_direction", create_type=False),
            nullable=False,
        ),
        sa.Column(
            "reasons",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
        ),
        sa.Column("cast_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_vote_current")),
    )
    op.create_index("ix_vote_current_cast_at", "vote_current", ["cast_at"], unique=False)
    op.create_table(
        "vote_reason_rollups",
        sa.Column("grain", sa.String(length=1), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("n", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("grain = 'h' OR grain = 'd'", name=op.f("ck_vote_reason_rollups_grain")),
        sa.PrimaryKeyConstraint(
            "grain", "bucket_start", "reason", name=op.f("pk_vote_reason_rollups")
        ),
    )
    op.create_table(
        "vote_rollups",
        sa.Column("grain", sa.String(length=1), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("up", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("down", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("grain = 'h' OR grain = 'd'", name=op.f("ck_vote_rollups_grain")),
        sa.PrimaryKeyConstraint("grain", "bucket_start", name=op.f("pk_vote_rollups")),
    )

    public_analytics_rollups_rebuild = PGFunction(
        schema="public",
        signature="analytics_rollups_rebuild()",
        definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    DELETE FROM vote_current;\n    INSERT INTO vote_current (conversation_id, vote_id, vote, reasons, cast_at) SELECT conversation_id, vote_id, vote, reasons, cast_at FROM (\nSELECT DISTINCT ON (conversation_id) conversation_id, id AS vote_id, vote, reasons,\n       created_at AS cast_at\nFROM votes ORDER BY conversation_id, created_at DESC, id DESC) AS s ORDER BY conversation_id;\n    DELETE FROM vote_rollups;\n    INSERT INTO vote_rollups (grain, bucket_start, up, down) SELECT grain, bucket_start, up, down FROM (\nSELECT g.grain, date_trunc(g.unit, c.cast_at, 'UTC') AS bucket_start,\n       count(*) FILTER (WHERE c.vote = 'up') AS up, count(*) FILTER (WHERE c.vote = 'down') AS down\nFROM (\nSELECT DISTINCT ON (conversation_id) conversation_id, id AS vote_id, vote, reasons,\n       created_at AS cast_at\nFROM votes ORDER BY conversation_id, created_at DESC, id DESC) AS c CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit) GROUP BY 1, 2) AS s ORDER BY grain, bucket_start;\n    DELETE FROM vote_reason_rollups;\n    INSERT INTO vote_reason_rollups (grain, bucket_start, reason, n) SELECT grain, bucket_start, reason, n FROM (\nSELECT g.grain, date_trunc(g.unit, c.cast_at, 'UTC') AS bucket_start, x.reason, count(*) AS n\nFROM (\nSELECT DISTINCT ON (conversation_id) conversation_id, id AS vote_id, vote, reasons,\n       created_at AS cast_at\nFROM votes ORDER BY conversation_id, created_at DESC, id DESC) AS c\nCROSS JOIN LATERAL (SELECT DISTINCT unnest(c.reasons) AS reason) AS x\nCROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit) GROUP BY 1, 2, 3) AS s ORDER BY grain, bucket_start, reason;\n    DELETE FROM routing_rollups;\n    INSERT INTO routing_rollups (grain, bucket_start, provider, model, pattern, band, requests, cost_sum, savings_sum, savings_n, feedback_n, quality_sum, quality_sq_sum, correct_true, correct_n, helpful_true, helpful_n) SELECT grain, bucket_start, provider, model, pattern, band, requests, cost_sum, savings_sum, savings_n, feedback_n, quality_sum, quality_sq_sum, correct_true, correct_n, helpful_true, helpful_n FROM (\nSELECT g.grain, date_trunc(g.unit, m.created_at, 'UTC') AS bucket_start,\n       m.selected_provider AS provider, m.selected_model AS model,\n       coalesce(m.pattern_detected, '') AS pattern, (CASE WHEN m.complexity_score IS NULL THEN '' WHEN m.complexity_score < 0.33 THEN 'low' WHEN m.complexity_score < 0.66 THEN 'medium' ELSE 'high' END) AS band,\n       count(*) AS requests, sum(m.actual_cost) AS cost_sum,\n       coalesce(sum(m.cost_savings), 0) AS savings_sum, count(m.cost_savings) AS savings_n,\n       sum(fb.n) AS feedback_n, sum(fb.q) AS quality_sum, sum(fb.q2) AS quality_sq_sum,\n       sum(fb.ct) AS correct_true, sum(fb.cn) AS correct_n, sum(fb.ht) AS helpful_true,\n       sum(fb.hn) AS helpful_n\nFROM routing_metrics AS m\nCROSS JOIN LATERAL (\n    SELECT count(*) AS n, coalesce(sum(f.quality_score), 0) AS q,\n           coalesce(sum((CASE WHEN f.quality_score < 1e-150 THEN 0 ELSE f.quality_score * f.quality_score END)), 0) AS q2,\n           count(*) FILTER (WHERE f.is_correct) AS ct, count(f.is_correct) AS cn,\n           count(*) FILTER (WHERE f.is_helpful) AS ht, count(f.is_helpful) AS hn\n    FROM routing_feedback AS f WHERE f.request_id = m.request_id\n) AS fb CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3, 4, 5, 6) AS s ORDER BY grain, bucket_start, provider, model, pattern, band;\n    DELETE FROM routing_latency_rollups;\n    INSERT INTO routing_latency_rollups (grain, bucket_start, provider, model, pattern, bin, n) SELECT grain, bucket_start, provider, model, pattern, bin, n FROM (\nSELECT g.grain, date_trunc(g.unit, m.created_at, 'UTC') AS bucket_start,\n       m.selected_provider AS provider, m.selected_model AS model,\n       coalesce(m.pattern_detected, '') AS pattern, (CASE WHEN m.latency_ms < 1 THEN 0 ELSE 1 + floor(ln(CAST(m.latency_ms AS double precision)) / 0.10008345855698263) END) AS bin,\n       count(*) AS n\nFROM routing_metrics AS m CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nWHERE m.latency_ms IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6) AS s ORDER BY grain, bucket_start, provider, model, pattern, bin;\n    DELETE FROM cache_entry_rollups;\n    INSERT INTO cache_entry_rollups (grain, bucket_start, n) SELECT grain, bucket_start, n FROM (\nSELECT g.grain, date_trunc(g.unit, e.created_at, 'UTC') AS bucket_start, count(*) AS n\nFROM response_cache AS e CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit) GROUP BY 1, 2) AS s ORDER BY grain, bucket_start;\n    DELETE FROM cache_rating_rollups;\n    INSERT INTO cache_rating_rollups (grain, bucket_start, rating, n) SELECT grain, bucket_start, rating, n FROM (\nSELECT g.grain, date_trunc(g.unit, f.created_at, 'UTC') AS bucket_start, f.rating, count(*) AS n\nFROM cache_feedback AS f CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit) WHERE f.superseded_at IS NULL GROUP BY 1, 2, 3) AS s ORDER BY grain, bucket_start, rating;\n    DELETE FROM cache_hit_rollups;\n    INSERT INTO cache_hit_rollups (day, hits, cost_saved) SELECT day, hits, cost_saved FROM (\nSELECT h.day, sum(h.hits) AS hits, sum(h.hits * e.cost_usd) AS cost_saved\nFROM cache_hit_days AS h JOIN response_cache AS e ON e.cache_key = h.cache_key GROUP BY 1) AS s ORDER BY day;\n    DELETE FROM expert_feedback_rollups;\n    INSERT INTO expert_feedback_rollups (grain, bucket_start, feedback_type, category, n) SELECT grain, bucket_start, feedback_type, category, n FROM (\nSELECT g.grain, date_trunc(g.unit, f.created_at, 'UTC') AS bucket_start,\n       f.feedback_type::text AS feedback_type, coalesce(f.category::text, '') AS category,\n       count(*) AS n\nFROM expert_feedback AS f CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit) GROUP BY 1, 2, 3, 4) AS s ORDER BY grain, bucket_start, feedback_type, category;\n    DELETE FROM expert_candidate_status_counts;\n    INSERT INTO expert_candidate_status_counts (status, n) SELECT status, n FROM (\nSELECT approval_status::text AS status, count(*) AS n FROM expert_faq_candidates GROUP BY 1) AS s ORDER BY status;\n    RETURN NULL;\nEND;\n$function$",
    )
    op.create_entity(public_analytics_rollups_rebuild)

    public_vote_rollups_apply = PGFunction(
        schema="public",
        signature="vote_rollups_apply()",
        definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF TG_OP = 'INSERT' THEN\n\nWITH cand AS (\n    SELECT DISTINCT ON (conversation_id) conversation_id, id, vote, reasons, created_at\n    FROM new_rows\n    ORDER BY conversation_id, created_at DESC, id DESC\n),\nchanged AS (\n    INSERT INTO vote_current AS vc (conversation_id, vote_id, vote, reasons, cast_at)\n    SELECT conversation_id, id, vote, reasons, created_at FROM cand ORDER BY conversation_id\n    ON CONFLICT (conversation_id) DO UPDATE\n    SET vote_id = excluded.vote_id, vote = excluded.vote, reasons = excluded.reasons,\n        cast_at = excluded.cast_at\n    WHERE (excluded.cast_at, excluded.vote_id) > (vc.cast_at, vc.vote_id)\n    RETURNING WITH (OLD AS was, NEW AS now_is)\n        was.vote AS old_vote, was.reasons AS old_reasons, was.cast_at AS old_cast_at,\n        now_is.vote AS new_vote, now_is.reasons AS new_reasons, now_is.cast_at AS new_cast_at\n),\ngone AS (SELECT NULL::vote_direction AS vote, NULL::text[] AS reasons,\n                NULL::timestamptz AS cast_at WHERE false),\ndelta AS (\n    SELECT old_vote AS vote, old_reasons AS reasons, old_cast_at AS cast_at, -1 AS sign\n    FROM changed WHERE old_cast_at IS NOT NULL\n    UNION ALL\n    SELECT new_vote, new_reasons, new_cast_at, 1 FROM changed\n    UNION ALL\n    SELECT vote, reasons, cast_at, -1 FROM gone\n)\n, vote_totals AS (\n    INSERT INTO vote_rollups AS r (grain, bucket_start, up, down)\n    SELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'),\n           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0),\n           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0)\n    FROM delta AS d CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\n    GROUP BY 1, 2\n    HAVING coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0) <> 0\n        OR coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0) <> 0\n    ORDER BY 1, 2\n    ON CONFLICT (grain, bucket_start) DO UPDATE\n    SET up = r.up + excluded.up, down = r.down + excluded.down\n)\nINSERT INTO vote_reason_rollups AS r (grain, bucket_start, reason, n)\nSELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'), x.reason, sum(d.sign)\nFROM delta AS d\nCROSS JOIN LATERAL (SELECT DISTINCT unnest(d.reasons) AS reason) AS x\nCROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3\nHAVING sum(d.sign) <> 0\nORDER BY 1, 2, 3\nON CONFLICT (grain, bucket_start, reason) DO UPDATE SET n = r.n + excluded.n;\n    ELSIF TG_OP = 'DELETE' THEN\n\nWITH aff AS (SELECT DISTINCT conversation_id FROM old_rows),\nnewest AS (\n    SELECT a.conversation_id, n.id, n.vote, n.reasons, n.created_at\n    FROM aff AS a\n    LEFT JOIN LATERAL (\n        SELECT v.id, v.vote, v.reasons, v.created_at FROM votes AS v\n        WHERE v.conversation_id = a.conversation_id\n        ORDER BY v.created_at DESC, v.id DESC LIMIT 1\n    ) AS n ON true\n),\ngone AS (\n    DELETE FROM vote_current AS vc USING newest AS n\n    WHERE vc.conversation_id = n.conversation_id AND n.id IS NULL\n    RETURNING vc.vote, vc.reasons, vc.cast_at\n),\nchanged AS (\n    INSERT INTO vote_current AS vc (conversation_id, vote_id, vote, reasons, cast_at)\n    SELECT conversation_id, id, vote, reasons, created_at FROM newest\n    WHERE id IS NOT NULL ORDER BY conversation_id\n    ON CONFLICT (conversation_id) DO UPDATE\n    SET vote_id = excluded.vote_id, vote = excluded.vote, reasons = excluded.reasons,\n        cast_at = excluded.cast_at\n    WHERE (vc.vote_id, vc.vote, vc.reasons, vc.cast_at)\n        IS DISTINCT FROM (excluded.vote_id, excluded.vote, excluded.reasons, excluded.cast_at)\n    RETURNING WITH (OLD AS was, NEW AS now_is)\n        was.vote AS old_vote, was.reasons AS old_reasons, was.cast_at AS old_cast_at,\n        now_is.vote AS new_vote, now_is.reasons AS new_reasons, now_is.cast_at AS new_cast_at\n),\ndelta AS (\n    SELECT old_vote AS vote, old_reasons AS reasons, old_cast_at AS cast_at, -1 AS sign\n    FROM changed WHERE old_cast_at IS NOT NULL\n    UNION ALL\n    SELECT new_vote, new_reasons, new_cast_at, 1 FROM changed\n    UNION ALL\n    SELECT vote, reasons, cast_at, -1 FROM gone\n)\n, vote_totals AS (\n    INSERT INTO vote_rollups AS r (grain, bucket_start, up, down)\n    SELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'),\n           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0),\n           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0)\n    FROM delta AS d CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\n    GROUP BY 1, 2\n    HAVING coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0) <> 0\n        OR coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0) <> 0\n    ORDER BY 1, 2\n    ON CONFLICT (grain, bucket_start) DO UPDATE\n    SET up = r.up + excluded.up, down = r.down + excluded.down\n)\nINSERT INTO vote_reason_rollups AS r (grain, bucket_start, reason, n)\nSELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'), x.reason, sum(d.sign)\nFROM delta AS d\nCROSS JOIN LATERAL (SELECT DISTINCT unnest(d.reasons) AS reason) AS x\nCROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3\nHAVING sum(d.sign) <> 0\nORDER BY 1, 2, 3\nON CONFLICT (grain, bucket_start, reason) DO UPDATE SET n = r.n + excluded.n;\n    ELSE\n\nWITH aff AS (SELECT conversation_id FROM old_rows UNION SELECT conversation_id FROM new_rows),\nnewest AS (\n    SELECT a.conversation_id, n.id, n.vote, n.reasons, n.created_at\n    FROM aff AS a\n    LEFT JOIN LATERAL (\n        SELECT v.id, v.vote, v.reasons, v.created_at FROM votes AS v\n        WHERE v.conversation_id = a.conversation_id\n        ORDER BY v.created_at DESC, v.id DESC LIMIT 1\n    ) AS n ON true\n),\ngone AS (\n    DELETE FROM vote_current AS vc USING newest AS n\n    WHERE vc.conversation_id = n.conversation_id AND n.id IS NULL\n    RETURNING vc.vote, vc.reasons, vc.cast_at\n),\nchanged AS (\n    INSERT INTO vote_current AS vc (conversation_id, vote_id, vote, reasons, cast_at)\n    SELECT conversation_id, id, vote, reasons, created_at FROM newest\n    WHERE id IS NOT NULL ORDER BY conversation_id\n    ON CONFLICT (conversation_id) DO UPDATE\n    SET vote_id = excluded.vote_id, vote = excluded.vote, reasons = excluded.reasons,\n        cast_at = excluded.cast_at\n    WHERE (vc.vote_id, vc.vote, vc.reasons, vc.cast_at)\n        IS DISTINCT FROM (excluded.vote_id, excluded.vote, excluded.reasons, excluded.cast_at)\n    RETURNING WITH (OLD AS was, NEW AS now_is)\n        was.vote AS old_vote, was.reasons AS old_reasons, was.cast_at AS old_cast_at,\n        now_is.vote AS new_vote, now_is.reasons AS new_reasons, now_is.cast_at AS new_cast_at\n),\ndelta AS (\n    SELECT old_vote AS vote, old_reasons AS reasons, old_cast_at AS cast_at, -1 AS sign\n    FROM changed WHERE old_cast_at IS NOT NULL\n    UNION ALL\n    SELECT new_vote, new_reasons, new_cast_at, 1 FROM changed\n    UNION ALL\n    SELECT vote, reasons, cast_at, -1 FROM gone\n)\n, vote_totals AS (\n    INSERT INTO vote_rollups AS r (grain, bucket_start, up, down)\n    SELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'),\n           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0),\n           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0)\n    FROM delta AS d CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\n    GROUP BY 1, 2\n    HAVING coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0) <> 0\n        OR coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0) <> 0\n    ORDER BY 1, 2\n    ON CONFLICT (grain, bucket_start) DO UPDATE\n    SET up = r.up + excluded.up, down = r.down + excluded.down\n)\nINSERT INTO vote_reason_rollups AS r (grain, bucket_start, reason, n)\nSELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'), x.reason, sum(d.sign)\nFROM delta AS d\nCROSS JOIN LATERAL (SELECT DISTINCT unnest(d.reasons) AS reason) AS x\nCROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3\nHAVING sum(d.sign) <> 0\nORDER BY 1, 2, 3\nON CONFLICT (grain, bucket_start, reason) DO UPDATE SET n = r.n + excluded.n;\n    END IF;\n    RETURN NULL;\nEND;\n$function$",
    )
    op.create_entity(public_vote_rollups_apply)

    public_routing_metric_rollups_apply = PGFunction(
        schema="public",
        signature="routing_metric_rollups_apply()",
        definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF TG_OP = 'INSERT' THEN\n\nWITH src AS (SELECT t.*, 1 AS sign FROM new_rows AS t),\ndelta AS (\n    SELECT m.created_at, m.selected_provider AS provider, m.selected_model AS model, coalesce(m.pattern_detected, '') AS pattern, (CASE WHEN m.complexity_score IS NULL THEN '' WHEN m.complexity_score < 0.33 THEN 'low' WHEN m.complexity_score < 0.66 THEN 'medium' ELSE 'high' END) AS band, m.sign AS requests, m.sign * m.actual_cost AS cost_sum,\n           m.sign * coalesce(m.cost_savings, 0) AS savings_sum,\n           CASE WHEN m.cost_savings IS NULL THEN 0 ELSE m.sign END AS savings_n,\n           0 AS feedback_n, 0.0 AS quality_sum, 0.0 AS quality_sq_sum, 0 AS correct_true, 0 AS correct_n, 0 AS helpful_true, 0 AS helpful_n\n    FROM src AS m\n),\nlatency AS (\n    INSERT INTO routing_latency_rollups AS r (grain, bucket_start, provider, model, pattern, bin, n)\n    SELECT g.grain, date_trunc(g.unit, m.created_at, 'UTC'), m.selected_provider,\n           m.selected_model, coalesce(m.pattern_detected, ''), (CASE WHEN m.latency_ms < 1 THEN 0 ELSE 1 + floor(ln(CAST(m.latency_ms AS double precision)) / 0.10008345855698263) END),\n           sum(m.sign)\n    FROM src AS m CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\n    WHERE m.latency_ms IS NOT NULL\n    GROUP BY 1, 2, 3, 4, 5, 6\n    HAVING sum(m.sign) <> 0\n    ORDER BY 1, 2, 3, 4, 5, 6\n    ON CONFLICT (grain, bucket_start, provider, model, pattern, bin) DO UPDATE\n    SET n = r.n + excluded.n\n)\nINSERT INTO routing_rollups AS r (\n    grain, bucket_start, provider, model, pattern, band, requests, cost_sum, savings_sum,\n    savings_n, feedback_n, quality_sum, quality_sq_sum, correct_true, correct_n,\n    helpful_true, helpful_n)\nSELECT g.grain, date_trunc(g.unit, d.created_at, 'UTC'), d.provider, d.model, d.pattern,\n       d.band, sum(d.requests), sum(d.cost_sum), sum(d.savings_sum), sum(d.savings_n),\n       sum(d.feedback_n), sum(d.quality_sum), sum(d.quality_sq_sum), sum(d.correct_true),\n       sum(d.correct_n), sum(d.helpful_true), sum(d.helpful_n)\nFROM delta AS d CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3, 4, 5, 6\nHAVING sum(d.requests) <> 0 OR sum(d.cost_sum) <> 0 OR sum(d.savings_sum) <> 0\n    OR sum(d.savings_n) <> 0 OR sum(d.feedback_n) <> 0 OR sum(d.quality_sum) <> 0\n    OR sum(d.quality_sq_sum) <> 0 OR sum(d.correct_true) <> 0 OR sum(d.correct_n) <> 0\n    OR sum(d.helpful_true) <> 0 OR sum(d.helpful_n) <> 0\nORDER BY 1, 2, 3, 4, 5, 6\nON CONFLICT (grain, bucket_start, provider, model, pattern, band) DO UPDATE SET\n    requests = r.requests + excluded.requests,\n    cost_sum = r.cost_sum + excluded.cost_sum,\n    savings_sum = r.savings_sum + excluded.savings_sum,\n    savings_n = r.savings_n + excluded.savings_n,\n    feedback_n = r.feedback_n + excluded.feedback_n,\n    quality_sum = r.quality_sum + excluded.quality_sum,\n    quality_sq_sum = r.quality_sq_sum + excluded.quality_sq_sum,\n    correct_true = r.correct_true + excluded.correct_true,\n    correct_n = r.correct_n + excluded.correct_n,\n    helpful_true = r.helpful_true + excluded.helpful_true,\n    helpful_n = r.helpful_n + excluded.helpful_n;\n    ELSIF TG_OP = 'DELETE' THEN\n\nWITH src AS (SELECT t.*, -1 AS sign FROM old_rows AS t),\ndelta AS (\n    SELECT m.created_at, m.selected_provider AS provider, m.selected_model AS model, coalesce(m.pattern_detected, '') AS pattern, (CASE WHEN m.complexity_score IS NULL THEN '' WHEN m.complexity_score < 0.33 THEN 'low' WHEN m.complexity_score < 0.66 THEN 'medium' ELSE 'high' END) AS band, m.sign AS requests, m.sign * m.actual_cost AS cost_sum,\n           m.sign * coalesce(m.cost_savings, 0) AS savings_sum,\n           CASE WHEN m.cost_savings IS NULL THEN 0 ELSE m.sign END AS savings_n,\n           0 AS feedback_n, 0.0 AS quality_sum, 0.0 AS quality_sq_sum, 0 AS correct_true, 0 AS correct_n, 0 AS helpful_true, 0 AS helpful_n\n    FROM src AS m\n),\nlatency AS (\n    INSERT INTO routing_latency_rollups AS r (grain, bucket_start, provider, model, pattern, bin, n)\n    SELECT g.grain, date_trunc(g.unit, m.created_at, 'UTC'), m.selected_provider,\n           m.selected_model, coalesce(m.pattern_detected, ''), (CASE WHEN m.latency_ms < 1 THEN 0 ELSE 1 + floor(ln(CAST(m.latency_ms AS double precision)) / 0.10008345855698263) END),\n           sum(m.sign)\n    FROM src AS m CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\n    WHERE m.latency_ms IS NOT NULL\n    GROUP BY 1, 2, 3, 4, 5, 6\n    HAVING sum(m.sign) <> 0\n    ORDER BY 1, 2, 3, 4, 5, 6\n    ON CONFLICT (grain, bucket_start, provider, model, pattern, bin) DO UPDATE\n    SET n = r.n + excluded.n\n)\nINSERT INTO routing_rollups AS r (\n    grain, bucket_start, provider, model, pattern, band, requests, cost_sum, savings_sum,\n    savings_n, feedback_n, quality_sum, quality_sq_sum, correct_true, correct_n,\n    helpful_true, helpful_n)\nSELECT g.grain, date_trunc(g.unit, d.created_at, 'UTC'), d.provider, d.model, d.pattern,\n       d.band, sum(d.requests), sum(d.cost_sum), sum(d.savings_sum), sum(d.savings_n),\n       sum(d.feedback_n), sum(d.quality_sum), sum(d.quality_sq_sum), sum(d.correct_true),\n       sum(d.correct_n), sum(d.helpful_true), sum(d.helpful_n)\nFROM delta AS d CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3, 4, 5, 6\nHAVING sum(d.requests) <> 0 OR sum(d.cost_sum) <> 0 OR sum(d.savings_sum) <> 0\n    OR sum(d.savings_n) <> 0 OR sum(d.feedback_n) <> 0 OR sum(d.quality_sum) <> 0\n    OR sum(d.quality_sq_sum) <> 0 OR sum(d.correct_true) <> 0 OR sum(d.correct_n) <> 0\n    OR sum(d.helpful_true) <> 0 OR sum(d.helpful_n) <> 0\nORDER BY 1, 2, 3, 4, 5, 6\nON CONFLICT (grain, bucket_start, provider, model, pattern, band) DO UPDATE SET\n    requests = r.requests + excluded.requests,\n    cost_sum = r.cost_sum + excluded.cost_sum,\n    savings_sum = r.savings_sum + excluded.savings_sum,\n    savings_n = r.savings_n + excluded.savings_n,\n    feedback_n = r.feedback_n + excluded.feedback_n,\n    quality_sum = r.quality_sum + excluded.quality_sum,\n    quality_sq_sum = r.quality_sq_sum + excluded.quality_sq_sum,\n    correct_true = r.correct_true + excluded.correct_true,\n    correct_n = r.correct_n + excluded.correct_n,\n    helpful_true = r.helpful_true + excluded.helpful_true,\n    helpful_n = r.helpful_n + excluded.helpful_n;\n    ELSE\n\nWITH src AS (SELECT t.*, 1 AS sign FROM new_rows AS t UNION ALL SELECT t.*, -1 AS sign FROM old_rows AS t),\ndelta AS (\n    SELECT m.created_at, m.selected_provider AS provider, m.selected_model AS model, coalesce(m.pattern_detected, '') AS pattern, (CASE WHEN m.complexity_score IS NULL THEN '' WHEN m.complexity_score < 0.33 THEN 'low' WHEN m.complexity_score < 0.66 THEN 'medium' ELSE 'high' END) AS band, m.sign AS requests, m.sign * m.actual_cost AS cost_sum,\n           m.sign * coalesce(m.cost_savings, 0) AS savings_sum,\n           CASE WHEN m.cost_savings IS NULL THEN 0 ELSE m.sign END AS savings_n,\n           m.sign * fb.n AS feedback_n, m.sign * fb.q AS quality_sum, m.sign * fb.q2 AS quality_sq_sum, m.sign * fb.ct AS correct_true, m.sign * fb.cn AS correct_n, m.sign * fb.ht AS helpful_true, m.sign * fb.hn AS helpful_n\n    FROM src AS m\nCROSS JOIN LATERAL (\n    SELECT count(*) AS n, coalesce(sum(f.quality_score), 0) AS q,\n           coalesce(sum((CASE WHEN f.quality_score < 1e-150 THEN 0 ELSE f.quality_score * f.quality_score END)), 0) AS q2,\n           count(*) FILTER (WHERE f.is_correct) AS ct, count(f.is_correct) AS cn,\n           count(*) FILTER (WHERE f.is_helpful) AS ht, count(f.is_helpful) AS hn\n    FROM routing_feedback AS f WHERE f.request_id = m.request_id\n) AS fb\n),\nlatency AS (\n    INSERT INTO routing_latency_rollups AS r (grain, bucket_start, provider, model, pattern, bin, n)\n    SELECT g.grain, date_trunc(g.unit, m.created_at, 'UTC'), m.selected_provider,\n           m.selected_model, coalesce(m.pattern_detected, ''), (CASE WHEN m.latency_ms < 1 THEN 0 ELSE 1 + floor(ln(CAST(m.latency_ms AS double precision)) / 0.10008345855698263) END),\n           sum(m.sign)\n    FROM src AS m CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\n    WHERE m.latency_ms IS NOT NULL\n    GROUP BY 1, 2, 3, 4, 5, 6\n    HAVING sum(m.sign) <> 0\n    ORDER BY 1, 2, 3, 4, 5, 6\n    ON CONFLICT (grain, bucket_start, provider, model, pattern, bin) DO UPDATE\n    SET n = r.n + excluded.n\n)\nINSERT INTO routing_rollups AS r (\n    grain, bucket_start, provider, model, pattern, band, requests, cost_sum, savings_sum,\n    savings_n, feedback_n, quality_sum, quality_sq_sum, correct_true, correct_n,\n    helpful_true, helpful_n)\nSELECT g.grain, date_trunc(g.unit, d.created_at, 'UTC'), d.provider, d.model, d.pattern,\n       d.band, sum(d.requests), sum(d.cost_sum), sum(d.savings_sum), sum(d.savings_n),\n       sum(d.feedback_n), sum(d.quality_sum), sum(d.quality_sq_sum), sum(d.correct_true),\n       sum(d.correct_n), sum(d.helpful_true), sum(d.helpful_n)\nFROM delta AS d CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3, 4, 5, 6\nHAVING sum(d.requests) <> 0 OR sum(d.cost_sum) <> 0 OR sum(d.savings_sum) <> 0\n    OR sum(d.savings_n) <> 0 OR sum(d.feedback_n) <> 0 OR sum(d.quality_sum) <> 0\n    OR sum(d.quality_sq_sum) <> 0 OR sum(d.correct_true) <> 0 OR sum(d.correct_n) <> 0\n    OR sum(d.helpful_true) <> 0 OR sum(d.helpful_n) <> 0\nORDER BY 1, 2, 3, 4, 5, 6\nON CONFLICT (grain, bucket_start, provider, model, pattern, band) DO UPDATE SET\n    requests = r.requests + excluded.requests,\n    cost_sum = r.cost_sum + excluded.cost_sum,\n    savings_sum = r.savings_sum + excluded.savings_sum,\n    savings_n = r.savings_n + excluded.savings_n,\n    feedback_n = r.feedback_n + excluded.feedback_n,\n    quality_sum = r.quality_sum + excluded.quality_sum,\n    quality_sq_sum = r.quality_sq_sum + excluded.quality_sq_sum,\n    correct_true = r.correct_true + excluded.correct_true,\n    correct_n = r.correct_n + excluded.correct_n,\n    helpful_true = r.helpful_true + excluded.helpful_true,\n    helpful_n = r.helpful_n + excluded.helpful_n;\n    END IF;\n    RETURN NULL;\nEND;\n$function$",
    )
    op.create_entity(public_routing_metric_rollups_apply)

    public_routing_feedback_rollups_apply = PGFunction(
        schema="public",
        signature="routing_feedback_rollups_apply()",
        definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF TG_OP = 'INSERT' THEN\n\nWITH delta AS (\n    SELECT m.created_at, m.selected_provider AS provider, m.selected_model AS model, coalesce(m.pattern_detected, '') AS pattern, (CASE WHEN m.complexity_score IS NULL THEN '' WHEN m.complexity_score < 0.33 THEN 'low' WHEN m.complexity_score < 0.66 THEN 'medium' ELSE 'high' END) AS band, 0 AS requests, 0 AS cost_sum, 0 AS savings_sum, 0 AS savings_n,\n           f.sign AS feedback_n, f.sign * f.quality_score AS quality_sum,\n           f.sign * (CASE WHEN f.quality_score < 1e-150 THEN 0 ELSE f.quality_score * f.quality_score END) AS quality_sq_sum,\n           CASE WHEN f.is_correct THEN f.sign ELSE 0 END AS correct_true,\n           CASE WHEN f.is_correct IS NULL THEN 0 ELSE f.sign END AS correct_n,\n           CASE WHEN f.is_helpful THEN f.sign ELSE 0 END AS helpful_true,\n           CASE WHEN f.is_helpful IS NULL THEN 0 ELSE f.sign END AS helpful_n\n    FROM (SELECT t.*, 1 AS sign FROM new_rows AS t) AS f JOIN routing_metrics AS m ON m.request_id = f.request_id\n)\nINSERT INTO routing_rollups AS r (\n    grain, bucket_start, provider, model, pattern, band, requests, cost_sum, savings_sum,\n    savings_n, feedback_n, quality_sum, quality_sq_sum, correct_true, correct_n,\n    helpful_true, helpful_n)\nSELECT g.grain, date_trunc(g.unit, d.created_at, 'UTC'), d.provider, d.model, d.pattern,\n       d.band, sum(d.requests), sum(d.cost_sum), sum(d.savings_sum), sum(d.savings_n),\n       sum(d.feedback_n), sum(d.quality_sum), sum(d.quality_sq_sum), sum(d.correct_true),\n       sum(d.correct_n), sum(d.helpful_true), sum(d.helpful_n)\nFROM delta AS d CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3, 4, 5, 6\nHAVING sum(d.requests) <> 0 OR sum(d.cost_sum) <> 0 OR sum(d.savings_sum) <> 0\n    OR sum(d.savings_n) <> 0 OR sum(d.feedback_n) <> 0 OR sum(d.quality_sum) <> 0\n    OR sum(d.quality_sq_sum) <> 0 OR sum(d.correct_true) <> 0 OR sum(d.correct_n) <> 0\n    OR sum(d.helpful_true) <> 0 OR sum(d.helpful_n) <> 0\nORDER BY 1, 2, 3, 4, 5, 6\nON CONFLICT (grain, bucket_start, provider, model, pattern, band) DO UPDATE SET\n    requests = r.requests + excluded.requests,\n    cost_sum = r.cost_sum + excluded.cost_sum,\n    savings_sum = r.savings_sum + excluded.savings_sum,\n    savings_n = r.savings_n + excluded.savings_n,\n    feedback_n = r.feedback_n + excluded.feedback_n,\n    quality_sum = r.quality_sum + excluded.quality_sum,\n    quality_sq_sum = r.quality_sq_sum + excluded.quality_sq_sum,\n    correct_true = r.correct_true + excluded.correct_true,\n    correct_n = r.correct_n + excluded.correct_n,\n    helpful_true = r.helpful_true + excluded.helpful_true,\n    helpful_n = r.helpful_n + excluded.helpful_n;\n    ELSIF TG_OP = 'DELETE' THEN\n\nWITH delta AS (\n    SELECT m.created_at, m.selected_provider AS provider, m.selected_model AS model, coalesce(m.pattern_detected, '') AS pattern, (CASE WHEN m.complexity_score IS NULL THEN '' WHEN m.complexity_score < 0.33 THEN 'low' WHEN m.complexity_score < 0.66 THEN 'medium' ELSE 'high' END) AS band, 0 AS requests, 0 AS cost_sum, 0 AS savings_sum, 0 AS savings_n,\n           f.sign AS feedback_n, f.sign * f.quality_score AS quality_sum,\n           f.sign * (CASE WHEN f.quality_score < 1e-150 THEN 0 ELSE f.quality_score * f.quality_score END) AS quality_sq_sum,\n           CASE WHEN f.is_correct THEN f.sign ELSE 0 END AS correct_true,\n           CASE WHEN f.is_correct IS NULL THEN 0 ELSE f.sign END AS correct_n,\n           CASE WHEN f.is_helpful THEN f.sign ELSE 0 END AS helpful_true,\n           CASE WHEN f.is_helpful IS NULL THEN 0 ELSE f.sign END AS helpful_n\n    FROM (SELECT t.*, -1 AS sign FROM old_rows AS t) AS f JOIN routing_metrics AS m ON m.request_id = f.request_id\n)\nINSERT INTO routing_rollups AS r (\n    grain, bucket_start, provider, model, pattern, band, requests, cost_sum, savings_sum,\n    savings_n, feedback_n, quality_sum, quality_sq_sum, correct_true, correct_n,\n    helpful_true, helpful_n)\nSELECT g.grain, date_trunc(g.unit, d.created_at, 'UTC'), d.provider, d.model, d.pattern,\n       d.band, sum(d.requests), sum(d.cost_sum), sum(d.savings_sum), sum(d.savings_n),\n       sum(d.feedback_n), sum(d.quality_sum), sum(d.quality_sq_sum), sum(d.correct_true),\n       sum(d.correct_n), sum(d.helpful_true), sum(d.helpful_n)\nFROM delta AS d CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3, 4, 5, 6\nHAVING sum(d.requests) <> 0 OR sum(d.cost_sum) <> 0 OR sum(d.savings_sum) <> 0\n    OR sum(d.savings_n) <> 0 OR sum(d.feedback_n) <> 0 OR sum(d.quality_sum) <> 0\n    OR sum(d.quality_sq_sum) <> 0 OR sum(d.correct_true) <> 0 OR sum(d.correct_n) <> 0\n    OR sum(d.helpful_true) <> 0 OR sum(d.helpful_n) <> 0\nORDER BY 1, 2, 3, 4, 5, 6\nON CONFLICT (grain, bucket_start, provider, model, pattern, band) DO UPDATE SET\n    requests = r.requests + excluded.requests,\n    cost_sum = r.cost_sum + excluded.cost_sum,\n    savings_sum = r.savings_sum + excluded.savings_sum,\n    savings_n = r.savings_n + excluded.savings_n,\n    feedback_n = r.feedback_n + excluded.feedback_n,\n    quality_sum = r.quality_sum + excluded.quality_sum,\n    quality_sq_sum = r.quality_sq_sum + excluded.quality_sq_sum,\n    correct_true = r.correct_true + excluded.correct_true,\n    correct_n = r.correct_n + excluded.correct_n,\n    helpful_true = r.helpful_true + excluded.helpful_true,\n    helpful_n = r.helpful_n + excluded.helpful_n;\n    ELSE\n\nWITH delta AS (\n    SELECT m.created_at, m.selected_provider AS provider, m.selected_model AS model, coalesce(m.pattern_detected, '') AS pattern, (CASE WHEN m.complexity_score IS NULL THEN '' WHEN m.complexity_score < 0.33 THEN 'low' WHEN m.complexity_score < 0.66 THEN 'medium' ELSE 'high' END) AS band, 0 AS requests, 0 AS cost_sum, 0 AS savings_sum, 0 AS savings_n,\n           f.sign AS feedback_n, f.sign * f.quality_score AS quality_sum,\n           f.sign * (CASE WHEN f.quality_score < 1e-150 THEN 0 ELSE f.quality_score * f.quality_score END) AS quality_sq_sum,\n           CASE WHEN f.is_correct THEN f.sign ELSE 0 END AS correct_true,\n           CASE WHEN f.is_correct IS NULL THEN 0 ELSE f.sign END AS correct_n,\n           CASE WHEN f.is_helpful THEN f.sign ELSE 0 END AS helpful_true,\n           CASE WHEN f.is_helpful IS NULL THEN 0 ELSE f.sign END AS helpful_n\n    FROM (SELECT t.*, 1 AS sign FROM new_rows AS t UNION ALL SELECT t.*, -1 AS sign FROM old_rows AS t) AS f JOIN routing_metrics AS m ON m.request_id = f.request_id\n)\nINSERT INTO routing_rollups AS r (\n    grain, bucket_start, provider, model, pattern, band, requests, cost_sum, savings_sum,\n    savings_n, feedback_n, quality_sum, quality_sq_sum, correct_true, correct_n,\n    helpful_true, helpful_n)\nSELECT g.grain, date_trunc(g.unit, d.created_at, 'UTC'), d.provider, d.model, d.pattern,\n       d.band, sum(d.requests), sum(d.cost_sum), sum(d.savings_sum), sum(d.savings_n),\n       sum(d.feedback_n), sum(d.quality_sum), sum(d.quality_sq_sum), sum(d.correct_true),\n       sum(d.correct_n), sum(d.helpful_true), sum(d.helpful_n)\nFROM delta AS d CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3, 4, 5, 6\nHAVING sum(d.requests) <> 0 OR sum(d.cost_sum) <> 0 OR sum(d.savings_sum) <> 0\n    OR sum(d.savings_n) <> 0 OR sum(d.feedback_n) <> 0 OR sum(d.quality_sum) <> 0\n    OR sum(d.quality_sq_sum) <> 0 OR sum(d.correct_true) <> 0 OR sum(d.correct_n) <> 0\n    OR sum(d.helpful_true) <> 0 OR sum(d.helpful_n) <> 0\nORDER BY 1, 2, 3, 4, 5, 6\nON CONFLICT (grain, bucket_start, provider, model, pattern, band) DO UPDATE SET\n    requests = r.requests + excluded.requests,\n    cost_sum = r.cost_sum + excluded.cost_sum,\n    savings_sum = r.savings_sum + excluded.savings_sum,\n    savings_n = r.savings_n + excluded.savings_n,\n    feedback_n = r.feedback_n + excluded.feedback_n,\n    quality_sum = r.quality_sum + excluded.quality_sum,\n    quality_sq_sum = r.quality_sq_sum + excluded.quality_sq_sum,\n    correct_true = r.correct_true + excluded.correct_true,\n    correct_n = r.correct_n + excluded.correct_n,\n    helpful_true = r.helpful_true + excluded.helpful_true,\n    helpful_n = r.helpful_n + excluded.helpful_n;\n    END IF;\n    RETURN NULL;\nEND;\n$function$",
    )
    op.create_entity(public_routing_feedback_rollups_apply)

    public_cache_entry_rollups_apply = PGFunction(
        schema="public",
        signature="cache_entry_rollups_apply()",
        definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF TG_OP = 'INSERT' THEN\n\nWITH src AS (SELECT t.*, 1 AS sign FROM new_rows AS t)\nINSERT INTO cache_entry_rollups AS r (grain, bucket_start, n)\nSELECT g.grain, date_trunc(g.unit, e.created_at, 'UTC'), sum(e.sign)\nFROM src AS e CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2 HAVING sum(e.sign) <> 0\nORDER BY 1, 2\nON CONFLICT (grain, bucket_start) DO UPDATE SET n = r.n + excluded.n;\n    ELSIF TG_OP = 'DELETE' THEN\n\nWITH src AS (SELECT t.*, -1 AS sign FROM old_rows AS t)\nINSERT INTO cache_entry_rollups AS r (grain, bucket_start, n)\nSELECT g.grain, date_trunc(g.unit, e.created_at, 'UTC'), sum(e.sign)\nFROM src AS e CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2 HAVING sum(e.sign) <> 0\nORDER BY 1, 2\nON CONFLICT (grain, bucket_start) DO UPDATE SET n = r.n + excluded.n;\n    ELSE\n\nWITH src AS (SELECT t.*, 1 AS sign FROM new_rows AS t UNION ALL SELECT t.*, -1 AS sign FROM old_rows AS t)\nINSERT INTO cache_entry_rollups AS r (grain, bucket_start, n)\nSELECT g.grain, date_trunc(g.unit, e.created_at, 'UTC'), sum(e.sign)\nFROM src AS e CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2 HAVING sum(e.sign) <> 0\nORDER BY 1, 2\nON CONFLICT (grain, bucket_start) DO UPDATE SET n = r.n + excluded.n;\n    END IF;\n    RETURN NULL;\nEND;\n$function$",
    )
    op.create_entity(public_cache_entry_rollups_apply)

    public_cache_hit_rollups_apply = PGFunction(
        schema="public",
        signature="cache_hit_rollups_apply()",
        definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF TG_OP = 'INSERT' THEN\n\nINSERT INTO cache_hit_rollups AS r (day, hits, cost_saved)\nSELECT h.day, sum(h.sign * h.hits), sum(h.sign * h.hits * e.cost_usd)\nFROM (SELECT t.*, 1 AS sign FROM new_rows AS t) AS h JOIN response_cache AS e ON e.cache_key = h.cache_key\nGROUP BY 1 HAVING sum(h.sign * h.hits) <> 0 OR sum(h.sign * h.hits * e.cost_usd) <> 0\nORDER BY 1\nON CONFLICT (day) DO UPDATE\nSET hits = r.hits + excluded.hits, cost_saved = r.cost_saved + excluded.cost_saved;\n    ELSIF TG_OP = 'DELETE' THEN\n\nINSERT INTO cache_hit_rollups AS r (day, hits, cost_saved)\nSELECT h.day, sum(h.sign * h.hits), sum(h.sign * h.hits * e.cost_usd)\nFROM (SELECT t.*, -1 AS sign FROM old_rows AS t) AS h JOIN response_cache AS e ON e.cache_key = h.cache_key\nGROUP BY 1 HAVING sum(h.sign * h.hits) <> 0 OR sum(h.sign * h.hits * e.cost_usd) <> 0\nORDER BY 1\nON CONFLICT (day) DO UPDATE\nSET hits = r.hits + excluded.hits, cost_saved = r.cost_saved + excluded.cost_saved;\n    ELSE\n\nINSERT INTO cache_hit_rollups AS r (day, hits, cost_saved)\nSELECT h.day, sum(h.sign * h.hits), sum(h.sign * h.hits * e.cost_usd)\nFROM (SELECT t.*, 1 AS sign FROM new_rows AS t UNION ALL SELECT t.*, -1 AS sign FROM old_rows AS t) AS h JOIN response_cache AS e ON e.cache_key = h.cache_key\nGROUP BY 1 HAVING sum(h.sign * h.hits) <> 0 OR sum(h.sign * h.hits * e.cost_usd) <> 0\nORDER BY 1\nON CONFLICT (day) DO UPDATE\nSET hits = r.hits + excluded.hits, cost_saved = r.cost_saved + excluded.cost_saved;\n    END IF;\n    RETURN NULL;\nEND;\n$function$",
    )
    op.create_entity(public_cache_hit_rollups_apply)

    public_cache_rating_rollups_apply = PGFunction(
        schema="public",
        signature="cache_rating_rollups_apply()",
        definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF TG_OP = 'INSERT' THEN\n\nINSERT INTO cache_rating_rollups AS r (grain, bucket_start, rating, n)\nSELECT g.grain, date_trunc(g.unit, f.created_at, 'UTC'), f.rating, sum(f.sign)\nFROM (SELECT t.*, 1 AS sign FROM new_rows AS t) AS f CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nWHERE f.superseded_at IS NULL\nGROUP BY 1, 2, 3 HAVING sum(f.sign) <> 0\nORDER BY 1, 2, 3\nON CONFLICT (grain, bucket_start, rating) DO UPDATE SET n = r.n + excluded.n;\n    ELSIF TG_OP = 'DELETE' THEN\n\nINSERT INTO cache_rating_rollups AS r (grain, bucket_start, rating, n)\nSELECT g.grain, date_trunc(g.unit, f.created_at, 'UTC'), f.rating, sum(f.sign)\nFROM (SELECT t.*, -1 AS sign FROM old_rows AS t) AS f CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nWHERE f.superseded_at IS NULL\nGROUP BY 1, 2, 3 HAVING sum(f.sign) <> 0\nORDER BY 1, 2, 3\nON CONFLICT (grain, bucket_start, rating) DO UPDATE SET n = r.n + excluded.n;\n    ELSE\n\nINSERT INTO cache_rating_rollups AS r (grain, bucket_start, rating, n)\nSELECT g.grain, date_trunc(g.unit, f.created_at, 'UTC'), f.rating, sum(f.sign)\nFROM (SELECT t.*, 1 AS sign FROM new_rows AS t UNION ALL SELECT t.*, -1 AS sign FROM old_rows AS t) AS f CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nWHERE f.superseded_at IS NULL\nGROUP BY 1, 2, 3 HAVING sum(f.sign) <> 0\nORDER BY 1, 2, 3\nON CONFLICT (grain, bucket_start, rating) DO UPDATE SET n = r.n + excluded.n;\n    END IF;\n    RETURN NULL;\nEND;\n$function$",
    )
    op.create_entity(public_cache_rating_rollups_apply)

    public_expert_feedback_rollups_apply = PGFunction(
        schema="public",
        signature="expert_feedback_rollups_apply()",
        definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF TG_OP = 'INSERT' THEN\n\nINSERT INTO expert_feedback_rollups AS r (grain, bucket_start, feedback_type, category, n)\nSELECT g.grain, date_trunc(g.unit, f.created_at, 'UTC'), f.feedback_type::text,\n       coalesce(f.category::text, ''), sum(f.sign)\nFROM (SELECT t.*, 1 AS sign FROM new_rows AS t) AS f CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3, 4 HAVING sum(f.sign) <> 0\nORDER BY 1, 2, 3, 4\nON CONFLICT (grain, bucket_start, feedback_type, category) DO UPDATE SET n = r.n + excluded.n;\n    ELSIF TG_OP = 'DELETE' THEN\n\nINSERT INTO expert_feedback_rollups AS r (grain, bucket_start, feedback_type, category, n)\nSELECT g.grain, date_trunc(g.unit, f.created_at, 'UTC'), f.feedback_type::text,\n       coalesce(f.category::text, ''), sum(f.sign)\nFROM (SELECT t.*, -1 AS sign FROM old_rows AS t) AS f CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3, 4 HAVING sum(f.sign) <> 0\nORDER BY 1, 2, 3, 4\nON CONFLICT (grain, bucket_start, feedback_type, category) DO UPDATE SET n = r.n + excluded.n;\n    ELSE\n\nINSERT INTO expert_feedback_rollups AS r (grain, bucket_start, feedback_type, category, n)\nSELECT g.grain, date_trunc(g.unit, f.created_at, 'UTC'), f.feedback_type::text,\n       coalesce(f.category::text, ''), sum(f.sign)\nFROM (SELECT t.*, 1 AS sign FROM new_rows AS t UNION ALL SELECT t.*, -1 AS sign FROM old_rows AS t) AS f CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3, 4 HAVING sum(f.sign) <> 0\nORDER BY 1, 2, 3, 4\nON CONFLICT (grain, bucket_start, feedback_type, category) DO UPDATE SET n = r.n + excluded.n;\n    END IF;\n    RETURN NULL;\nEND;\n$function$",
    )
    op.create_entity(public_expert_feedback_rollups_apply)

    public_expert_candidate_counts_apply = PGFunction(
        schema="public",
        signature="expert_candidate_counts_apply()",
        definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF TG_OP = 'INSERT' THEN\n\nINSERT INTO expert_candidate_status_counts AS r (status, n)\nSELECT c.approval_status::text, sum(c.sign)\nFROM (SELECT t.*, 1 AS sign FROM new_rows AS t) AS c\nGROUP BY 1 HAVING sum(c.sign) <> 0\nORDER BY 1\nON CONFLICT (status) DO UPDATE SET n = r.n + excluded.n;\n    ELSIF TG_OP = 'DELETE' THEN\n\nINSERT INTO expert_candidate_status_counts AS r (status, n)\nSELECT c.approval_status::text, sum(c.sign)\nFROM (SELECT t.*, -1 AS sign FROM old_rows AS t) AS c\nGROUP BY 1 HAVING sum(c.sign) <> 0\nORDER BY 1\nON CONFLICT (status) DO UPDATE SET n = r.n + excluded.n;\n    ELSE\n\nINSERT INTO expert_candidate_status_counts AS r (status, n)\nSELECT c.approval_status::text, sum(c.sign)\nFROM (SELECT t.*, 1 AS sign FROM new_rows AS t UNION ALL SELECT t.*, -1 AS sign FROM old_rows AS t) AS c\nGROUP BY 1 HAVING sum(c.sign) <> 0\nORDER BY 1\nON CONFLICT (status) DO UPDATE SET n = r.n + excluded.n;\n    END IF;\n    RETURN NULL;\nEND;\n$function$",
    )
    op.create_entity(public_expert_candidate_counts_apply)

    public_routing_metric_delete_feedback = PGFunction(
        schema="public",
        signature="routing_metric_delete_feedback()",
        definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF EXISTS (SELECT 1 FROM routing_feedback WHERE request_id = OLD.request_id) THEN\n        DELETE FROM routing_feedback WHERE request_id = OLD.request_id;\n    END IF;\n    RETURN OLD;\nEND;\n$function$",
    )
    op.create_entity(public_routing_metric_delete_feedback)

    public_cache_entry_delete_hit_days = PGFunction(
        schema="public",
        signature="cache_entry_delete_hit_days()",
        definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF EXISTS (SELECT 1 FROM cache_hit_days WHERE cache_key = OLD.cache_key) THEN\n        DELETE FROM cache_hit_days WHERE cache_key = OLD.cache_key;\n    END IF;\n    RETURN OLD;\nEND;\n$function$",
    )
    op.create_entity(public_cache_entry_delete_hit_days)

    public_cache_entry_rollups_update_row = PGFunction(
        schema="public",
        signature="cache_entry_rollups_update_row()",
        definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF OLD.created_at IS DISTINCT FROM NEW.created_at THEN\n        INSERT INTO cache_entry_rollups AS r (grain, bucket_start, n)\n        SELECT g.grain, date_trunc(g.unit, d.t, 'UTC'), sum(d.sign)\n        FROM (VALUES (OLD.created_at, -1), (NEW.created_at, 1)) AS d(t, sign)\n        CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\n        GROUP BY 1, 2 HAVING sum(d.sign) <> 0\n        ORDER BY 1, 2\n        ON CONFLICT (grain, bucket_start) DO UPDATE SET n = r.n + excluded.n;\n    END IF;\n    IF OLD.cost_usd IS DISTINCT FROM NEW.cost_usd THEN\n        -- A changed cost re-prices the entry's past hits (cost saved = hits times cost).\n        INSERT INTO cache_hit_rollups AS r (day, hits, cost_saved)\n        SELECT h.day, 0, h.hits * (NEW.cost_usd - OLD.cost_usd)\n        FROM cache_hit_days AS h WHERE h.cache_key = NEW.cache_key\n        ORDER BY 1\n        ON CONFLICT (day) DO UPDATE SET cost_saved = r.cost_saved + excluded.cost_saved;\n    END IF;\n    RETURN NULL;\nEND;\n$function$",
    )
    op.create_entity(public_cache_entry_rollups_update_row)

    public_votes_trg_votes_rollup_insert = PGTrigger(
        schema="public",
        signature="trg_votes_rollup_insert",
        on_entity="public.votes",
        is_constraint=False,
        definition="AFTER INSERT ON public.votes REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.vote_rollups_apply()",
    )
    op.create_entity(public_votes_trg_votes_rollup_insert)

    public_votes_trg_votes_rollup_delete = PGTrigger(
        schema="public",
        signature="trg_votes_rollup_delete",
        on_entity="public.votes",
        is_constraint=False,
        definition="AFTER DELETE ON public.votes REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.vote_rollups_apply()",
    )
    op.create_entity(public_votes_trg_votes_rollup_delete)

    public_votes_trg_votes_rollup_update = PGTrigger(
        schema="public",
        signature="trg_votes_rollup_update",
        on_entity="public.votes",
        is_constraint=False,
        definition="AFTER UPDATE ON public.votes REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.vote_rollups_apply()",
    )
    op.create_entity(public_votes_trg_votes_rollup_update)

    public_routing_metrics_trg_routing_metrics_rollup_insert = PGTrigger(
        schema="public",
        signature="trg_routing_metrics_rollup_insert",
        on_entity="public.routing_metrics",
        is_constraint=False,
        definition="AFTER INSERT ON public.routing_metrics REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.routing_metric_rollups_apply()",
    )
    op.create_entity(public_routing_metrics_trg_routing_metrics_rollup_insert)

    public_routing_metrics_trg_routing_metrics_rollup_delete = PGTrigger(
        schema="public",
        signature="trg_routing_metrics_rollup_delete",
        on_entity="public.routing_metrics",
        is_constraint=False,
        definition="AFTER DELETE ON public.routing_metrics REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.routing_metric_rollups_apply()",
    )
    op.create_entity(public_routing_metrics_trg_routing_metrics_rollup_delete)

    public_routing_metrics_trg_routing_metrics_rollup_update = PGTrigger(
        schema="public",
        signature="trg_routing_metrics_rollup_update",
        on_entity="public.routing_metrics",
        is_constraint=False,
        definition="AFTER UPDATE ON public.routing_metrics REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.routing_metric_rollups_apply()",
    )
    op.create_entity(public_routing_metrics_trg_routing_metrics_rollup_update)

    public_routing_feedback_trg_routing_feedback_rollup_insert = PGTrigger(
        schema="public",
        signature="trg_routing_feedback_rollup_insert",
        on_entity="public.routing_feedback",
        is_constraint=False,
        definition="AFTER INSERT ON public.routing_feedback REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.routing_feedback_rollups_apply()",
    )
    op.create_entity(public_routing_feedback_trg_routing_feedback_rollup_insert)

    public_routing_feedback_trg_routing_feedback_rollup_delete = PGTrigger(
        schema="public",
        signature="trg_routing_feedback_rollup_delete",
        on_entity="public.routing_feedback",
        is_constraint=False,
        definition="AFTER DELETE ON public.routing_feedback REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.routing_feedback_rollups_apply()",
    )
    op.create_entity(public_routing_feedback_trg_routing_feedback_rollup_delete)

    public_routing_feedback_trg_routing_feedback_rollup_update = PGTrigger(
        schema="public",
        signature="trg_routing_feedback_rollup_update",
        on_entity="public.routing_feedback",
        is_constraint=False,
        definition="AFTER UPDATE ON public.routing_feedback REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.routing_feedback_rollups_apply()",
    )
    op.create_entity(public_routing_feedback_trg_routing_feedback_rollup_update)

    public_response_cache_trg_response_cache_rollup_insert = PGTrigger(
        schema="public",
        signature="trg_response_cache_rollup_insert",
        on_entity="public.response_cache",
        is_constraint=False,
        definition="AFTER INSERT ON public.response_cache REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.cache_entry_rollups_apply()",
    )
    op.create_entity(public_response_cache_trg_response_cache_rollup_insert)

    public_response_cache_trg_response_cache_rollup_delete = PGTrigger(
        schema="public",
        signature="trg_response_cache_rollup_delete",
        on_entity="public.response_cache",
        is_constraint=False,
        definition="AFTER DELETE ON public.response_cache REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.cache_entry_rollups_apply()",
    )
    op.create_entity(public_response_cache_trg_response_cache_rollup_delete)

    public_cache_hit_days_trg_cache_hit_days_rollup_insert = PGTrigger(
        schema="public",
        signature="trg_cache_hit_days_rollup_insert",
        on_entity="public.cache_hit_days",
        is_constraint=False,
        definition="AFTER INSERT ON public.cache_hit_days REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.cache_hit_rollups_apply()",
    )
    op.create_entity(public_cache_hit_days_trg_cache_hit_days_rollup_insert)

    public_cache_hit_days_trg_cache_hit_days_rollup_delete = PGTrigger(
        schema="public",
        signature="trg_cache_hit_days_rollup_delete",
        on_entity="public.cache_hit_days",
        is_constraint=False,
        definition="AFTER DELETE ON public.cache_hit_days REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.cache_hit_rollups_apply()",
    )
    op.create_entity(public_cache_hit_days_trg_cache_hit_days_rollup_delete)

    public_cache_hit_days_trg_cache_hit_days_rollup_update = PGTrigger(
        schema="public",
        signature="trg_cache_hit_days_rollup_update",
        on_entity="public.cache_hit_days",
        is_constraint=False,
        definition="AFTER UPDATE ON public.cache_hit_days REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.cache_hit_rollups_apply()",
    )
    op.create_entity(public_cache_hit_days_trg_cache_hit_days_rollup_update)

    public_cache_feedback_trg_cache_feedback_rollup_insert = PGTrigger(
        schema="public",
        signature="trg_cache_feedback_rollup_insert",
        on_entity="public.cache_feedback",
        is_constraint=False,
        definition="AFTER INSERT ON public.cache_feedback REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.cache_rating_rollups_apply()",
    )
    op.create_entity(public_cache_feedback_trg_cache_feedback_rollup_insert)

    public_cache_feedback_trg_cache_feedback_rollup_delete = PGTrigger(
        schema="public",
        signature="trg_cache_feedback_rollup_delete",
        on_entity="public.cache_feedback",
        is_constraint=False,
        definition="AFTER DELETE ON public.cache_feedback REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.cache_rating_rollups_apply()",
    )
    op.create_entity(public_cache_feedback_trg_cache_feedback_rollup_delete)

    public_cache_feedback_trg_cache_feedback_rollup_update = PGTrigger(
        schema="public",
        signature="trg_cache_feedback_rollup_update",
        on_entity="public.cache_feedback",
        is_constraint=False,
        definition="AFTER UPDATE ON public.cache_feedback REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.cache_rating_rollups_apply()",
    )
    op.create_entity(public_cache_feedback_trg_cache_feedback_rollup_update)

    public_expert_feedback_trg_expert_feedback_rollup_insert = PGTrigger(
        schema="public",
        signature="trg_expert_feedback_rollup_insert",
        on_entity="public.expert_feedback",
        is_constraint=False,
        definition="AFTER INSERT ON public.expert_feedback REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.expert_feedback_rollups_apply()",
    )
    op.create_entity(public_expert_feedback_trg_expert_feedback_rollup_insert)

    public_expert_feedback_trg_expert_feedback_rollup_delete = PGTrigger(
        schema="public",
        signature="trg_expert_feedback_rollup_delete",
        on_entity="public.expert_feedback",
        is_constraint=False,
        definition="AFTER DELETE ON public.expert_feedback REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.expert_feedback_rollups_apply()",
    )
    op.create_entity(public_expert_feedback_trg_expert_feedback_rollup_delete)

    public_expert_feedback_trg_expert_feedback_rollup_update = PGTrigger(
        schema="public",
        signature="trg_expert_feedback_rollup_update",
        on_entity="public.expert_feedback",
        is_constraint=False,
        definition="AFTER UPDATE ON public.expert_feedback REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.expert_feedback_rollups_apply()",
    )
    op.create_entity(public_expert_feedback_trg_expert_feedback_rollup_update)

    public_expert_faq_candidates_trg_expert_faq_candidates_rollup_insert = PGTrigger(
        schema="public",
        signature="trg_expert_faq_candidates_rollup_insert",
        on_entity="public.expert_faq_candidates",
        is_constraint=False,
        definition="AFTER INSERT ON public.expert_faq_candidates REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.expert_candidate_counts_apply()",
    )
    op.create_entity(public_expert_faq_candidates_trg_expert_faq_candidates_rollup_insert)

    public_expert_faq_candidates_trg_expert_faq_candidates_rollup_delete = PGTrigger(
        schema="public",
        signature="trg_expert_faq_candidates_rollup_delete",
        on_entity="public.expert_faq_candidates",
        is_constraint=False,
        definition="AFTER DELETE ON public.expert_faq_candidates REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.expert_candidate_counts_apply()",
    )
    op.create_entity(public_expert_faq_candidates_trg_expert_faq_candidates_rollup_delete)

    public_expert_faq_candidates_trg_expert_faq_candidates_rollup_update = PGTrigger(
        schema="public",
        signature="trg_expert_faq_candidates_rollup_update",
        on_entity="public.expert_faq_candidates",
        is_constraint=False,
        definition="AFTER UPDATE ON public.expert_faq_candidates REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.expert_candidate_counts_apply()",
    )
    op.create_entity(public_expert_faq_candidates_trg_expert_faq_candidates_rollup_update)

    public_votes_trg_votes_rollup_truncate = PGTrigger(
        schema="public",
        signature="trg_votes_rollup_truncate",
        on_entity="public.votes",
        is_constraint=False,
        definition="AFTER TRUNCATE ON public.votes FOR EACH STATEMENT EXECUTE FUNCTION public.analytics_rollups_rebuild()",
    )
    op.create_entity(public_votes_trg_votes_rollup_truncate)

    public_routing_metrics_trg_routing_metrics_rollup_truncate = PGTrigger(
        schema="public",
        signature="trg_routing_metrics_rollup_truncate",
        on_entity="public.routing_metrics",
        is_constraint=False,
        definition="AFTER TRUNCATE ON public.routing_metrics FOR EACH STATEMENT EXECUTE FUNCTION public.analytics_rollups_rebuild()",
    )
    op.create_entity(public_routing_metrics_trg_routing_metrics_rollup_truncate)

    public_routing_feedback_trg_routing_feedback_rollup_truncate = PGTrigger(
        schema="public",
        signature="trg_routing_feedback_rollup_truncate",
        on_entity="public.routing_feedback",
        is_constraint=False,
        definition="AFTER TRUNCATE ON public.routing_feedback FOR EACH STATEMENT EXECUTE FUNCTION public.analytics_rollups_rebuild()",
    )
    op.create_entity(public_routing_feedback_trg_routing_feedback_rollup_truncate)

    public_response_cache_trg_response_cache_rollup_truncate = PGTrigger(
        schema="public",
        signature="trg_response_cache_rollup_truncate",
        on_entity="public.response_cache",
        is_constraint=False,
        definition="AFTER TRUNCATE ON public.response_cache FOR EACH STATEMENT EXECUTE FUNCTION public.analytics_rollups_rebuild()",
    )
    op.create_entity(public_response_cache_trg_response_cache_rollup_truncate)

    public_cache_hit_days_trg_cache_hit_days_rollup_truncate = PGTrigger(
        schema="public",
        signature="trg_cache_hit_days_rollup_truncate",
        on_entity="public.cache_hit_days",
        is_constraint=False,
        definition="AFTER TRUNCATE ON public.cache_hit_days FOR EACH STATEMENT EXECUTE FUNCTION public.analytics_rollups_rebuild()",
    )
    op.create_entity(public_cache_hit_days_trg_cache_hit_days_rollup_truncate)

    public_cache_feedback_trg_cache_feedback_rollup_truncate = PGTrigger(
        schema="public",
        signature="trg_cache_feedback_rollup_truncate",
        on_entity="public.cache_feedback",
        is_constraint=False,
        definition="AFTER TRUNCATE ON public.cache_feedback FOR EACH STATEMENT EXECUTE FUNCTION public.analytics_rollups_rebuild()",
    )
    op.create_entity(public_cache_feedback_trg_cache_feedback_rollup_truncate)

    public_expert_feedback_trg_expert_feedback_rollup_truncate = PGTrigger(
        schema="public",
        signature="trg_expert_feedback_rollup_truncate",
        on_entity="public.expert_feedback",
        is_constraint=False,
        definition="AFTER TRUNCATE ON public.expert_feedback FOR EACH STATEMENT EXECUTE FUNCTION public.analytics_rollups_rebuild()",
    )
    op.create_entity(public_expert_feedback_trg_expert_feedback_rollup_truncate)

    public_expert_faq_candidates_trg_expert_faq_candidates_rollup_truncate = PGTrigger(
        schema="public",
        signature="trg_expert_faq_candidates_rollup_truncate",
        on_entity="public.expert_faq_candidates",
        is_constraint=False,
        definition="AFTER TRUNCATE ON public.expert_faq_candidates FOR EACH STATEMENT EXECUTE FUNCTION public.analytics_rollups_rebuild()",
    )
    op.create_entity(public_expert_faq_candidates_trg_expert_faq_candidates_rollup_truncate)

    public_response_cache_trg_response_cache_rollup_update = PGTrigger(
        schema="public",
        signature="trg_response_cache_rollup_update",
        on_entity="public.response_cache",
        is_constraint=False,
        definition="AFTER UPDATE ON public.response_cache FOR EACH ROW WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.cost_usd IS DISTINCT FROM NEW.cost_usd) EXECUTE FUNCTION public.cache_entry_rollups_update_row()",
    )
    op.create_entity(public_response_cache_trg_response_cache_rollup_update)

    public_routing_metrics_trg_routing_metrics_delete_children_first = PGTrigger(
        schema="public",
        signature="trg_routing_metrics_delete_children_first",
        on_entity="public.routing_metrics",
        is_constraint=False,
        definition="BEFORE DELETE ON public.routing_metrics FOR EACH ROW EXECUTE FUNCTION public.routing_metric_delete_feedback()",
    )
    op.create_entity(public_routing_metrics_trg_routing_metrics_delete_children_first)

    public_response_cache_trg_response_cache_delete_children_first = PGTrigger(
        schema="public",
        signature="trg_response_cache_delete_children_first",
        on_entity="public.response_cache",
        is_constraint=False,
        definition="BEFORE DELETE ON public.response_cache FOR EACH ROW EXECUTE FUNCTION public.cache_entry_delete_hit_days()",
    )
    op.create_entity(public_response_cache_trg_response_cache_delete_children_first)

    # Rollups of the rows already stored (the triggers keep them from here on).
    op.execute(
        "INSERT INTO vote_current (conversation_id, vote_id, vote, reasons, cast_at) SELECT conversation_id, vote_id, vote, reasons, cast_at FROM (\nSELECT DISTINCT ON (conversation_id) conversation_id, id AS vote_id, vote, reasons,\n       created_at AS cast_at\nFROM votes ORDER BY conversation_id, created_at DESC, id DESC) AS s ORDER BY conversation_id"
    )
    op.execute(
        "INSERT INTO vote_rollups (grain, bucket_start, up, down) SELECT grain, bucket_start, up, down FROM (\nSELECT g.grain, date_trunc(g.unit, c.cast_at, 'UTC') AS bucket_start,\n       count(*) FILTER (WHERE c.vote = 'up') AS up, count(*) FILTER (WHERE c.vote = 'down') AS down\nFROM (\nSELECT DISTINCT ON (conversation_id) conversation_id, id AS vote_id, vote, reasons,\n       created_at AS cast_at\nFROM votes ORDER BY conversation_id, created_at DESC, id DESC) AS c CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit) GROUP BY 1, 2) AS s ORDER BY grain, bucket_start"
    )
    op.execute(
        "INSERT INTO vote_reason_rollups (grain, bucket_start, reason, n) SELECT grain, bucket_start, reason, n FROM (\nSELECT g.grain, date_trunc(g.unit, c.cast_at, 'UTC') AS bucket_start, x.reason, count(*) AS n\nFROM (\nSELECT DISTINCT ON (conversation_id) conversation_id, id AS vote_id, vote, reasons,\n       created_at AS cast_at\nFROM votes ORDER BY conversation_id, created_at DESC, id DESC) AS c\nCROSS JOIN LATERAL (SELECT DISTINCT unnest(c.reasons) AS reason) AS x\nCROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit) GROUP BY 1, 2, 3) AS s ORDER BY grain, bucket_start, reason"
    )
    op.execute(
        "INSERT INTO routing_rollups (grain, bucket_start, provider, model, pattern, band, requests, cost_sum, savings_sum, savings_n, feedback_n, quality_sum, quality_sq_sum, correct_true, correct_n, helpful_true, helpful_n) SELECT grain, bucket_start, provider, model, pattern, band, requests, cost_sum, savings_sum, savings_n, feedback_n, quality_sum, quality_sq_sum, correct_true, correct_n, helpful_true, helpful_n FROM (\nSELECT g.grain, date_trunc(g.unit, m.created_at, 'UTC') AS bucket_start,\n       m.selected_provider AS provider, m.selected_model AS model,\n       coalesce(m.pattern_detected, '') AS pattern, (CASE WHEN m.complexity_score IS NULL THEN '' WHEN m.complexity_score < 0.33 THEN 'low' WHEN m.complexity_score < 0.66 THEN 'medium' ELSE 'high' END) AS band,\n       count(*) AS requests, sum(m.actual_cost) AS cost_sum,\n       coalesce(sum(m.cost_savings), 0) AS savings_sum, count(m.cost_savings) AS savings_n,\n       sum(fb.n) AS feedback_n, sum(fb.q) AS quality_sum, sum(fb.q2) AS quality_sq_sum,\n       sum(fb.ct) AS correct_true, sum(fb.cn) AS correct_n, sum(fb.ht) AS helpful_true,\n       sum(fb.hn) AS helpful_n\nFROM routing_metrics AS m\nCROSS JOIN LATERAL (\n    SELECT count(*) AS n, coalesce(sum(f.quality_score), 0) AS q,\n           coalesce(sum((CASE WHEN f.quality_score < 1e-150 THEN 0 ELSE f.quality_score * f.quality_score END)), 0) AS q2,\n           count(*) FILTER (WHERE f.is_correct) AS ct, count(f.is_correct) AS cn,\n           count(*) FILTER (WHERE f.is_helpful) AS ht, count(f.is_helpful) AS hn\n    FROM routing_feedback AS f WHERE f.request_id = m.request_id\n) AS fb CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3, 4, 5, 6) AS s ORDER BY grain, bucket_start, provider, model, pattern, band"
    )
    op.execute(
        "INSERT INTO routing_latency_rollups (grain, bucket_start, provider, model, pattern, bin, n) SELECT grain, bucket_start, provider, model, pattern, bin, n FROM (\nSELECT g.grain, date_trunc(g.unit, m.created_at, 'UTC') AS bucket_start,\n       m.selected_provider AS provider, m.selected_model AS model,\n       coalesce(m.pattern_detected, '') AS pattern, (CASE WHEN m.latency_ms < 1 THEN 0 ELSE 1 + floor(ln(CAST(m.latency_ms AS double precision)) / 0.10008345855698263) END) AS bin,\n       count(*) AS n\nFROM routing_metrics AS m CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nWHERE m.latency_ms IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6) AS s ORDER BY grain, bucket_start, provider, model, pattern, bin"
    )
    op.execute(
        "INSERT INTO cache_entry_rollups (grain, bucket_start, n) SELECT grain, bucket_start, n FROM (\nSELECT g.grain, date_trunc(g.unit, e.created_at, 'UTC') AS bucket_start, count(*) AS n\nFROM response_cache AS e CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit) GROUP BY 1, 2) AS s ORDER BY grain, bucket_start"
    )
    op.execute(
        "INSERT INTO cache_rating_rollups (grain, bucket_start, rating, n) SELECT grain, bucket_start, rating, n FROM (\nSELECT g.grain, date_trunc(g.unit, f.created_at, 'UTC') AS bucket_start, f.rating, count(*) AS n\nFROM cache_feedback AS f CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit) WHERE f.superseded_at IS NULL GROUP BY 1, 2, 3) AS s ORDER BY grain, bucket_start, rating"
    )
    op.execute(
        "INSERT INTO cache_hit_rollups (day, hits, cost_saved) SELECT day, hits, cost_saved FROM (\nSELECT h.day, sum(h.hits) AS hits, sum(h.hits * e.cost_usd) AS cost_saved\nFROM cache_hit_days AS h JOIN response_cache AS e ON e.cache_key = h.cache_key GROUP BY 1) AS s ORDER BY day"
    )
    op.execute(
        "INSERT INTO expert_feedback_rollups (grain, bucket_start, feedback_type, category, n) SELECT grain, bucket_start, feedback_type, category, n FROM (\nSELECT g.grain, date_trunc(g.unit, f.created_at, 'UTC') AS bucket_start,\n       f.feedback_type::text AS feedback_type, coalesce(f.category::text, '') AS category,\n       count(*) AS n\nFROM expert_feedback AS f CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit) GROUP BY 1, 2, 3, 4) AS s ORDER BY grain, bucket_start, feedback_type, category"
    )
    op.execute(
        "INSERT INTO expert_candidate_status_counts (status, n) SELECT status, n FROM (\nSELECT approval_status::text AS status, count(*) AS n FROM expert_faq_candidates GROUP BY 1) AS s ORDER BY status"
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    # First, like in upgrade(): the rest then stays one transaction.
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '5s'")
        op.drop_index(
            "ix_response_cache_flagged_at",
            table_name="response_cache",
            postgresql_concurrently=True,
            if_exists=True,
        )
    op.execute("SET LOCAL lock_timeout = '5s'")
    public_response_cache_trg_response_cache_delete_children_first = PGTrigger(
        schema="public",
        signature="trg_response_cache_delete_children_first",
        on_entity="public.response_cache",
        is_constraint=False,
        definition="BEFORE DELETE ON public.response_cache FOR EACH ROW EXECUTE FUNCTION public.cache_entry_delete_hit_days()",
    )
    op.drop_entity(public_response_cache_trg_response_cache_delete_children_first)

    public_routing_metrics_trg_routing_metrics_delete_children_first = PGTrigger(
        schema="public",
        signature="trg_routing_metrics_delete_children_first",
        on_entity="public.routing_metrics",
        is_constraint=False,
        definition="BEFORE DELETE ON public.routing_metrics FOR EACH ROW EXECUTE FUNCTION public.routing_metric_delete_feedback()",
    )
    op.drop_entity(public_routing_metrics_trg_routing_metrics_delete_children_first)

    public_response_cache_trg_response_cache_rollup_update = PGTrigger(
        schema="public",
        signature="trg_response_cache_rollup_update",
        on_entity="public.response_cache",
        is_constraint=False,
        definition="AFTER UPDATE ON public.response_cache FOR EACH ROW WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.cost_usd IS DISTINCT FROM NEW.cost_usd) EXECUTE FUNCTION public.cache_entry_rollups_update_row()",
    )
    op.drop_entity(public_response_cache_trg_response_cache_rollup_update)

    public_expert_faq_candidates_trg_expert_faq_candidates_rollup_truncate = PGTrigger(
        schema="public",
        signature="trg_expert_faq_candidates_rollup_truncate",
        on_entity="public.expert_faq_candidates",
        is_constraint=False,
        definition="AFTER TRUNCATE ON public.expert_faq_candidates FOR EACH STATEMENT EXECUTE FUNCTION public.analytics_rollups_rebuild()",
    )
    op.drop_entity(public_expert_faq_candidates_trg_expert_faq_candidates_rollup_truncate)

    public_expert_feedback_trg_expert_feedback_rollup_truncate = PGTrigger(
        schema="public",
        signature="trg_expert_feedback_rollup_truncate",
        on_entity="public.expert_feedback",
        is_constraint=False,
        definition="AFTER TRUNCATE ON public.expert_feedback FOR EACH STATEMENT EXECUTE FUNCTION public.analytics_rollups_rebuild()",
    )
    op.drop_entity(public_expert_feedback_trg_expert_feedback_rollup_truncate)

    public_cache_feedback_trg_cache_feedback_rollup_truncate = PGTrigger(
        schema="public",
        signature="trg_cache_feedback_rollup_truncate",
        on_entity="public.cache_feedback",
        is_constraint=False,
        definition="AFTER TRUNCATE ON public.cache_feedback FOR EACH STATEMENT EXECUTE FUNCTION public.analytics_rollups_rebuild()",
    )
    op.drop_entity(public_cache_feedback_trg_cache_feedback_rollup_truncate)

    public_cache_hit_days_trg_cache_hit_days_rollup_truncate = PGTrigger(
        schema="public",
        signature="trg_cache_hit_days_rollup_truncate",
        on_entity="public.cache_hit_days",
        is_constraint=False,
        definition="AFTER TRUNCATE ON public.cache_hit_days FOR EACH STATEMENT EXECUTE FUNCTION public.analytics_rollups_rebuild()",
    )
    op.drop_entity(public_cache_hit_days_trg_cache_hit_days_rollup_truncate)

    public_response_cache_trg_response_cache_rollup_truncate = PGTrigger(
        schema="public",
        signature="trg_response_cache_rollup_truncate",
        on_entity="public.response_cache",
        is_constraint=False,
        definition="AFTER TRUNCATE ON public.response_cache FOR EACH STATEMENT EXECUTE FUNCTION public.analytics_rollups_rebuild()",
    )
    op.drop_entity(public_response_cache_trg_response_cache_rollup_truncate)

    public_routing_feedback_trg_routing_feedback_rollup_truncate = PGTrigger(
        schema="public",
        signature="trg_routing_feedback_rollup_truncate",
        on_entity="public.routing_feedback",
        is_constraint=False,
        definition="AFTER TRUNCATE ON public.routing_feedback FOR EACH STATEMENT EXECUTE FUNCTION public.analytics_rollups_rebuild()",
    )
    op.drop_entity(public_routing_feedback_trg_routing_feedback_rollup_truncate)

    public_routing_metrics_trg_routing_metrics_rollup_truncate = PGTrigger(
        schema="public",
        signature="trg_routing_metrics_rollup_truncate",
        on_entity="public.routing_metrics",
        is_constraint=False,
        definition="AFTER TRUNCATE ON public.routing_metrics FOR EACH STATEMENT EXECUTE FUNCTION public.analytics_rollups_rebuild()",
    )
    op.drop_entity(public_routing_metrics_trg_routing_metrics_rollup_truncate)

    public_votes_trg_votes_rollup_truncate = PGTrigger(
        schema="public",
        signature="trg_votes_rollup_truncate",
        on_entity="public.votes",
        is_constraint=False,
        definition="AFTER TRUNCATE ON public.votes FOR EACH STATEMENT EXECUTE FUNCTION public.analytics_rollups_rebuild()",
    )
    op.drop_entity(public_votes_trg_votes_rollup_truncate)

    public_expert_faq_candidates_trg_expert_faq_candidates_rollup_update = PGTrigger(
        schema="public",
        signature="trg_expert_faq_candidates_rollup_update",
        on_entity="public.expert_faq_candidates",
        is_constraint=False,
        definition="AFTER UPDATE ON public.expert_faq_candidates REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.expert_candidate_counts_apply()",
    )
    op.drop_entity(public_expert_faq_candidates_trg_expert_faq_candidates_rollup_update)

    public_expert_faq_candidates_trg_expert_faq_candidates_rollup_delete = PGTrigger(
        schema="public",
        signature="trg_expert_faq_candidates_rollup_delete",
        on_entity="public.expert_faq_candidates",
        is_constraint=False,
        definition="AFTER DELETE ON public.expert_faq_candidates REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.expert_candidate_counts_apply()",
    )
    op.drop_entity(public_expert_faq_candidates_trg_expert_faq_candidates_rollup_delete)

    public_expert_faq_candidates_trg_expert_faq_candidates_rollup_insert = PGTrigger(
        schema="public",
        signature="trg_expert_faq_candidates_rollup_insert",
        on_entity="public.expert_faq_candidates",
        is_constraint=False,
        definition="AFTER INSERT ON public.expert_faq_candidates REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.expert_candidate_counts_apply()",
    )
    op.drop_entity(public_expert_faq_candidates_trg_expert_faq_candidates_rollup_insert)

    public_expert_feedback_trg_expert_feedback_rollup_update = PGTrigger(
        schema="public",
        signature="trg_expert_feedback_rollup_update",
        on_entity="public.expert_feedback",
        is_constraint=False,
        definition="AFTER UPDATE ON public.expert_feedback REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.expert_feedback_rollups_apply()",
    )
    op.drop_entity(public_expert_feedback_trg_expert_feedback_rollup_update)

    public_expert_feedback_trg_expert_feedback_rollup_delete = PGTrigger(
        schema="public",
        signature="trg_expert_feedback_rollup_delete",
        on_entity="public.expert_feedback",
        is_constraint=False,
        definition="AFTER DELETE ON public.expert_feedback REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.expert_feedback_rollups_apply()",
    )
    op.drop_entity(public_expert_feedback_trg_expert_feedback_rollup_delete)

    public_expert_feedback_trg_expert_feedback_rollup_insert = PGTrigger(
        schema="public",
        signature="trg_expert_feedback_rollup_insert",
        on_entity="public.expert_feedback",
        is_constraint=False,
        definition="AFTER INSERT ON public.expert_feedback REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.expert_feedback_rollups_apply()",
    )
    op.drop_entity(public_expert_feedback_trg_expert_feedback_rollup_insert)

    public_cache_feedback_trg_cache_feedback_rollup_update = PGTrigger(
        schema="public",
        signature="trg_cache_feedback_rollup_update",
        on_entity="public.cache_feedback",
        is_constraint=False,
        definition="AFTER UPDATE ON public.cache_feedback REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.cache_rating_rollups_apply()",
    )
    op.drop_entity(public_cache_feedback_trg_cache_feedback_rollup_update)

    public_cache_feedback_trg_cache_feedback_rollup_delete = PGTrigger(
        schema="public",
        signature="trg_cache_feedback_rollup_delete",
        on_entity="public.cache_feedback",
        is_constraint=False,
        definition="AFTER DELETE ON public.cache_feedback REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.cache_rating_rollups_apply()",
    )
    op.drop_entity(public_cache_feedback_trg_cache_feedback_rollup_delete)

    public_cache_feedback_trg_cache_feedback_rollup_insert = PGTrigger(
        schema="public",
        signature="trg_cache_feedback_rollup_insert",
        on_entity="public.cache_feedback",
        is_constraint=False,
        definition="AFTER INSERT ON public.cache_feedback REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.cache_rating_rollups_apply()",
    )
    op.drop_entity(public_cache_feedback_trg_cache_feedback_rollup_insert)

    public_cache_hit_days_trg_cache_hit_days_rollup_update = PGTrigger(
        schema="public",
        signature="trg_cache_hit_days_rollup_update",
        on_entity="public.cache_hit_days",
        is_constraint=False,
        definition="AFTER UPDATE ON public.cache_hit_days REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.cache_hit_rollups_apply()",
    )
    op.drop_entity(public_cache_hit_days_trg_cache_hit_days_rollup_update)

    public_cache_hit_days_trg_cache_hit_days_rollup_delete = PGTrigger(
        schema="public",
        signature="trg_cache_hit_days_rollup_delete",
        on_entity="public.cache_hit_days",
        is_constraint=False,
        definition="AFTER DELETE ON public.cache_hit_days REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.cache_hit_rollups_apply()",
    )
    op.drop_entity(public_cache_hit_days_trg_cache_hit_days_rollup_delete)

    public_cache_hit_days_trg_cache_hit_days_rollup_insert = PGTrigger(
        schema="public",
        signature="trg_cache_hit_days_rollup_insert",
        on_entity="public.cache_hit_days",
        is_constraint=False,
        definition="AFTER INSERT ON public.cache_hit_days REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.cache_hit_rollups_apply()",
    )
    op.drop_entity(public_cache_hit_days_trg_cache_hit_days_rollup_insert)

    public_response_cache_trg_response_cache_rollup_delete = PGTrigger(
        schema="public",
        signature="trg_response_cache_rollup_delete",
        on_entity="public.response_cache",
        is_constraint=False,
        definition="AFTER DELETE ON public.response_cache REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.cache_entry_rollups_apply()",
    )
    op.drop_entity(public_response_cache_trg_response_cache_rollup_delete)

    public_response_cache_trg_response_cache_rollup_insert = PGTrigger(
        schema="public",
        signature="trg_response_cache_rollup_insert",
        on_entity="public.response_cache",
        is_constraint=False,
        definition="AFTER INSERT ON public.response_cache REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.cache_entry_rollups_apply()",
    )
    op.drop_entity(public_response_cache_trg_response_cache_rollup_insert)

    public_routing_feedback_trg_routing_feedback_rollup_update = PGTrigger(
        schema="public",
        signature="trg_routing_feedback_rollup_update",
        on_entity="public.routing_feedback",
        is_constraint=False,
        definition="AFTER UPDATE ON public.routing_feedback REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.routing_feedback_rollups_apply()",
    )
    op.drop_entity(public_routing_feedback_trg_routing_feedback_rollup_update)

    public_routing_feedback_trg_routing_feedback_rollup_delete = PGTrigger(
        schema="public",
        signature="trg_routing_feedback_rollup_delete",
        on_entity="public.routing_feedback",
        is_constraint=False,
        definition="AFTER DELETE ON public.routing_feedback REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.routing_feedback_rollups_apply()",
    )
    op.drop_entity(public_routing_feedback_trg_routing_feedback_rollup_delete)

    public_routing_feedback_trg_routing_feedback_rollup_insert = PGTrigger(
        schema="public",
        signature="trg_routing_feedback_rollup_insert",
        on_entity="public.routing_feedback",
        is_constraint=False,
        definition="AFTER INSERT ON public.routing_feedback REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.routing_feedback_rollups_apply()",
    )
    op.drop_entity(public_routing_feedback_trg_routing_feedback_rollup_insert)

    public_routing_metrics_trg_routing_metrics_rollup_update = PGTrigger(
        schema="public",
        signature="trg_routing_metrics_rollup_update",
        on_entity="public.routing_metrics",
        is_constraint=False,
        definition="AFTER UPDATE ON public.routing_metrics REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.routing_metric_rollups_apply()",
    )
    op.drop_entity(public_routing_metrics_trg_routing_metrics_rollup_update)

    public_routing_metrics_trg_routing_metrics_rollup_delete = PGTrigger(
        schema="public",
        signature="trg_routing_metrics_rollup_delete",
        on_entity="public.routing_metrics",
        is_constraint=False,
        definition="AFTER DELETE ON public.routing_metrics REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.routing_metric_rollups_apply()",
    )
    op.drop_entity(public_routing_metrics_trg_routing_metrics_rollup_delete)

    public_routing_metrics_trg_routing_metrics_rollup_insert = PGTrigger(
        schema="public",
        signature="trg_routing_metrics_rollup_insert",
        on_entity="public.routing_metrics",
        is_constraint=False,
        definition="AFTER INSERT ON public.routing_metrics REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.routing_metric_rollups_apply()",
    )
    op.drop_entity(public_routing_metrics_trg_routing_metrics_rollup_insert)

    public_votes_trg_votes_rollup_update = PGTrigger(
        schema="public",
        signature="trg_votes_rollup_update",
        on_entity="public.votes",
        is_constraint=False,
        definition="AFTER UPDATE ON public.votes REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.vote_rollups_apply()",
    )
    op.drop_entity(public_votes_trg_votes_rollup_update)

    public_votes_trg_votes_rollup_delete = PGTrigger(
        schema="public",
        signature="trg_votes_rollup_delete",
        on_entity="public.votes",
        is_constraint=False,
        definition="AFTER DELETE ON public.votes REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.vote_rollups_apply()",
    )
    op.drop_entity(public_votes_trg_votes_rollup_delete)

    public_votes_trg_votes_rollup_insert = PGTrigger(
        schema="public",
        signature="trg_votes_rollup_insert",
        on_entity="public.votes",
        is_constraint=False,
        definition="AFTER INSERT ON public.votes REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.vote_rollups_apply()",
    )
    op.drop_entity(public_votes_trg_votes_rollup_insert)

    public_cache_entry_rollups_update_row = PGFunction(
        schema="public",
        signature="cache_entry_rollups_update_row()",
        definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF OLD.created_at IS DISTINCT FROM NEW.created_at THEN\n        INSERT INTO cache_entry_rollups AS r (grain, bucket_start, n)\n        SELECT g.grain, date_trunc(g.unit, d.t, 'UTC'), sum(d.sign)\n        FROM (VALUES (OLD.created_at, -1), (NEW.created_at, 1)) AS d(t, sign)\n        CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\n        GROUP BY 1, 2 HAVING sum(d.sign) <> 0\n        ORDER BY 1, 2\n        ON CONFLICT (grain, bucket_start) DO UPDATE SET n = r.n + excluded.n;\n    END IF;\n    IF OLD.cost_usd IS DISTINCT FROM NEW.cost_usd THEN\n        -- A changed cost re-prices the entry's past hits (cost saved = hits times cost).\n        INSERT INTO cache_hit_rollups AS r (day, hits, cost_saved)\n        SELECT h.day, 0, h.hits * (NEW.cost_usd - OLD.cost_usd)\n        FROM cache_hit_days AS h WHERE h.cache_key = NEW.cache_key\n        ORDER BY 1\n        ON CONFLICT (day) DO UPDATE SET cost_saved = r.cost_saved + excluded.cost_saved;\n    END IF;\n    RETURN NULL;\nEND;\n$function$",
    )
    op.drop_entity(public_cache_entry_rollups_update_row)

    public_cache_entry_delete_hit_days = PGFunction(
        schema="public",
        signature="cache_entry_delete_hit_days()",
        definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF EXISTS (SELECT 1 FROM cache_hit_days WHERE cache_key = OLD.cache_key) THEN\n        DELETE FROM cache_hit_days WHERE cache_key = OLD.cache_key;\n    END IF;\n    RETURN OLD;\nEND;\n$function$",
    )
    op.drop_entity(public_cache_entry_delete_hit_days)

    public_routing_metric_delete_feedback = PGFunction(
        schema="public",
        signature="routing_metric_delete_feedback()",
        definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF EXISTS (SELECT 1 FROM routing_feedback WHERE request_id = OLD.request_id) THEN\n        DELETE FROM routing_feedback WHERE request_id = OLD.request_id;\n    END IF;\n    RETURN OLD;\nEND;\n$function$",
    )
    op.drop_entity(public_routing_metric_delete_feedback)

    public_expert_candidate_counts_apply = PGFunction(
        schema="public",
        signature="expert_candidate_counts_apply()",
        definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF TG_OP = 'INSERT' THEN\n\nINSERT INTO expert_candidate_status_counts AS r (status, n)\nSELECT c.approval_status::text, sum(c.sign)\nFROM (SELECT t.*, 1 AS sign FROM new_rows AS t) AS c\nGROUP BY 1 HAVING sum(c.sign) <> 0\nORDER BY 1\nON CONFLICT (status) DO UPDATE SET n = r.n + excluded.n;\n    ELSIF TG_OP = 'DELETE' THEN\n\nINSERT INTO expert_candidate_status_counts AS r (status, n)\nSELECT c.approval_status::text, sum(c.sign)\nFROM (SELECT t.*, -1 AS sign FROM old_rows AS t) AS c\nGROUP BY 1 HAVING sum(c.sign) <> 0\nORDER BY 1\nON CONFLICT (status) DO UPDATE SET n = r.n + excluded.n;\n    ELSE\n\nINSERT INTO expert_candidate_status_counts AS r (status, n)\nSELECT c.approval_status::text, sum(c.sign)\nFROM (SELECT t.*, 1 AS sign FROM new_rows AS t UNION ALL SELECT t.*, -1 AS sign FROM old_rows AS t) AS c\nGROUP BY 1 HAVING sum(c.sign) <> 0\nORDER BY 1\nON CONFLICT (status) DO UPDATE SET n = r.n + excluded.n;\n    END IF;\n    RETURN NULL;\nEND;\n$function$",
    )
    op.drop_entity(public_expert_candidate_counts_apply)

    public_expert_feedback_rollups_apply = PGFunction(
        schema="public",
        signature="expert_feedback_rollups_apply()",
        definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF TG_OP = 'INSERT' THEN\n\nINSERT INTO expert_feedback_rollups AS r (grain, bucket_start, feedback_type, category, n)\nSELECT g.grain, date_trunc(g.unit, f.created_at, 'UTC'), f.feedback_type::text,\n       coalesce(f.category::text, ''), sum(f.sign)\nFROM (SELECT t.*, 1 AS sign FROM new_rows AS t) AS f CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3, 4 HAVING sum(f.sign) <> 0\nORDER BY 1, 2, 3, 4\nON CONFLICT (grain, bucket_start, feedback_type, category) DO UPDATE SET n = r.n + excluded.n;\n    ELSIF TG_OP = 'DELETE' THEN\n\nINSERT INTO expert_feedback_rollups AS r (grain, bucket_start, feedback_type, category, n)\nSELECT g.grain, date_trunc(g.unit, f.created_at, 'UTC'), f.feedback_type::text,\n       coalesce(f.category::text, ''), sum(f.sign)\nFROM (SELECT t.*, -1 AS sign FROM old_rows AS t) AS f CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3, 4 HAVING sum(f.sign) <> 0\nORDER BY 1, 2, 3, 4\nON CONFLICT (grain, bucket_start, feedback_type, category) DO UPDATE SET n = r.n + excluded.n;\n    ELSE\n\nINSERT INTO expert_feedback_rollups AS r (grain, bucket_start, feedback_type, category, n)\nSELECT g.grain, date_trunc(g.unit, f.created_at, 'UTC'), f.feedback_type::text,\n       coalesce(f.category::text, ''), sum(f.sign)\nFROM (SELECT t.*, 1 AS sign FROM new_rows AS t UNION ALL SELECT t.*, -1 AS sign FROM old_rows AS t) AS f CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3, 4 HAVING sum(f.sign) <> 0\nORDER BY 1, 2, 3, 4\nON CONFLICT (grain, bucket_start, feedback_type, category) DO UPDATE SET n = r.n + excluded.n;\n    END IF;\n    RETURN NULL;\nEND;\n$function$",
    )
    op.drop_entity(public_expert_feedback_rollups_apply)

    public_cache_rating_rollups_apply = PGFunction(
        schema="public",
        signature="cache_rating_rollups_apply()",
        definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF TG_OP = 'INSERT' THEN\n\nINSERT INTO cache_rating_rollups AS r (grain, bucket_start, rating, n)\nSELECT g.grain, date_trunc(g.unit, f.created_at, 'UTC'), f.rating, sum(f.sign)\nFROM (SELECT t.*, 1 AS sign FROM new_rows AS t) AS f CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3 HAVING sum(f.sign) <> 0\nORDER BY 1, 2, 3\nON CONFLICT (grain, bucket_start, rating) DO UPDATE SET n = r.n + excluded.n;\n    ELSIF TG_OP = 'DELETE' THEN\n\nINSERT INTO cache_rating_rollups AS r (grain, bucket_start, rating, n)\nSELECT g.grain, date_trunc(g.unit, f.created_at, 'UTC'), f.rating, sum(f.sign)\nFROM (SELECT t.*, -1 AS sign FROM old_rows AS t) AS f CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3 HAVING sum(f.sign) <> 0\nORDER BY 1, 2, 3\nON CONFLICT (grain, bucket_start, rating) DO UPDATE SET n = r.n + excluded.n;\n    ELSE\n\nINSERT INTO cache_rating_rollups AS r (grain, bucket_start, rating, n)\nSELECT g.grain, date_trunc(g.unit, f.created_at, 'UTC'), f.rating, sum(f.sign)\nFROM (SELECT t.*, 1 AS sign FROM new_rows AS t UNION ALL SELECT t.*, -1 AS sign FROM old_rows AS t) AS f CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3 HAVING sum(f.sign) <> 0\nORDER BY 1, 2, 3\nON CONFLICT (grain, bucket_start, rating) DO UPDATE SET n = r.n + excluded.n;\n    END IF;\n    RETURN NULL;\nEND;\n$function$",
    )
    op.drop_entity(public_cache_rating_rollups_apply)

    public_cache_hit_rollups_apply = PGFunction(
        schema="public",
        signature="cache_hit_rollups_apply()",
        definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF TG_OP = 'INSERT' THEN\n\nINSERT INTO cache_hit_rollups AS r (day, hits, cost_saved)\nSELECT h.day, sum(h.sign * h.hits), sum(h.sign * h.hits * e.cost_usd)\nFROM (SELECT t.*, 1 AS sign FROM new_rows AS t) AS h JOIN response_cache AS e ON e.cache_key = h.cache_key\nGROUP BY 1 HAVING sum(h.sign * h.hits) <> 0 OR sum(h.sign * h.hits * e.cost_usd) <> 0\nORDER BY 1\nON CONFLICT (day) DO UPDATE\nSET hits = r.hits + excluded.hits, cost_saved = r.cost_saved + excluded.cost_saved;\n    ELSIF TG_OP = 'DELETE' THEN\n\nINSERT INTO cache_hit_rollups AS r (day, hits, cost_saved)\nSELECT h.day, sum(h.sign * h.hits), sum(h.sign * h.hits * e.cost_usd)\nFROM (SELECT t.*, -1 AS sign FROM old_rows AS t) AS h JOIN response_cache AS e ON e.cache_key = h.cache_key\nGROUP BY 1 HAVING sum(h.sign * h.hits) <> 0 OR sum(h.sign * h.hits * e.cost_usd) <> 0\nORDER BY 1\nON CONFLICT (day) DO UPDATE\nSET hits = r.hits + excluded.hits, cost_saved = r.cost_saved + excluded.cost_saved;\n    ELSE\n\nINSERT INTO cache_hit_rollups AS r (day, hits, cost_saved)\nSELECT h.day, sum(h.sign * h.hits), sum(h.sign * h.hits * e.cost_usd)\nFROM (SELECT t.*, 1 AS sign FROM new_rows AS t UNION ALL SELECT t.*, -1 AS sign FROM old_rows AS t) AS h JOIN response_cache AS e ON e.cache_key = h.cache_key\nGROUP BY 1 HAVING sum(h.sign * h.hits) <> 0 OR sum(h.sign * h.hits * e.cost_usd) <> 0\nORDER BY 1\nON CONFLICT (day) DO UPDATE\nSET hits = r.hits + excluded.hits, cost_saved = r.cost_saved + excluded.cost_saved;\n    END IF;\n    RETURN NULL;\nEND;\n$function$",
    )
    op.drop_entity(public_cache_hit_rollups_apply)

    public_cache_entry_rollups_apply = PGFunction(
        schema="public",
        signature="cache_entry_rollups_apply()",
        definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF TG_OP = 'INSERT' THEN\n\nWITH src AS (SELECT t.*, 1 AS sign FROM new_rows AS t)\nINSERT INTO cache_entry_rollups AS r (grain, bucket_start, n)\nSELECT g.grain, date_trunc(g.unit, e.created_at, 'UTC'), sum(e.sign)\nFROM src AS e CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2 HAVING sum(e.sign) <> 0\nORDER BY 1, 2\nON CONFLICT (grain, bucket_start) DO UPDATE SET n = r.n + excluded.n;\n    ELSIF TG_OP = 'DELETE' THEN\n\nWITH src AS (SELECT t.*, -1 AS sign FROM old_rows AS t)\nINSERT INTO cache_entry_rollups AS r (grain, bucket_start, n)\nSELECT g.grain, date_trunc(g.unit, e.created_at, 'UTC'), sum(e.sign)\nFROM src AS e CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2 HAVING sum(e.sign) <> 0\nORDER BY 1, 2\nON CONFLICT (grain, bucket_start) DO UPDATE SET n = r.n + excluded.n;\n    ELSE\n\nWITH src AS (SELECT t.*, 1 AS sign FROM new_rows AS t UNION ALL SELECT t.*, -1 AS sign FROM old_rows AS t)\nINSERT INTO cache_entry_rollups AS r (grain, bucket_start, n)\nSELECT g.grain, date_trunc(g.unit, e.created_at, 'UTC'), sum(e.sign)\nFROM src AS e CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2 HAVING sum(e.sign) <> 0\nORDER BY 1, 2\nON CONFLICT (grain, bucket_start) DO UPDATE SET n = r.n + excluded.n;\n    END IF;\n    RETURN NULL;\nEND;\n$function$",
    )
    op.drop_entity(public_cache_entry_rollups_apply)

    public_routing_feedback_rollups_apply = PGFunction(
        schema="public",
        signature="routing_feedback_rollups_apply()",
        definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF TG_OP = 'INSERT' THEN\n\nWITH delta AS (\n    SELECT m.created_at, m.selected_provider AS provider, m.selected_model AS model, coalesce(m.pattern_detected, '') AS pattern, (CASE WHEN m.complexity_score IS NULL THEN '' WHEN m.complexity_score < 0.33 THEN 'low' WHEN m.complexity_score < 0.66 THEN 'medium' ELSE 'high' END) AS band, 0 AS requests, 0 AS cost_sum, 0 AS savings_sum, 0 AS savings_n,\n           f.sign AS feedback_n, f.sign * f.quality_score AS quality_sum,\n           f.sign * (CASE WHEN f.quality_score < 1e-150 THEN 0 ELSE f.quality_score * f.quality_score END) AS quality_sq_sum,\n           CASE WHEN f.is_correct THEN f.sign ELSE 0 END AS correct_true,\n           CASE WHEN f.is_correct IS NULL THEN 0 ELSE f.sign END AS correct_n,\n           CASE WHEN f.is_helpful THEN f.sign ELSE 0 END AS helpful_true,\n           CASE WHEN f.is_helpful IS NULL THEN 0 ELSE f.sign END AS helpful_n\n    FROM (SELECT t.*, 1 AS sign FROM new_rows AS t) AS f JOIN routing_metrics AS m ON m.request_id = f.request_id\n)\nINSERT INTO routing_rollups AS r (\n    grain, bucket_start, provider, model, pattern, band, requests, cost_sum, savings_sum,\n    savings_n, feedback_n, quality_sum, quality_sq_sum, correct_true, correct_n,\n    helpful_true, helpful_n)\nSELECT g.grain, date_trunc(g.unit, d.created_at, 'UTC'), d.provider, d.model, d.pattern,\n       d.band, sum(d.requests), sum(d.cost_sum), sum(d.savings_sum), sum(d.savings_n),\n       sum(d.feedback_n), sum(d.quality_sum), sum(d.quality_sq_sum), sum(d.correct_true),\n       sum(d.correct_n), sum(d.helpful_true), sum(d.helpful_n)\nFROM delta AS d CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3, 4, 5, 6\nHAVING sum(d.requests) <> 0 OR sum(d.cost_sum) <> 0 OR sum(d.savings_sum) <> 0\n    OR sum(d.savings_n) <> 0 OR sum(d.feedback_n) <> 0 OR sum(d.quality_sum) <> 0\n    OR sum(d.quality_sq_sum) <> 0 OR sum(d.correct_true) <> 0 OR sum(d.correct_n) <> 0\n    OR sum(d.helpful_true) <> 0 OR sum(d.helpful_n) <> 0\nORDER BY 1, 2, 3, 4, 5, 6\nON CONFLICT (grain, bucket_start, provider, model, pattern, band) DO UPDATE SET\n    requests = r.requests + excluded.requests,\n    cost_sum = r.cost_sum + excluded.cost_sum,\n    savings_sum = r.savings_sum + excluded.savings_sum,\n    savings_n = r.savings_n + excluded.savings_n,\n    feedback_n = r.feedback_n + excluded.feedback_n,\n    quality_sum = r.quality_sum + excluded.quality_sum,\n    quality_sq_sum = r.quality_sq_sum + excluded.quality_sq_sum,\n    correct_true = r.correct_true + excluded.correct_true,\n    correct_n = r.correct_n + excluded.correct_n,\n    helpful_true = r.helpful_true + excluded.helpful_true,\n    helpful_n = r.helpful_n + excluded.helpful_n;\n    ELSIF TG_OP = 'DELETE' THEN\n\nWITH delta AS (\n    SELECT m.created_at, m.selected_provider AS provider, m.selected_model AS model, coalesce(m.pattern_detected, '') AS pattern, (CASE WHEN m.complexity_score IS NULL THEN '' WHEN m.complexity_score < 0.33 THEN 'low' WHEN m.complexity_score < 0.66 THEN 'medium' ELSE 'high' END) AS band, 0 AS requests, 0 AS cost_sum, 0 AS savings_sum, 0 AS savings_n,\n           f.sign AS feedback_n, f.sign * f.quality_score AS quality_sum,\n           f.sign * (CASE WHEN f.quality_score < 1e-150 THEN 0 ELSE f.quality_score * f.quality_score END) AS quality_sq_sum,\n           CASE WHEN f.is_correct THEN f.sign ELSE 0 END AS correct_true,\n           CASE WHEN f.is_correct IS NULL THEN 0 ELSE f.sign END AS correct_n,\n           CASE WHEN f.is_helpful THEN f.sign ELSE 0 END AS helpful_true,\n           CASE WHEN f.is_helpful IS NULL THEN 0 ELSE f.sign END AS helpful_n\n    FROM (SELECT t.*, -1 AS sign FROM old_rows AS t) AS f JOIN routing_metrics AS m ON m.request_id = f.request_id\n)\nINSERT INTO routing_rollups AS r (\n    grain, bucket_start, provider, model, pattern, band, requests, cost_sum, savings_sum,\n    savings_n, feedback_n, quality_sum, quality_sq_sum, correct_true, correct_n,\n    helpful_true, helpful_n)\nSELECT g.grain, date_trunc(g.unit, d.created_at, 'UTC'), d.provider, d.model, d.pattern,\n       d.band, sum(d.requests), sum(d.cost_sum), sum(d.savings_sum), sum(d.savings_n),\n       sum(d.feedback_n), sum(d.quality_sum), sum(d.quality_sq_sum), sum(d.correct_true),\n       sum(d.correct_n), sum(d.helpful_true), sum(d.helpful_n)\nFROM delta AS d CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3, 4, 5, 6\nHAVING sum(d.requests) <> 0 OR sum(d.cost_sum) <> 0 OR sum(d.savings_sum) <> 0\n    OR sum(d.savings_n) <> 0 OR sum(d.feedback_n) <> 0 OR sum(d.quality_sum) <> 0\n    OR sum(d.quality_sq_sum) <> 0 OR sum(d.correct_true) <> 0 OR sum(d.correct_n) <> 0\n    OR sum(d.helpful_true) <> 0 OR sum(d.helpful_n) <> 0\nORDER BY 1, 2, 3, 4, 5, 6\nON CONFLICT (grain, bucket_start, provider, model, pattern, band) DO UPDATE SET\n    requests = r.requests + excluded.requests,\n    cost_sum = r.cost_sum + excluded.cost_sum,\n    savings_sum = r.savings_sum + excluded.savings_sum,\n    savings_n = r.savings_n + excluded.savings_n,\n    feedback_n = r.feedback_n + excluded.feedback_n,\n    quality_sum = r.quality_sum + excluded.quality_sum,\n    quality_sq_sum = r.quality_sq_sum + excluded.quality_sq_sum,\n    correct_true = r.correct_true + excluded.correct_true,\n    correct_n = r.correct_n + excluded.correct_n,\n    helpful_true = r.helpful_true + excluded.helpful_true,\n    helpful_n = r.helpful_n + excluded.helpful_n;\n    ELSE\n\nWITH delta AS (\n    SELECT m.created_at, m.selected_provider AS provider, m.selected_model AS model, coalesce(m.pattern_detected, '') AS pattern, (CASE WHEN m.complexity_score IS NULL THEN '' WHEN m.complexity_score < 0.33 THEN 'low' WHEN m.complexity_score < 0.66 THEN 'medium' ELSE 'high' END) AS band, 0 AS requests, 0 AS cost_sum, 0 AS savings_sum, 0 AS savings_n,\n           f.sign AS feedback_n, f.sign * f.quality_score AS quality_sum,\n           f.sign * (CASE WHEN f.quality_score < 1e-150 THEN 0 ELSE f.quality_score * f.quality_score END) AS quality_sq_sum,\n           CASE WHEN f.is_correct THEN f.sign ELSE 0 END AS correct_true,\n           CASE WHEN f.is_correct IS NULL THEN 0 ELSE f.sign END AS correct_n,\n           CASE WHEN f.is_helpful THEN f.sign ELSE 0 END AS helpful_true,\n           CASE WHEN f.is_helpful IS NULL THEN 0 ELSE f.sign END AS helpful_n\n    FROM (SELECT t.*, 1 AS sign FROM new_rows AS t UNION ALL SELECT t.*, -1 AS sign FROM old_rows AS t) AS f JOIN routing_metrics AS m ON m.request_id = f.request_id\n)\nINSERT INTO routing_rollups AS r (\n    grain, bucket_start, provider, model, pattern, band, requests, cost_sum, savings_sum,\n    savings_n, feedback_n, quality_sum, quality_sq_sum, correct_true, correct_n,\n    helpful_true, helpful_n)\nSELECT g.grain, date_trunc(g.unit, d.created_at, 'UTC'), d.provider, d.model, d.pattern,\n       d.band, sum(d.requests), sum(d.cost_sum), sum(d.savings_sum), sum(d.savings_n),\n       sum(d.feedback_n), sum(d.quality_sum), sum(d.quality_sq_sum), sum(d.correct_true),\n       sum(d.correct_n), sum(d.helpful_true), sum(d.helpful_n)\nFROM delta AS d CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3, 4, 5, 6\nHAVING sum(d.requests) <> 0 OR sum(d.cost_sum) <> 0 OR sum(d.savings_sum) <> 0\n    OR sum(d.savings_n) <> 0 OR sum(d.feedback_n) <> 0 OR sum(d.quality_sum) <> 0\n    OR sum(d.quality_sq_sum) <> 0 OR sum(d.correct_true) <> 0 OR sum(d.correct_n) <> 0\n    OR sum(d.helpful_true) <> 0 OR sum(d.helpful_n) <> 0\nORDER BY 1, 2, 3, 4, 5, 6\nON CONFLICT (grain, bucket_start, provider, model, pattern, band) DO UPDATE SET\n    requests = r.requests + excluded.requests,\n    cost_sum = r.cost_sum + excluded.cost_sum,\n    savings_sum = r.savings_sum + excluded.savings_sum,\n    savings_n = r.savings_n + excluded.savings_n,\n    feedback_n = r.feedback_n + excluded.feedback_n,\n    quality_sum = r.quality_sum + excluded.quality_sum,\n    quality_sq_sum = r.quality_sq_sum + excluded.quality_sq_sum,\n    correct_true = r.correct_true + excluded.correct_true,\n    correct_n = r.correct_n + excluded.correct_n,\n    helpful_true = r.helpful_true + excluded.helpful_true,\n    helpful_n = r.helpful_n + excluded.helpful_n;\n    END IF;\n    RETURN NULL;\nEND;\n$function$",
    )
    op.drop_entity(public_routing_feedback_rollups_apply)

    public_routing_metric_rollups_apply = PGFunction(
        schema="public",
        signature="routing_metric_rollups_apply()",
        definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF TG_OP = 'INSERT' THEN\n\nWITH src AS (SELECT t.*, 1 AS sign FROM new_rows AS t),\ndelta AS (\n    SELECT m.created_at, m.selected_provider AS provider, m.selected_model AS model, coalesce(m.pattern_detected, '') AS pattern, (CASE WHEN m.complexity_score IS NULL THEN '' WHEN m.complexity_score < 0.33 THEN 'low' WHEN m.complexity_score < 0.66 THEN 'medium' ELSE 'high' END) AS band, m.sign AS requests, m.sign * m.actual_cost AS cost_sum,\n           m.sign * coalesce(m.cost_savings, 0) AS savings_sum,\n           CASE WHEN m.cost_savings IS NULL THEN 0 ELSE m.sign END AS savings_n,\n           0 AS feedback_n, 0.0 AS quality_sum, 0.0 AS quality_sq_sum, 0 AS correct_true, 0 AS correct_n, 0 AS helpful_true, 0 AS helpful_n\n    FROM src AS m\n),\nlatency AS (\n    INSERT INTO routing_latency_rollups AS r (grain, bucket_start, provider, model, pattern, bin, n)\n    SELECT g.grain, date_trunc(g.unit, m.created_at, 'UTC'), m.selected_provider,\n           m.selected_model, coalesce(m.pattern_detected, ''), (CASE WHEN m.latency_ms < 1 THEN 0 ELSE 1 + floor(ln(CAST(m.latency_ms AS double precision)) / 0.10008345855698263) END),\n           sum(m.sign)\n    FROM src AS m CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\n    WHERE m.latency_ms IS NOT NULL\n    GROUP BY 1, 2, 3, 4, 5, 6\n    HAVING sum(m.sign) <> 0\n    ORDER BY 1, 2, 3, 4, 5, 6\n    ON CONFLICT (grain, bucket_start, provider, model, pattern, bin) DO UPDATE\n    SET n = r.n + excluded.n\n)\nINSERT INTO routing_rollups AS r (\n    grain, bucket_start, provider, model, pattern, band, requests, cost_sum, savings_sum,\n    savings_n, feedback_n, quality_sum, quality_sq_sum, correct_true, correct_n,\n    helpful_true, helpful_n)\nSELECT g.grain, date_trunc(g.unit, d.created_at, 'UTC'), d.provider, d.model, d.pattern,\n       d.band, sum(d.requests), sum(d.cost_sum), sum(d.savings_sum), sum(d.savings_n),\n       sum(d.feedback_n), sum(d.quality_sum), sum(d.quality_sq_sum), sum(d.correct_true),\n       sum(d.correct_n), sum(d.helpful_true), sum(d.helpful_n)\nFROM delta AS d CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3, 4, 5, 6\nHAVING sum(d.requests) <> 0 OR sum(d.cost_sum) <> 0 OR sum(d.savings_sum) <> 0\n    OR sum(d.savings_n) <> 0 OR sum(d.feedback_n) <> 0 OR sum(d.quality_sum) <> 0\n    OR sum(d.quality_sq_sum) <> 0 OR sum(d.correct_true) <> 0 OR sum(d.correct_n) <> 0\n    OR sum(d.helpful_true) <> 0 OR sum(d.helpful_n) <> 0\nORDER BY 1, 2, 3, 4, 5, 6\nON CONFLICT (grain, bucket_start, provider, model, pattern, band) DO UPDATE SET\n    requests = r.requests + excluded.requests,\n    cost_sum = r.cost_sum + excluded.cost_sum,\n    savings_sum = r.savings_sum + excluded.savings_sum,\n    savings_n = r.savings_n + excluded.savings_n,\n    feedback_n = r.feedback_n + excluded.feedback_n,\n    quality_sum = r.quality_sum + excluded.quality_sum,\n    quality_sq_sum = r.quality_sq_sum + excluded.quality_sq_sum,\n    correct_true = r.correct_true + excluded.correct_true,\n    correct_n = r.correct_n + excluded.correct_n,\n    helpful_true = r.helpful_true + excluded.helpful_true,\n    helpful_n = r.helpful_n + excluded.helpful_n;\n    ELSIF TG_OP = 'DELETE' THEN\n\nWITH src AS (SELECT t.*, -1 AS sign FROM old_rows AS t),\ndelta AS (\n    SELECT m.created_at, m.selected_provider AS provider, m.selected_model AS model, coalesce(m.pattern_detected, '') AS pattern, (CASE WHEN m.complexity_score IS NULL THEN '' WHEN m.complexity_score < 0.33 THEN 'low' WHEN m.complexity_score < 0.66 THEN 'medium' ELSE 'high' END) AS band, m.sign AS requests, m.sign * m.actual_cost AS cost_sum,\n           m.sign * coalesce(m.cost_savings, 0) AS savings_sum,\n           CASE WHEN m.cost_savings IS NULL THEN 0 ELSE m.sign END AS savings_n,\n           0 AS feedback_n, 0.0 AS quality_sum, 0.0 AS quality_sq_sum, 0 AS correct_true, 0 AS correct_n, 0 AS helpful_true, 0 AS helpful_n\n    FROM src AS m\n),\nlatency AS (\n    INSERT INTO routing_latency_rollups AS r (grain, bucket_start, provider, model, pattern, bin, n)\n    SELECT g.grain, date_trunc(g.unit, m.created_at, 'UTC'), m.selected_provider,\n           m.selected_model, coalesce(m.pattern_detected, ''), (CASE WHEN m.latency_ms < 1 THEN 0 ELSE 1 + floor(ln(CAST(m.latency_ms AS double precision)) / 0.10008345855698263) END),\n           sum(m.sign)\n    FROM src AS m CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\n    WHERE m.latency_ms IS NOT NULL\n    GROUP BY 1, 2, 3, 4, 5, 6\n    HAVING sum(m.sign) <> 0\n    ORDER BY 1, 2, 3, 4, 5, 6\n    ON CONFLICT (grain, bucket_start, provider, model, pattern, bin) DO UPDATE\n    SET n = r.n + excluded.n\n)\nINSERT INTO routing_rollups AS r (\n    grain, bucket_start, provider, model, pattern, band, requests, cost_sum, savings_sum,\n    savings_n, feedback_n, quality_sum, quality_sq_sum, correct_true, correct_n,\n    helpful_true, helpful_n)\nSELECT g.grain, date_trunc(g.unit, d.created_at, 'UTC'), d.provider, d.model, d.pattern,\n       d.band, sum(d.requests), sum(d.cost_sum), sum(d.savings_sum), sum(d.savings_n),\n       sum(d.feedback_n), sum(d.quality_sum), sum(d.quality_sq_sum), sum(d.correct_true),\n       sum(d.correct_n), sum(d.helpful_true), sum(d.helpful_n)\nFROM delta AS d CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3, 4, 5, 6\nHAVING sum(d.requests) <> 0 OR sum(d.cost_sum) <> 0 OR sum(d.savings_sum) <> 0\n    OR sum(d.savings_n) <> 0 OR sum(d.feedback_n) <> 0 OR sum(d.quality_sum) <> 0\n    OR sum(d.quality_sq_sum) <> 0 OR sum(d.correct_true) <> 0 OR sum(d.correct_n) <> 0\n    OR sum(d.helpful_true) <> 0 OR sum(d.helpful_n) <> 0\nORDER BY 1, 2, 3, 4, 5, 6\nON CONFLICT (grain, bucket_start, provider, model, pattern, band) DO UPDATE SET\n    requests = r.requests + excluded.requests,\n    cost_sum = r.cost_sum + excluded.cost_sum,\n    savings_sum = r.savings_sum + excluded.savings_sum,\n    savings_n = r.savings_n + excluded.savings_n,\n    feedback_n = r.feedback_n + excluded.feedback_n,\n    quality_sum = r.quality_sum + excluded.quality_sum,\n    quality_sq_sum = r.quality_sq_sum + excluded.quality_sq_sum,\n    correct_true = r.correct_true + excluded.correct_true,\n    correct_n = r.correct_n + excluded.correct_n,\n    helpful_true = r.helpful_true + excluded.helpful_true,\n    helpful_n = r.helpful_n + excluded.helpful_n;\n    ELSE\n\nWITH src AS (SELECT t.*, 1 AS sign FROM new_rows AS t UNION ALL SELECT t.*, -1 AS sign FROM old_rows AS t),\ndelta AS (\n    SELECT m.created_at, m.selected_provider AS provider, m.selected_model AS model, coalesce(m.pattern_detected, '') AS pattern, (CASE WHEN m.complexity_score IS NULL THEN '' WHEN m.complexity_score < 0.33 THEN 'low' WHEN m.complexity_score < 0.66 THEN 'medium' ELSE 'high' END) AS band, m.sign AS requests, m.sign * m.actual_cost AS cost_sum,\n           m.sign * coalesce(m.cost_savings, 0) AS savings_sum,\n           CASE WHEN m.cost_savings IS NULL THEN 0 ELSE m.sign END AS savings_n,\n           m.sign * fb.n AS feedback_n, m.sign * fb.q AS quality_sum, m.sign * fb.q2 AS quality_sq_sum, m.sign * fb.ct AS correct_true, m.sign * fb.cn AS correct_n, m.sign * fb.ht AS helpful_true, m.sign * fb.hn AS helpful_n\n    FROM src AS m\nCROSS JOIN LATERAL (\n    SELECT count(*) AS n, coalesce(sum(f.quality_score), 0) AS q,\n           coalesce(sum((CASE WHEN f.quality_score < 1e-150 THEN 0 ELSE f.quality_score * f.quality_score END)), 0) AS q2,\n           count(*) FILTER (WHERE f.is_correct) AS ct, count(f.is_correct) AS cn,\n           count(*) FILTER (WHERE f.is_helpful) AS ht, count(f.is_helpful) AS hn\n    FROM routing_feedback AS f WHERE f.request_id = m.request_id\n) AS fb\n),\nlatency AS (\n    INSERT INTO routing_latency_rollups AS r (grain, bucket_start, provider, model, pattern, bin, n)\n    SELECT g.grain, date_trunc(g.unit, m.created_at, 'UTC'), m.selected_provider,\n           m.selected_model, coalesce(m.pattern_detected, ''), (CASE WHEN m.latency_ms < 1 THEN 0 ELSE 1 + floor(ln(CAST(m.latency_ms AS double precision)) / 0.10008345855698263) END),\n           sum(m.sign)\n    FROM src AS m CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\n    WHERE m.latency_ms IS NOT NULL\n    GROUP BY 1, 2, 3, 4, 5, 6\n    HAVING sum(m.sign) <> 0\n    ORDER BY 1, 2, 3, 4, 5, 6\n    ON CONFLICT (grain, bucket_start, provider, model, pattern, bin) DO UPDATE\n    SET n = r.n + excluded.n\n)\nINSERT INTO routing_rollups AS r (\n    grain, bucket_start, provider, model, pattern, band, requests, cost_sum, savings_sum,\n    savings_n, feedback_n, quality_sum, quality_sq_sum, correct_true, correct_n,\n    helpful_true, helpful_n)\nSELECT g.grain, date_trunc(g.unit, d.created_at, 'UTC'), d.provider, d.model, d.pattern,\n       d.band, sum(d.requests), sum(d.cost_sum), sum(d.savings_sum), sum(d.savings_n),\n       sum(d.feedback_n), sum(d.quality_sum), sum(d.quality_sq_sum), sum(d.correct_true),\n       sum(d.correct_n), sum(d.helpful_true), sum(d.helpful_n)\nFROM delta AS d CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3, 4, 5, 6\nHAVING sum(d.requests) <> 0 OR sum(d.cost_sum) <> 0 OR sum(d.savings_sum) <> 0\n    OR sum(d.savings_n) <> 0 OR sum(d.feedback_n) <> 0 OR sum(d.quality_sum) <> 0\n    OR sum(d.quality_sq_sum) <> 0 OR sum(d.correct_true) <> 0 OR sum(d.correct_n) <> 0\n    OR sum(d.helpful_true) <> 0 OR sum(d.helpful_n) <> 0\nORDER BY 1, 2, 3, 4, 5, 6\nON CONFLICT (grain, bucket_start, provider, model, pattern, band) DO UPDATE SET\n    requests = r.requests + excluded.requests,\n    cost_sum = r.cost_sum + excluded.cost_sum,\n    savings_sum = r.savings_sum + excluded.savings_sum,\n    savings_n = r.savings_n + excluded.savings_n,\n    feedback_n = r.feedback_n + excluded.feedback_n,\n    quality_sum = r.quality_sum + excluded.quality_sum,\n    quality_sq_sum = r.quality_sq_sum + excluded.quality_sq_sum,\n    correct_true = r.correct_true + excluded.correct_true,\n    correct_n = r.correct_n + excluded.correct_n,\n    helpful_true = r.helpful_true + excluded.helpful_true,\n    helpful_n = r.helpful_n + excluded.helpful_n;\n    END IF;\n    RETURN NULL;\nEND;\n$function$",
    )
    op.drop_entity(public_routing_metric_rollups_apply)

    public_vote_rollups_apply = PGFunction(
        schema="public",
        signature="vote_rollups_apply()",
        definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    IF TG_OP = 'INSERT' THEN\n\nWITH cand AS (\n    SELECT DISTINCT ON (conversation_id) conversation_id, id, vote, reasons, created_at\n    FROM new_rows\n    ORDER BY conversation_id, created_at DESC, id DESC\n),\nchanged AS (\n    INSERT INTO vote_current AS vc (conversation_id, vote_id, vote, reasons, cast_at)\n    SELECT conversation_id, id, vote, reasons, created_at FROM cand ORDER BY conversation_id\n    ON CONFLICT (conversation_id) DO UPDATE\n    SET vote_id = excluded.vote_id, vote = excluded.vote, reasons = excluded.reasons,\n        cast_at = excluded.cast_at\n    WHERE (excluded.cast_at, excluded.vote_id) > (vc.cast_at, vc.vote_id)\n    RETURNING WITH (OLD AS was, NEW AS now_is)\n        was.vote AS old_vote, was.reasons AS old_reasons, was.cast_at AS old_cast_at,\n        now_is.vote AS new_vote, now_is.reasons AS new_reasons, now_is.cast_at AS new_cast_at\n),\ngone AS (SELECT NULL::vote_direction AS vote, NULL::text[] AS reasons,\n                NULL::timestamptz AS cast_at WHERE false),\ndelta AS (\n    SELECT old_vote AS vote, old_reasons AS reasons, old_cast_at AS cast_at, -1 AS sign\n    FROM changed WHERE old_cast_at IS NOT NULL\n    UNION ALL\n    SELECT new_vote, new_reasons, new_cast_at, 1 FROM changed\n    UNION ALL\n    SELECT vote, reasons, cast_at, -1 FROM gone\n)\n, vote_totals AS (\n    INSERT INTO vote_rollups AS r (grain, bucket_start, up, down)\n    SELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'),\n           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0),\n           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0)\n    FROM delta AS d CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\n    GROUP BY 1, 2\n    HAVING coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0) <> 0\n        OR coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0) <> 0\n    ORDER BY 1, 2\n    ON CONFLICT (grain, bucket_start) DO UPDATE\n    SET up = r.up + excluded.up, down = r.down + excluded.down\n)\nINSERT INTO vote_reason_rollups AS r (grain, bucket_start, reason, n)\nSELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'), x.reason, sum(d.sign)\nFROM delta AS d\nCROSS JOIN LATERAL (SELECT DISTINCT unnest(d.reasons) AS reason) AS x\nCROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3\nHAVING sum(d.sign) <> 0\nORDER BY 1, 2, 3\nON CONFLICT (grain, bucket_start, reason) DO UPDATE SET n = r.n + excluded.n;\n    ELSIF TG_OP = 'DELETE' THEN\n\nWITH aff AS (SELECT DISTINCT conversation_id FROM old_rows),\nnewest AS (\n    SELECT a.conversation_id, n.id, n.vote, n.reasons, n.created_at\n    FROM aff AS a\n    LEFT JOIN LATERAL (\n        SELECT v.id, v.vote, v.reasons, v.created_at FROM votes AS v\n        WHERE v.conversation_id = a.conversation_id\n        ORDER BY v.created_at DESC, v.id DESC LIMIT 1\n    ) AS n ON true\n),\ngone AS (\n    DELETE FROM vote_current AS vc USING newest AS n\n    WHERE vc.conversation_id = n.conversation_id AND n.id IS NULL\n    RETURNING vc.vote, vc.reasons, vc.cast_at\n),\nchanged AS (\n    INSERT INTO vote_current AS vc (conversation_id, vote_id, vote, reasons, cast_at)\n    SELECT conversation_id, id, vote, reasons, created_at FROM newest\n    WHERE id IS NOT NULL ORDER BY conversation_id\n    ON CONFLICT (conversation_id) DO UPDATE\n    SET vote_id = excluded.vote_id, vote = excluded.vote, reasons = excluded.reasons,\n        cast_at = excluded.cast_at\n    WHERE (vc.vote_id, vc.vote, vc.reasons, vc.cast_at)\n        IS DISTINCT FROM (excluded.vote_id, excluded.vote, excluded.reasons, excluded.cast_at)\n    RETURNING WITH (OLD AS was, NEW AS now_is)\n        was.vote AS old_vote, was.reasons AS old_reasons, was.cast_at AS old_cast_at,\n        now_is.vote AS new_vote, now_is.reasons AS new_reasons, now_is.cast_at AS new_cast_at\n),\ndelta AS (\n    SELECT old_vote AS vote, old_reasons AS reasons, old_cast_at AS cast_at, -1 AS sign\n    FROM changed WHERE old_cast_at IS NOT NULL\n    UNION ALL\n    SELECT new_vote, new_reasons, new_cast_at, 1 FROM changed\n    UNION ALL\n    SELECT vote, reasons, cast_at, -1 FROM gone\n)\n, vote_totals AS (\n    INSERT INTO vote_rollups AS r (grain, bucket_start, up, down)\n    SELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'),\n           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0),\n           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0)\n    FROM delta AS d CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\n    GROUP BY 1, 2\n    HAVING coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0) <> 0\n        OR coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0) <> 0\n    ORDER BY 1, 2\n    ON CONFLICT (grain, bucket_start) DO UPDATE\n    SET up = r.up + excluded.up, down = r.down + excluded.down\n)\nINSERT INTO vote_reason_rollups AS r (grain, bucket_start, reason, n)\nSELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'), x.reason, sum(d.sign)\nFROM delta AS d\nCROSS JOIN LATERAL (SELECT DISTINCT unnest(d.reasons) AS reason) AS x\nCROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3\nHAVING sum(d.sign) <> 0\nORDER BY 1, 2, 3\nON CONFLICT (grain, bucket_start, reason) DO UPDATE SET n = r.n + excluded.n;\n    ELSE\n\nWITH aff AS (SELECT conversation_id FROM old_rows UNION SELECT conversation_id FROM new_rows),\nnewest AS (\n    SELECT a.conversation_id, n.id, n.vote, n.reasons, n.created_at\n    FROM aff AS a\n    LEFT JOIN LATERAL (\n        SELECT v.id, v.vote, v.reasons, v.created_at FROM votes AS v\n        WHERE v.conversation_id = a.conversation_id\n        ORDER BY v.created_at DESC, v.id DESC LIMIT 1\n    ) AS n ON true\n),\ngone AS (\n    DELETE FROM vote_current AS vc USING newest AS n\n    WHERE vc.conversation_id = n.conversation_id AND n.id IS NULL\n    RETURNING vc.vote, vc.reasons, vc.cast_at\n),\nchanged AS (\n    INSERT INTO vote_current AS vc (conversation_id, vote_id, vote, reasons, cast_at)\n    SELECT conversation_id, id, vote, reasons, created_at FROM newest\n    WHERE id IS NOT NULL ORDER BY conversation_id\n    ON CONFLICT (conversation_id) DO UPDATE\n    SET vote_id = excluded.vote_id, vote = excluded.vote, reasons = excluded.reasons,\n        cast_at = excluded.cast_at\n    WHERE (vc.vote_id, vc.vote, vc.reasons, vc.cast_at)\n        IS DISTINCT FROM (excluded.vote_id, excluded.vote, excluded.reasons, excluded.cast_at)\n    RETURNING WITH (OLD AS was, NEW AS now_is)\n        was.vote AS old_vote, was.reasons AS old_reasons, was.cast_at AS old_cast_at,\n        now_is.vote AS new_vote, now_is.reasons AS new_reasons, now_is.cast_at AS new_cast_at\n),\ndelta AS (\n    SELECT old_vote AS vote, old_reasons AS reasons, old_cast_at AS cast_at, -1 AS sign\n    FROM changed WHERE old_cast_at IS NOT NULL\n    UNION ALL\n    SELECT new_vote, new_reasons, new_cast_at, 1 FROM changed\n    UNION ALL\n    SELECT vote, reasons, cast_at, -1 FROM gone\n)\n, vote_totals AS (\n    INSERT INTO vote_rollups AS r (grain, bucket_start, up, down)\n    SELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'),\n           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0),\n           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0)\n    FROM delta AS d CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\n    GROUP BY 1, 2\n    HAVING coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0) <> 0\n        OR coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0) <> 0\n    ORDER BY 1, 2\n    ON CONFLICT (grain, bucket_start) DO UPDATE\n    SET up = r.up + excluded.up, down = r.down + excluded.down\n)\nINSERT INTO vote_reason_rollups AS r (grain, bucket_start, reason, n)\nSELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'), x.reason, sum(d.sign)\nFROM delta AS d\nCROSS JOIN LATERAL (SELECT DISTINCT unnest(d.reasons) AS reason) AS x\nCROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3\nHAVING sum(d.sign) <> 0\nORDER BY 1, 2, 3\nON CONFLICT (grain, bucket_start, reason) DO UPDATE SET n = r.n + excluded.n;\n    END IF;\n    RETURN NULL;\nEND;\n$function$",
    )
    op.drop_entity(public_vote_rollups_apply)

    public_analytics_rollups_rebuild = PGFunction(
        schema="public",
        signature="analytics_rollups_rebuild()",
        definition="RETURNS trigger\nLANGUAGE plpgsql\nAS $function$\nBEGIN\n    DELETE FROM vote_current;\n    INSERT INTO vote_current (conversation_id, vote_id, vote, reasons, cast_at) SELECT conversation_id, vote_id, vote, reasons, cast_at FROM (\nSELECT DISTINCT ON (conversation_id) conversation_id, id AS vote_id, vote, reasons,\n       created_at AS cast_at\nFROM votes ORDER BY conversation_id, created_at DESC, id DESC) AS s ORDER BY conversation_id;\n    DELETE FROM vote_rollups;\n    INSERT INTO vote_rollups (grain, bucket_start, up, down) SELECT grain, bucket_start, up, down FROM (\nSELECT g.grain, date_trunc(g.unit, c.cast_at, 'UTC') AS bucket_start,\n       count(*) FILTER (WHERE c.vote = 'up') AS up, count(*) FILTER (WHERE c.vote = 'down') AS down\nFROM (\nSELECT DISTINCT ON (conversation_id) conversation_id, id AS vote_id, vote, reasons,\n       created_at AS cast_at\nFROM votes ORDER BY conversation_id, created_at DESC, id DESC) AS c CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit) GROUP BY 1, 2) AS s ORDER BY grain, bucket_start;\n    DELETE FROM vote_reason_rollups;\n    INSERT INTO vote_reason_rollups (grain, bucket_start, reason, n) SELECT grain, bucket_start, reason, n FROM (\nSELECT g.grain, date_trunc(g.unit, c.cast_at, 'UTC') AS bucket_start, x.reason, count(*) AS n\nFROM (\nSELECT DISTINCT ON (conversation_id) conversation_id, id AS vote_id, vote, reasons,\n       created_at AS cast_at\nFROM votes ORDER BY conversation_id, created_at DESC, id DESC) AS c\nCROSS JOIN LATERAL (SELECT DISTINCT unnest(c.reasons) AS reason) AS x\nCROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit) GROUP BY 1, 2, 3) AS s ORDER BY grain, bucket_start, reason;\n    DELETE FROM routing_rollups;\n    INSERT INTO routing_rollups (grain, bucket_start, provider, model, pattern, band, requests, cost_sum, savings_sum, savings_n, feedback_n, quality_sum, quality_sq_sum, correct_true, correct_n, helpful_true, helpful_n) SELECT grain, bucket_start, provider, model, pattern, band, requests, cost_sum, savings_sum, savings_n, feedback_n, quality_sum, quality_sq_sum, correct_true, correct_n, helpful_true, helpful_n FROM (\nSELECT g.grain, date_trunc(g.unit, m.created_at, 'UTC') AS bucket_start,\n       m.selected_provider AS provider, m.selected_model AS model,\n       coalesce(m.pattern_detected, '') AS pattern, (CASE WHEN m.complexity_score IS NULL THEN '' WHEN m.complexity_score < 0.33 THEN 'low' WHEN m.complexity_score < 0.66 THEN 'medium' ELSE 'high' END) AS band,\n       count(*) AS requests, sum(m.actual_cost) AS cost_sum,\n       coalesce(sum(m.cost_savings), 0) AS savings_sum, count(m.cost_savings) AS savings_n,\n       sum(fb.n) AS feedback_n, sum(fb.q) AS quality_sum, sum(fb.q2) AS quality_sq_sum,\n       sum(fb.ct) AS correct_true, sum(fb.cn) AS correct_n, sum(fb.ht) AS helpful_true,\n       sum(fb.hn) AS helpful_n\nFROM routing_metrics AS m\nCROSS JOIN LATERAL (\n    SELECT count(*) AS n, coalesce(sum(f.quality_score), 0) AS q,\n           coalesce(sum((CASE WHEN f.quality_score < 1e-150 THEN 0 ELSE f.quality_score * f.quality_score END)), 0) AS q2,\n           count(*) FILTER (WHERE f.is_correct) AS ct, count(f.is_correct) AS cn,\n           count(*) FILTER (WHERE f.is_helpful) AS ht, count(f.is_helpful) AS hn\n    FROM routing_feedback AS f WHERE f.request_id = m.request_id\n) AS fb CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nGROUP BY 1, 2, 3, 4, 5, 6) AS s ORDER BY grain, bucket_start, provider, model, pattern, band;\n    DELETE FROM routing_latency_rollups;\n    INSERT INTO routing_latency_rollups (grain, bucket_start, provider, model, pattern, bin, n) SELECT grain, bucket_start, provider, model, pattern, bin, n FROM (\nSELECT g.grain, date_trunc(g.unit, m.created_at, 'UTC') AS bucket_start,\n       m.selected_provider AS provider, m.selected_model AS model,\n       coalesce(m.pattern_detected, '') AS pattern, (CASE WHEN m.latency_ms < 1 THEN 0 ELSE 1 + floor(ln(CAST(m.latency_ms AS double precision)) / 0.10008345855698263) END) AS bin,\n       count(*) AS n\nFROM routing_metrics AS m CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)\nWHERE m.latency_ms IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6) AS s ORDER BY grain, bucket_start, provider, model, pattern, bin;\n    DELETE FROM cache_entry_rollups;\n    INSERT INTO cache_entry_rollups (grain, bucket_start, n) SELECT grain, bucket_start, n FROM (\nSELECT g.grain, date_trunc(g.unit, e.created_at, 'UTC') AS bucket_start, count(*) AS n\nFROM response_cache AS e CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit) GROUP BY 1, 2) AS s ORDER BY grain, bucket_start;\n    DELETE FROM cache_rating_rollups;\n    INSERT INTO cache_rating_rollups (grain, bucket_start, rating, n) SELECT grain, bucket_start, rating, n FROM (\nSELECT g.grain, date_trunc(g.unit, f.created_at, 'UTC') AS bucket_start, f.rating, count(*) AS n\nFROM cache_feedback AS f CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit) WHERE f.superseded_at IS NULL GROUP BY 1, 2, 3) AS s ORDER BY grain, bucket_start, rating;\n    DELETE FROM cache_hit_rollups;\n    INSERT INTO cache_hit_rollups (day, hits, cost_saved) SELECT day, hits, cost_saved FROM (\nSELECT h.day, sum(h.hits) AS hits, sum(h.hits * e.cost_usd) AS cost_saved\nFROM cache_hit_days AS h JOIN response_cache AS e ON e.cache_key = h.cache_key GROUP BY 1) AS s ORDER BY day;\n    DELETE FROM expert_feedback_rollups;\n    INSERT INTO expert_feedback_rollups (grain, bucket_start, feedback_type, category, n) SELECT grain, bucket_start, feedback_type, category, n FROM (\nSELECT g.grain, date_trunc(g.unit, f.created_at, 'UTC') AS bucket_start,\n       f.feedback_type::text AS feedback_type, coalesce(f.category::text, '') AS category,\n       count(*) AS n\nFROM expert_feedback AS f CROSS JOIN (VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit) GROUP BY 1, 2, 3, 4) AS s ORDER BY grain, bucket_start, feedback_type, category;\n    DELETE FROM expert_candidate_status_counts;\n    INSERT INTO expert_candidate_status_counts (status, n) SELECT status, n FROM (\nSELECT approval_status::text AS status, count(*) AS n FROM expert_faq_candidates GROUP BY 1) AS s ORDER BY status;\n    RETURN NULL;\nEND;\n$function$",
    )
    op.drop_entity(public_analytics_rollups_rebuild)

    op.drop_table("vote_rollups")
    op.drop_table("vote_reason_rollups")
    op.drop_index("ix_vote_current_cast_at", table_name="vote_current")
    op.drop_table("vote_current")
    op.drop_table("routing_rollups")
    op.drop_table("routing_latency_rollups")
    op.drop_table("expert_feedback_rollups")
    op.drop_table("expert_candidate_status_counts")
    op.drop_table("cache_rating_rollups")
    op.drop_table("cache_hit_rollups")
    op.drop_table("cache_entry_rollups")
