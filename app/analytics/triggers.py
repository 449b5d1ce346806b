# ruff: noqa: S608
# (S608: every SQL string here is assembled from constants of this module, never input.)
"""The triggers that keep the rollups (`app/analytics/models.py`) equal to their sources.

Statement-level triggers with transition tables: a multi-row INSERT (the batched writer)
costs one aggregated upsert per rollup, not one per row. Each trigger turns the changed
rows into signed deltas (+1 from NEW TABLE, -1 from OLD TABLE; an UPDATE is both), sums
them per rollup key, drops keys whose delta is zero and upserts in key order, so two
writers lock rollup rows in the same order and cannot deadlock. A rollup row is locked
from the upsert to the commit: writers of the same bucket and group serialise on it for
that long (measured in docs/benchmarks.md).

Cascades: a parent row's BEFORE DELETE row trigger deletes its children first, while the
parent is still visible, so the children's triggers can still read the attributes
(provider, cost) they are rolled up under; the FK cascade then finds nothing left.

`RECOMPUTE` holds, per rollup table, the from-scratch aggregation of its sources: the
migration backfills with it and the property test compares every rollup with it.
"""

from __future__ import annotations

from typing import Any

from alembic_utils.pg_function import PGFunction
from alembic_utils.pg_trigger import PGTrigger
from alembic_utils.replaceable_entity import ReplaceableEntity

from app.analytics.histogram import bin_sql
from app.cache.flagging import GOOD_RATING  # noqa: F401  (documented: ratings >= 4 are good)
from app.routing import scoring

GRAINS = "(VALUES ('h', 'hour'), ('d', 'day')) AS g(grain, unit)"


def band_sql(score: str) -> str:
    """The complexity band of a score as `app/routing/scoring.py` defines it; '' if NULL."""
    return (
        f"(CASE WHEN {score} IS NULL THEN '' WHEN {score} < {scoring.LOW_MAX!r} THEN 'low' "
        f"WHEN {score} < {scoring.MEDIUM_MAX!r} THEN 'medium' ELSE 'high' END)"
    )


def _src(op: str) -> str:
    """Signed source rows of the triggering statement."""
    new = "SELECT t.*, 1 AS sign FROM new_rows AS t"
    old = "SELECT t.*, -1 AS sign FROM old_rows AS t"
    return {"INSERT": new, "DELETE": old, "UPDATE": f"{new} UNION ALL {old}"}[op]


def _function(name: str, body: dict[str, str]) -> PGFunction:
    definition = f"""RETURNS trigger
LANGUAGE plpgsql
AS $function$
BEGIN
    IF TG_OP = 'INSERT' THEN
{body["INSERT"]};
    ELSIF TG_OP = 'DELETE' THEN
{body["DELETE"]};
    ELSE
{body["UPDATE"]};
    END IF;
    RETURN NULL;
END;
$function$"""
    return PGFunction(schema="public", signature=f"{name}()", definition=definition)


def _statement_triggers(table: str, function: str) -> list[PGTrigger]:
    # One trigger per event: PostgreSQL allows transition tables only on single-event
    # triggers.
    refs = {
        "INSERT": "REFERENCING NEW TABLE AS new_rows",
        "DELETE": "REFERENCING OLD TABLE AS old_rows",
        "UPDATE": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    }
    if table in ROW_UPDATE_TRIGGERS:
        del refs["UPDATE"]
    return [
        PGTrigger(
            schema="public",
            signature=f"trg_{table}_rollup_{op.lower()}",
            on_entity=f"public.{table}",
            is_constraint=False,
            definition=(
                f"AFTER {op} ON public.{table} {ref} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION public.{function}()"
            ),
        )
        for op, ref in refs.items()
    ]


# --------------------------------------------------------------------------- votes

# Every vote batch adds to the same hour and day rows, and a row stays locked until its
# transaction commits: with one row per bucket, concurrent group commits waited on each
# other (docs/benchmarks.md). Each writer loop sets its own slot for its transaction
# (`app/writer.py`); any other writer adds to slot 0. Readers sum a bucket's slots.
SLOT_SETTING = "feedback.rollup_slot"
ROLLUP_SLOT = (
    f"CAST(coalesce(nullif(current_setting('{SLOT_SETTING}', true), ''), '0') AS smallint)"
)

_VOTE_APPLY = f"""
, vote_totals AS (
    INSERT INTO vote_rollups AS r (grain, bucket_start, slot, up, down)
    SELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'), {ROLLUP_SLOT},
           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0),
           coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0)
    FROM delta AS d CROSS JOIN {GRAINS}
    GROUP BY 1, 2
    HAVING coalesce(sum(d.sign) FILTER (WHERE d.vote = 'up'), 0) <> 0
        OR coalesce(sum(d.sign) FILTER (WHERE d.vote = 'down'), 0) <> 0
    ORDER BY 1, 2
    ON CONFLICT (grain, bucket_start, slot) DO UPDATE
    SET up = r.up + excluded.up, down = r.down + excluded.down
)
INSERT INTO vote_reason_rollups AS r (grain, bucket_start, reason, slot, n)
SELECT g.grain, date_trunc(g.unit, d.cast_at, 'UTC'), x.reason, {ROLLUP_SLOT}, sum(d.sign)
FROM delta AS d
CROSS JOIN LATERAL (SELECT DISTINCT unnest(d.reasons) AS reason) AS x
CROSS JOIN {GRAINS}
GROUP BY 1, 2, 3
HAVING sum(d.sign) <> 0
ORDER BY 1, 2, 3
ON CONFLICT (grain, bucket_start, reason, slot) DO UPDATE SET n = r.n + excluded.n"""

# PL/pgSQL's own OLD/NEW row variables shadow RETURNING's old/new: alias them.
_VOTE_CHANGED_RETURNING = """
    RETURNING WITH (OLD AS was, NEW AS now_is)
        was.vote AS old_vote, was.reasons AS old_reasons, was.cast_at AS old_cast_at,
        now_is.vote AS new_vote, now_is.reasons AS new_reasons, now_is.cast_at AS new_cast_at
)"""

_VOTE_DELTA = """,
delta AS (
    SELECT old_vote AS vote, old_reasons AS reasons, old_cast_at AS cast_at, -1 AS sign
    FROM changed WHERE old_cast_at IS NOT NULL
    UNION ALL
    SELECT new_vote, new_reasons, new_cast_at, 1 FROM changed
    UNION ALL
    SELECT vote, reasons, cast_at, -1 FROM gone
)"""

# New votes: each conversation's newest new vote replaces its current vote only if it is
# newer (by created_at, then id). The condition is re-checked on the latest version of the
# locked row, so concurrent writers of one conversation always end at the newest vote.
_VOTE_INSERT = (
    """
WITH cand AS (
    SELECT DISTINCT ON (conversation_id) conversation_id, id, vote, reasons, created_at
    FROM new_rows
    ORDER BY conversation_id, created_at DESC, id DESC
),
changed AS (
    INSERT INTO vote_current AS vc (conversation_id, vote_id, vote, reasons, cast_at)
    SELECT conversation_id, id, vote, reasons, created_at FROM cand ORDER BY conversation_id
    ON CONFLICT (conversation_id) DO UPDATE
    SET vote_id = excluded.vote_id, vote = excluded.vote, reasons = excluded.reasons,
        cast_at = excluded.cast_at
    WHERE (excluded.cast_at, excluded.vote_id) > (vc.cast_at, vc.vote_id)"""
    + _VOTE_CHANGED_RETURNING
    + """,
gone AS (SELECT NULL::vote_direction AS vote, NULL::text[] AS reasons,
                NULL::timestamptz AS cast_at WHERE false)"""
    + _VOTE_DELTA
    + _VOTE_APPLY
)


def _vote_refresh(affected: str) -> str:
    """Deleted or changed votes: recompute the current vote of each affected conversation."""
    return (
        f"""
WITH aff AS ({affected}),
newest AS (
    SELECT a.conversation_id, n.id, n.vote, n.reasons, n.created_at
    FROM aff AS a
    LEFT JOIN LATERAL (
        SELECT v.id, v.vote, v.reasons, v.created_at FROM votes AS v
        WHERE v.conversation_id = a.conversation_id
        ORDER BY v.created_at DESC, v.id DESC LIMIT 1
    ) AS n ON true
),
gone AS (
    DELETE FROM vote_current AS vc USING newest AS n
    WHERE vc.conversation_id = n.conversation_id AND n.id IS NULL
    RETURNING vc.vote, vc.reasons, vc.cast_at
),
changed AS (
    INSERT INTO vote_current AS vc (conversation_id, vote_id, vote, reasons, cast_at)
    SELECT conversation_id, id, vote, reasons, created_at FROM newest
    WHERE id IS NOT NULL ORDER BY conversation_id
    ON CONFLICT (conversation_id) DO UPDATE
    SET vote_id = excluded.vote_id, vote = excluded.vote, reasons = excluded.reasons,
        cast_at = excluded.cast_at
    WHERE (vc.vote_id, vc.vote, vc.reasons, vc.cast_at)
        IS DISTINCT FROM (excluded.vote_id, excluded.vote, excluded.reasons, excluded.cast_at)"""
        + _VOTE_CHANGED_RETURNING
        + _VOTE_DELTA
        + _VOTE_APPLY
    )


vote_rollups_apply = _function(
    "vote_rollups_apply",
    {
        "INSERT": _VOTE_INSERT,
        "DELETE": _vote_refresh("SELECT DISTINCT conversation_id FROM old_rows"),
        "UPDATE": _vote_refresh(
            "SELECT conversation_id FROM old_rows UNION SELECT conversation_id FROM new_rows"
        ),
    },
)

# ------------------------------------------------------------------------- routing

_ROUTING_UPSERT = f"""
INSERT INTO routing_rollups AS r (
    grain, bucket_start, provider, model, pattern, band, requests, cost_sum, savings_sum,
    savings_n, feedback_n, quality_sum, quality_sq_sum, correct_true, correct_n,
    helpful_true, helpful_n)
SELECT g.grain, date_trunc(g.unit, d.created_at, 'UTC'), d.provider, d.model, d.pattern,
       d.band, sum(d.requests), sum(d.cost_sum), sum(d.savings_sum), sum(d.savings_n),
       sum(d.feedback_n), sum(d.quality_sum), sum(d.quality_sq_sum), sum(d.correct_true),
       sum(d.correct_n), sum(d.helpful_true), sum(d.helpful_n)
FROM delta AS d CROSS JOIN {GRAINS}
GROUP BY 1, 2, 3, 4, 5, 6
HAVING sum(d.requests) <> 0 OR sum(d.cost_sum) <> 0 OR sum(d.savings_sum) <> 0
    OR sum(d.savings_n) <> 0 OR sum(d.feedback_n) <> 0 OR sum(d.quality_sum) <> 0
    OR sum(d.quality_sq_sum) <> 0 OR sum(d.correct_true) <> 0 OR sum(d.correct_n) <> 0
    OR sum(d.helpful_true) <> 0 OR sum(d.helpful_n) <> 0
ORDER BY 1, 2, 3, 4, 5, 6
ON CONFLICT (grain, bucket_start, provider, model, pattern, band) DO UPDATE SET
    requests = r.requests + excluded.requests,
    cost_sum = r.cost_sum + excluded.cost_sum,
    savings_sum = r.savings_sum + excluded.savings_sum,
    savings_n = r.savings_n + excluded.savings_n,
    feedback_n = r.feedback_n + excluded.feedback_n,
    quality_sum = r.quality_sum + excluded.quality_sum,
    quality_sq_sum = r.quality_sq_sum + excluded.quality_sq_sum,
    correct_true = r.correct_true + excluded.correct_true,
    correct_n = r.correct_n + excluded.correct_n,
    helpful_true = r.helpful_true + excluded.helpful_true,
    helpful_n = r.helpful_n + excluded.helpful_n"""

# A score below 1e-150 squares to 0 here: float8 multiplication raises on underflow, and a
# client may send such a score.
_SQUARE_F = "(CASE WHEN f.quality_score < 1e-150 THEN 0 ELSE f.quality_score * f.quality_score END)"

_METRIC_GROUP = (
    "m.created_at, m.selected_provider AS provider, m.selected_model AS model, "
    f"coalesce(m.pattern_detected, '') AS pattern, {band_sql('m.complexity_score')} AS band"
)

# Feedback sums of a metric row (only needed when a metric row is updated: new metrics
# have no feedback yet and deleted ones lost theirs in the BEFORE DELETE trigger).
_NO_FEEDBACK = (
    "0 AS feedback_n, 0.0 AS quality_sum, 0.0 AS quality_sq_sum, 0 AS correct_true, "
    "0 AS correct_n, 0 AS helpful_true, 0 AS helpful_n"
)
_METRIC_FEEDBACK = (
    "m.sign * fb.n AS feedback_n, m.sign * fb.q AS quality_sum, m.sign * fb.q2 AS "
    "quality_sq_sum, m.sign * fb.ct AS correct_true, m.sign * fb.cn AS correct_n, "
    "m.sign * fb.ht AS helpful_true, m.sign * fb.hn AS helpful_n"
)
_FEEDBACK_OF_METRIC = f"""
CROSS JOIN LATERAL (
    SELECT count(*) AS n, coalesce(sum(f.quality_score), 0) AS q,
           coalesce(sum({_SQUARE_F}), 0) AS q2,
           count(*) FILTER (WHERE f.is_correct) AS ct, count(f.is_correct) AS cn,
           count(*) FILTER (WHERE f.is_helpful) AS ht, count(f.is_helpful) AS hn
    FROM routing_feedback AS f WHERE f.request_id = m.request_id
) AS fb"""


def _metric_body(op: str) -> str:
    with_feedback = op == "UPDATE"
    return (
        f"""
WITH src AS ({_src(op)}),
delta AS (
    SELECT {_METRIC_GROUP}, m.sign AS requests, m.sign * m.actual_cost AS cost_sum,
           m.sign * coalesce(m.cost_savings, 0) AS savings_sum,
           CASE WHEN m.cost_savings IS NULL THEN 0 ELSE m.sign END AS savings_n,
           {_METRIC_FEEDBACK if with_feedback else _NO_FEEDBACK}
    FROM src AS m{_FEEDBACK_OF_METRIC if with_feedback else ""}
),
latency AS (
    INSERT INTO routing_latency_rollups AS r (grain, bucket_start, provider, model, pattern, bin, n)
    SELECT g.grain, date_trunc(g.unit, m.created_at, 'UTC'), m.selected_provider,
           m.selected_model, coalesce(m.pattern_detected, ''), {bin_sql("m.latency_ms")},
           sum(m.sign)
    FROM src AS m CROSS JOIN {GRAINS}
    WHERE m.latency_ms IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5, 6
    HAVING sum(m.sign) <> 0
    ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (grain, bucket_start, provider, model, pattern, bin) DO UPDATE
    SET n = r.n + excluded.n
)"""
        + _ROUTING_UPSERT
    )


def _feedback_body(op: str) -> str:
    # Joined to its metric for the bucket and group; rows whose metric is gone were
    # already subtracted when the metric's BEFORE DELETE trigger deleted them.
    return (
        f"""
WITH delta AS (
    SELECT {_METRIC_GROUP}, 0 AS requests, 0 AS cost_sum, 0 AS savings_sum, 0 AS savings_n,
           f.sign AS feedback_n, f.sign * f.quality_score AS quality_sum,
           f.sign * {_SQUARE_F} AS quality_sq_sum,
           CASE WHEN f.is_correct THEN f.sign ELSE 0 END AS correct_true,
           CASE WHEN f.is_correct IS NULL THEN 0 ELSE f.sign END AS correct_n,
           CASE WHEN f.is_helpful THEN f.sign ELSE 0 END AS helpful_true,
           CASE WHEN f.is_helpful IS NULL THEN 0 ELSE f.sign END AS helpful_n
    FROM ({_src(op)}) AS f JOIN routing_metrics AS m ON m.request_id = f.request_id
)"""
        + _ROUTING_UPSERT
    )


routing_metric_rollups_apply = _function(
    "routing_metric_rollups_apply", {op: _metric_body(op) for op in ("INSERT", "DELETE", "UPDATE")}
)
routing_feedback_rollups_apply = _function(
    "routing_feedback_rollups_apply",
    {op: _feedback_body(op) for op in ("INSERT", "DELETE", "UPDATE")},
)


def _delete_children_first(name: str, child: str, key: str) -> PGFunction:
    return PGFunction(
        schema="public",
        signature=f"{name}()",
        definition=f"""RETURNS trigger
LANGUAGE plpgsql
AS $function$
BEGIN
    IF EXISTS (SELECT 1 FROM {child} WHERE {key} = OLD.{key}) THEN
        DELETE FROM {child} WHERE {key} = OLD.{key};
    END IF;
    RETURN OLD;
END;
$function$""",
    )


routing_metric_delete_feedback = _delete_children_first(
    "routing_metric_delete_feedback", "routing_feedback", "request_id"
)
cache_entry_delete_hit_days = _delete_children_first(
    "cache_entry_delete_hit_days", "cache_hit_days", "cache_key"
)

# --------------------------------------------------------------------------- cache


def _cache_entry_body(op: str) -> str:
    # UPDATE is handled by the row trigger below; its branch here is never reached.
    return f"""
WITH src AS ({_src(op)})
INSERT INTO cache_entry_rollups AS r (grain, bucket_start, n)
SELECT g.grain, date_trunc(g.unit, e.created_at, 'UTC'), sum(e.sign)
FROM src AS e CROSS JOIN {GRAINS}
GROUP BY 1, 2 HAVING sum(e.sign) <> 0
ORDER BY 1, 2
ON CONFLICT (grain, bucket_start) DO UPDATE SET n = r.n + excluded.n"""


# Every rating updates its entry's tallies, so a statement trigger on every UPDATE of
# response_cache would run on the rating path for nothing: a row trigger whose WHEN clause
# (evaluated without calling the function) fires only when what the rollups use changes.
cache_entry_rollups_update_row = PGFunction(
    schema="public",
    signature="cache_entry_rollups_update_row()",
    definition=f"""RETURNS trigger
LANGUAGE plpgsql
AS $function$
BEGIN
    IF OLD.created_at IS DISTINCT FROM NEW.created_at THEN
        INSERT INTO cache_entry_rollups AS r (grain, bucket_start, n)
        SELECT g.grain, date_trunc(g.unit, d.t, 'UTC'), sum(d.sign)
        FROM (VALUES (OLD.created_at, -1), (NEW.created_at, 1)) AS d(t, sign)
        CROSS JOIN {GRAINS}
        GROUP BY 1, 2 HAVING sum(d.sign) <> 0
        ORDER BY 1, 2
        ON CONFLICT (grain, bucket_start) DO UPDATE SET n = r.n + excluded.n;
    END IF;
    IF OLD.cost_usd IS DISTINCT FROM NEW.cost_usd THEN
        -- A changed cost re-prices the entry's past hits (cost saved = hits times cost).
        INSERT INTO cache_hit_rollups AS r (day, hits, cost_saved)
        SELECT h.day, 0, h.hits * (NEW.cost_usd - OLD.cost_usd)
        FROM cache_hit_days AS h WHERE h.cache_key = NEW.cache_key
        ORDER BY 1
        ON CONFLICT (day) DO UPDATE SET cost_saved = r.cost_saved + excluded.cost_saved;
    END IF;
    RETURN NULL;
END;
$function$""",
)

cache_entry_rollups_update_trigger = PGTrigger(
    schema="public",
    signature="trg_response_cache_rollup_update",
    on_entity="public.response_cache",
    is_constraint=False,
    definition=(
        "AFTER UPDATE ON public.response_cache FOR EACH ROW WHEN "
        "(OLD.created_at IS DISTINCT FROM NEW.created_at "
        "OR OLD.cost_usd IS DISTINCT FROM NEW.cost_usd) "
        "EXECUTE FUNCTION public.cache_entry_rollups_update_row()"
    ),
)

ROW_UPDATE_TRIGGERS = {"response_cache"}


def _cache_hit_body(op: str) -> str:
    return f"""
INSERT INTO cache_hit_rollups AS r (day, hits, cost_saved)
SELECT h.day, sum(h.sign * h.hits), sum(h.sign * h.hits * e.cost_usd)
FROM ({_src(op)}) AS h JOIN response_cache AS e ON e.cache_key = h.cache_key
GROUP BY 1 HAVING sum(h.sign * h.hits) <> 0 OR sum(h.sign * h.hits * e.cost_usd) <> 0
ORDER BY 1
ON CONFLICT (day) DO UPDATE
SET hits = r.hits + excluded.hits, cost_saved = r.cost_saved + excluded.cost_saved"""


def _cache_rating_body(op: str) -> str:
    # A rater's replaced rating (superseded_at set) leaves the tallies, like the entry's own.
    return f"""
INSERT INTO cache_rating_rollups AS r (grain, bucket_start, rating, n)
SELECT g.grain, date_trunc(g.unit, f.created_at, 'UTC'), f.rating, sum(f.sign)
FROM ({_src(op)}) AS f CROSS JOIN {GRAINS}
WHERE f.superseded_at IS NULL
GROUP BY 1, 2, 3 HAVING sum(f.sign) <> 0
ORDER BY 1, 2, 3
ON CONFLICT (grain, bucket_start, rating) DO UPDATE SET n = r.n + excluded.n"""


cache_entry_rollups_apply = _function(
    "cache_entry_rollups_apply",
    {op: _cache_entry_body(op) for op in ("INSERT", "DELETE", "UPDATE")},
)
cache_hit_rollups_apply = _function(
    "cache_hit_rollups_apply", {op: _cache_hit_body(op) for op in ("INSERT", "DELETE", "UPDATE")}
)
cache_rating_rollups_apply = _function(
    "cache_rating_rollups_apply",
    {op: _cache_rating_body(op) for op in ("INSERT", "DELETE", "UPDATE")},
)

# ------------------------------------------------------------------------- experts


def _expert_feedback_body(op: str) -> str:
    return f"""
INSERT INTO expert_feedback_rollups AS r (grain, bucket_start, feedback_type, category, n)
SELECT g.grain, date_trunc(g.unit, f.created_at, 'UTC'), f.feedback_type::text,
       coalesce(f.category::text, ''), sum(f.sign)
FROM ({_src(op)}) AS f CROSS JOIN {GRAINS}
GROUP BY 1, 2, 3, 4 HAVING sum(f.sign) <> 0
ORDER BY 1, 2, 3, 4
ON CONFLICT (grain, bucket_start, feedback_type, category) DO UPDATE SET n = r.n + excluded.n"""


def _candidate_body(op: str) -> str:
    return f"""
INSERT INTO expert_candidate_status_counts AS r (status, n)
SELECT c.approval_status::text, sum(c.sign)
FROM ({_src(op)}) AS c
GROUP BY 1 HAVING sum(c.sign) <> 0
ORDER BY 1
ON CONFLICT (status) DO UPDATE SET n = r.n + excluded.n"""


expert_feedback_rollups_apply = _function(
    "expert_feedback_rollups_apply",
    {op: _expert_feedback_body(op) for op in ("INSERT", "DELETE", "UPDATE")},
)
expert_candidate_counts_apply = _function(
    "expert_candidate_counts_apply",
    {op: _candidate_body(op) for op in ("INSERT", "DELETE", "UPDATE")},
)

# ------------------------------------------------------------------------ registry

STATEMENT_TRIGGERS: list[tuple[str, PGFunction]] = [
    ("votes", vote_rollups_apply),
    ("routing_metrics", routing_metric_rollups_apply),
    ("routing_feedback", routing_feedback_rollups_apply),
    ("response_cache", cache_entry_rollups_apply),
    ("cache_hit_days", cache_hit_rollups_apply),
    ("cache_feedback", cache_rating_rollups_apply),
    ("expert_feedback", expert_feedback_rollups_apply),
    ("expert_faq_candidates", expert_candidate_counts_apply),
]


def _before_delete(table: str, function: PGFunction) -> PGTrigger:
    name = function.signature.removesuffix("()")
    return PGTrigger(
        schema="public",
        signature=f"trg_{table}_delete_children_first",
        on_entity=f"public.{table}",
        is_constraint=False,
        definition=(
            f"BEFORE DELETE ON public.{table} FOR EACH ROW EXECUTE FUNCTION public.{name}()"
        ),
    )


def _rebuild_all() -> PGFunction:
    """TRUNCATE fires no DELETE triggers: rebuild every rollup from its sources (rare)."""
    body = "\n".join(
        f"    DELETE FROM {table};\n    {statement};"
        for table, statement in zip(RECOMPUTE, backfill_statements(), strict=True)
    )
    return PGFunction(
        schema="public",
        signature="analytics_rollups_rebuild()",
        definition=f"""RETURNS trigger
LANGUAGE plpgsql
AS $function$
BEGIN
{body}
    RETURN NULL;
END;
$function$""",
    )


def _truncate_trigger(table: str) -> PGTrigger:
    return PGTrigger(
        schema="public",
        signature=f"trg_{table}_rollup_truncate",
        on_entity=f"public.{table}",
        is_constraint=False,
        definition=(
            f"AFTER TRUNCATE ON public.{table} FOR EACH STATEMENT "
            "EXECUTE FUNCTION public.analytics_rollups_rebuild()"
        ),
    )


def functions() -> list[PGFunction]:
    return [
        _rebuild_all(),
        *(f for _, f in STATEMENT_TRIGGERS),
        routing_metric_delete_feedback,
        cache_entry_delete_hit_days,
        cache_entry_rollups_update_row,
    ]


def triggers() -> list[PGTrigger]:
    out: list[PGTrigger] = []
    for table, function in STATEMENT_TRIGGERS:
        out.extend(_statement_triggers(table, function.signature.removesuffix("()")))
    out.extend(_truncate_trigger(table) for table, _ in STATEMENT_TRIGGERS)
    out.append(cache_entry_rollups_update_trigger)
    out.append(_before_delete("routing_metrics", routing_metric_delete_feedback))
    out.append(_before_delete("response_cache", cache_entry_delete_hit_days))
    return out


def entities() -> list[ReplaceableEntity]:
    """Registered with alembic_utils (app/triggers.py) so alembic check compares them."""
    return [*functions(), *triggers()]


# ----------------------------------------------------------------- recomputation

_VOTE_CURRENT = """
SELECT DISTINCT ON (conversation_id) conversation_id, id AS vote_id, vote, reasons,
       created_at AS cast_at
FROM votes ORDER BY conversation_id, created_at DESC, id DESC"""

RECOMPUTE: dict[str, str] = {
    "vote_current": _VOTE_CURRENT,
    "vote_rollups": f"""
SELECT g.grain, date_trunc(g.unit, c.cast_at, 'UTC') AS bucket_start,
       count(*) FILTER (WHERE c.vote = 'up') AS up, count(*) FILTER (WHERE c.vote = 'down') AS down
FROM ({_VOTE_CURRENT}) AS c CROSS JOIN {GRAINS} GROUP BY 1, 2""",
    "vote_reason_rollups": f"""
SELECT g.grain, date_trunc(g.unit, c.cast_at, 'UTC') AS bucket_start, x.reason, count(*) AS n
FROM ({_VOTE_CURRENT}) AS c
CROSS JOIN LATERAL (SELECT DISTINCT unnest(c.reasons) AS reason) AS x
CROSS JOIN {GRAINS} GROUP BY 1, 2, 3""",
    "routing_rollups": f"""
SELECT g.grain, date_trunc(g.unit, m.created_at, 'UTC') AS bucket_start,
       m.selected_provider AS provider, m.selected_model AS model,
       coalesce(m.pattern_detected, '') AS pattern, {band_sql("m.complexity_score")} AS band,
       count(*) AS requests, sum(m.actual_cost) AS cost_sum,
       coalesce(sum(m.cost_savings), 0) AS savings_sum, count(m.cost_savings) AS savings_n,
       sum(fb.n) AS feedback_n, sum(fb.q) AS quality_sum, sum(fb.q2) AS quality_sq_sum,
       sum(fb.ct) AS correct_true, sum(fb.cn) AS correct_n, sum(fb.ht) AS helpful_true,
       sum(fb.hn) AS helpful_n
FROM routing_metrics AS m{_FEEDBACK_OF_METRIC} CROSS JOIN {GRAINS}
GROUP BY 1, 2, 3, 4, 5, 6""",
    "routing_latency_rollups": f"""
SELECT g.grain, date_trunc(g.unit, m.created_at, 'UTC') AS bucket_start,
       m.selected_provider AS provider, m.selected_model AS model,
       coalesce(m.pattern_detected, '') AS pattern, {bin_sql("m.latency_ms")} AS bin,
       count(*) AS n
FROM routing_metrics AS m CROSS JOIN {GRAINS}
WHERE m.latency_ms IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6""",
    "cache_entry_rollups": f"""
SELECT g.grain, date_trunc(g.unit, e.created_at, 'UTC') AS bucket_start, count(*) AS n
FROM response_cache AS e CROSS JOIN {GRAINS} GROUP BY 1, 2""",
    "cache_rating_rollups": f"""
SELECT g.grain, date_trunc(g.unit, f.created_at, 'UTC') AS bucket_start, f.rating, count(*) AS n
FROM cache_feedback AS f CROSS JOIN {GRAINS} WHERE f.superseded_at IS NULL GROUP BY 1, 2, 3""",
    "cache_hit_rollups": """
SELECT h.day, sum(h.hits) AS hits, sum(h.hits * e.cost_usd) AS cost_saved
FROM cache_hit_days AS h JOIN response_cache AS e ON e.cache_key = h.cache_key GROUP BY 1""",
    "expert_feedback_rollups": f"""
SELECT g.grain, date_trunc(g.unit, f.created_at, 'UTC') AS bucket_start,
       f.feedback_type::text AS feedback_type, coalesce(f.category::text, '') AS category,
       count(*) AS n
FROM expert_feedback AS f CROSS JOIN {GRAINS} GROUP BY 1, 2, 3, 4""",
    "expert_candidate_status_counts": """
SELECT approval_status::text AS status, count(*) AS n FROM expert_faq_candidates GROUP BY 1""",
}

# Columns that identify a rollup row (the rest are counters); rows whose counters are all
# zero carry no information and are ignored when comparing.
KEYS: dict[str, tuple[str, ...]] = {
    "vote_current": ("conversation_id",),
    "vote_rollups": ("grain", "bucket_start"),
    "vote_reason_rollups": ("grain", "bucket_start", "reason"),
    "routing_rollups": ("grain", "bucket_start", "provider", "model", "pattern", "band"),
    "routing_latency_rollups": ("grain", "bucket_start", "provider", "model", "pattern", "bin"),
    "cache_entry_rollups": ("grain", "bucket_start"),
    "cache_rating_rollups": ("grain", "bucket_start", "rating"),
    "cache_hit_rollups": ("day",),
    "expert_feedback_rollups": ("grain", "bucket_start", "feedback_type", "category"),
    "expert_candidate_status_counts": ("status",),
}


ROLLUP_TABLES = tuple(KEYS)


# Bookkeeping columns `RECOMPUTE` does not yield: a backfill writes slot 0.
BOOKKEEPING = frozenset({"created_at", "slot"})


def rollup_columns(table: Any) -> list[str]:
    """The columns `RECOMPUTE` yields: all but the bookkeeping ones."""
    return [c.name for c in table.columns if c.name not in BOOKKEEPING]


def backfill_statements() -> list[str]:
    """Fill every rollup from its sources (the migration runs these on existing rows)."""
    from sqlmodel import SQLModel

    import app.models  # noqa: F401  (the rollup tables)

    out = []
    for table, select in RECOMPUTE.items():
        columns = ", ".join(rollup_columns(SQLModel.metadata.tables[table]))
        # In key order (grain, bucket_start first): rows of one bucket share pages, as they
        # do when live writes append buckets as time passes.
        order = ", ".join(KEYS[table])
        out.append(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM ({select}) AS s "
            f"ORDER BY {order}"
        )
    return out
