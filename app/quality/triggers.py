"""Triggers that keep `query_current_votes` and `query_signals` right in the write path.

Statement-level triggers with transition tables (`REFERENCING NEW/OLD TABLE`): one run per
INSERT/DELETE/UPDATE statement however many rows it carries, so a batched multi-row vote
INSERT costs one pass, and erasure, retention purges and cascades are covered because they
are plain DELETEs.

Concurrency: every change to one query's signals first takes that query's advisory lock
(in key order, see `quality_lock_queries`), so two transactions touching the same query
run one after the other, and the next statement's READ COMMITTED snapshot already holds
what the other one committed. Under that lock an INSERT moves the tallies by a delta (the
new current votes minus the ones they replace, one primary-key lookup each); a DELETE or
UPDATE (erasure, retention, rare) re-derives the pairs it touched and recounts those
queries from their current votes. Neither reads the `votes` table at large.
"""

from __future__ import annotations

from alembic_utils.pg_function import PGFunction
from alembic_utils.pg_trigger import PGTrigger
from alembic_utils.replaceable_entity import ReplaceableEntity

from app.quality.priority import PRIORITY_SQL

quality_priority = PGFunction(
    schema="public",
    signature="quality_priority(down bigint, up bigint, reasoned bigint, traffic bigint)",
    definition=f"""
RETURNS double precision
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $function$
{PRIORITY_SQL}
$function$
""",
)

# {reason: count} plus {reason: delta}; reasons whose count drops to 0 disappear.
quality_merge_reasons = PGFunction(
    schema="public",
    signature="quality_merge_reasons(counts jsonb, deltas jsonb)",
    definition="""
RETURNS jsonb
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $function$
SELECT coalesce(jsonb_object_agg(key, n), '{}'::jsonb)
FROM (
    SELECT key, sum(n) AS n
    FROM (
        SELECT key, CAST(value AS bigint) AS n FROM jsonb_each_text(counts)
        UNION ALL
        SELECT key, CAST(value AS bigint) FROM jsonb_each_text(coalesce(deltas, '{}'::jsonb))
    ) AS both_sides
    GROUP BY key
    HAVING sum(n) > 0
) AS merged
$function$
""",
)

# Serialises writers of the signals of `query_ids` with transaction-level advisory locks
# (class 0x71736967, "qsig"; key hashtext(query_id)), taken in key order so that two
# writers sharing keys take them in the same order and cannot deadlock; then makes sure
# every signals row exists. Advisory, not row, locks: nothing is written to lock, and a
# row deleted by a writer we waited for cannot be skipped.
quality_lock_queries = PGFunction(
    schema="public",
    signature="quality_lock_queries(query_ids uuid[])",
    definition="""
RETURNS void
LANGUAGE plpgsql
AS $function$
BEGIN
    PERFORM pg_advisory_xact_lock(1903389031, keys.k)
    FROM (
        SELECT DISTINCT hashtext(CAST(q AS text)) AS k FROM unnest(query_ids) AS q
        ORDER BY k
        OFFSET 0
    ) AS keys;
    INSERT INTO query_signals (query_id)
    SELECT DISTINCT q FROM unnest(query_ids) AS q
    ON CONFLICT (query_id) DO NOTHING;
END;
$function$
""",
)

# Recounts the vote tallies and priority of `query_ids` from their current votes (traffic
# is unknown: no column links a query to what served it, so it is 0). A row left with no
# vote and no review is removed. The LATERAL subqueries and `= ANY(...)` keep every step
# an index lookup per query: a plain join over a big batch plans as a full-table hash join.
quality_refresh_votes = PGFunction(
    schema="public",
    signature="quality_refresh_votes(query_ids uuid[])",
    definition="""
RETURNS void
LANGUAGE plpgsql
AS $function$
BEGIN
    UPDATE query_signals AS s
    SET down_votes = t.down,
        up_votes = t.up,
        reasoned_down_votes = t.reasoned,
        reasons = t.reasons,
        priority = quality_priority(t.down, t.up, t.reasoned, 0)
    FROM (
        SELECT q.query_id, v.down, v.up, v.reasoned, coalesce(r.reasons, '{}'::jsonb) AS reasons
        FROM (SELECT DISTINCT unnest(query_ids) AS query_id) AS q
        CROSS JOIN LATERAL (
            SELECT count(*) FILTER (WHERE c.vote = 'down') AS down,
                   count(*) FILTER (WHERE c.vote = 'up') AS up,
                   count(*) FILTER (WHERE c.vote = 'down' AND cardinality(c.reasons) > 0)
                       AS reasoned
            FROM query_current_votes AS c
            WHERE c.query_id = q.query_id
        ) AS v
        CROSS JOIN LATERAL (
            SELECT jsonb_object_agg(x.reason, x.n) AS reasons
            FROM (
                SELECT d.reason, count(*) AS n
                FROM query_current_votes AS c
                CROSS JOIN LATERAL (SELECT DISTINCT unnest(c.reasons) AS reason) AS d
                WHERE c.query_id = q.query_id AND c.vote = 'down'
                GROUP BY d.reason
            ) AS x
        ) AS r
    ) AS t
    WHERE s.query_id = t.query_id AND s.query_id = ANY(query_ids);
    DELETE FROM query_signals
    WHERE query_id = ANY(query_ids)
      AND down_votes = 0 AND up_votes = 0 AND first_reviewed_at IS NULL;
END;
$function$
""",
)

# Re-derives the current vote of each (query_id, conversation_id) pair from `votes` (after
# a delete or an update), then recounts those queries.
quality_rederive_votes = PGFunction(
    schema="public",
    signature="quality_rederive_votes(query_ids uuid[], conversation_ids text[])",
    definition="""
RETURNS void
LANGUAGE plpgsql
AS $function$
DECLARE
    touched uuid[] := ARRAY(SELECT DISTINCT q FROM unnest(query_ids) AS q ORDER BY q);
BEGIN
    IF cardinality(touched) = 0 THEN
        RETURN;
    END IF;
    PERFORM quality_lock_queries(touched);
    DELETE FROM query_current_votes AS c
    USING unnest(query_ids, conversation_ids) AS p(query_id, conversation_id)
    WHERE c.query_id = p.query_id AND c.conversation_id = p.conversation_id
      AND c.query_id = ANY(touched);
    INSERT INTO query_current_votes (query_id, conversation_id, vote_id, vote, reasons, voted_at)
    SELECT v.query_id, v.conversation_id, v.id, v.vote, v.reasons, v.created_at
    FROM (
        SELECT DISTINCT p.query_id, p.conversation_id
        FROM unnest(query_ids, conversation_ids) AS p(query_id, conversation_id)
    ) AS p
    CROSS JOIN LATERAL (
        SELECT w.query_id, w.conversation_id, w.id, w.vote, w.reasons, w.created_at
        FROM votes AS w
        WHERE w.conversation_id = p.conversation_id AND w.query_id = p.query_id
        ORDER BY w.created_at DESC, w.id DESC
        LIMIT 1
    ) AS v;
    PERFORM quality_refresh_votes(touched);
END;
$function$
""",
)

# INSERT (the hot path): the newest inserted vote of each pair replaces the current one if
# it is newer (created_at, then id: the order votes analytics uses) and the tallies move by
# the difference. DELETE/UPDATE (erasure, retention, rare): re-derive the pairs, recount.
quality_votes_changed = PGFunction(
    schema="public",
    signature="quality_votes_changed()",
    definition="""
RETURNS trigger
LANGUAGE plpgsql
AS $function$
DECLARE
    touched uuid[];
    qids uuid[];
    convs text[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        touched := ARRAY(
            SELECT DISTINCT query_id FROM new_rows WHERE query_id IS NOT NULL ORDER BY query_id
        );
        IF cardinality(touched) = 0 THEN
            RETURN NULL;
        END IF;
        PERFORM quality_lock_queries(touched);
        -- Under the lock, `previous` (this statement's snapshot) is exactly what `upserted`
        -- replaces, so the tallies move by (new current votes - the ones they replace)
        -- without re-reading the query's other votes. LATERAL keeps each lookup on the PK.
        WITH incoming AS (
            SELECT DISTINCT ON (query_id, conversation_id)
                   query_id, conversation_id, id, vote, reasons, created_at
            FROM new_rows
            WHERE query_id IS NOT NULL
            ORDER BY query_id, conversation_id, created_at DESC, id DESC
        ),
        previous AS (
            SELECT i.query_id, i.conversation_id, p.vote, p.reasons
            FROM incoming AS i
            CROSS JOIN LATERAL (
                SELECT c.vote, c.reasons FROM query_current_votes AS c
                WHERE c.query_id = i.query_id AND c.conversation_id = i.conversation_id
            ) AS p
        ),
        upserted AS (
            INSERT INTO query_current_votes AS c
                (query_id, conversation_id, vote_id, vote, reasons, voted_at)
            SELECT query_id, conversation_id, id, vote, reasons, created_at FROM incoming
            ON CONFLICT (query_id, conversation_id) DO UPDATE
            SET vote_id = EXCLUDED.vote_id,
                vote = EXCLUDED.vote,
                reasons = EXCLUDED.reasons,
                voted_at = EXCLUDED.voted_at
            WHERE (EXCLUDED.voted_at, EXCLUDED.vote_id) > (c.voted_at, c.vote_id)
            RETURNING c.query_id, c.conversation_id, c.vote, c.reasons
        ),
        changes AS (
            SELECT u.query_id, 1 AS sign, u.vote, u.reasons FROM upserted AS u
            UNION ALL
            SELECT p.query_id, -1, p.vote, p.reasons
            FROM previous AS p
            JOIN upserted AS u USING (query_id, conversation_id)
        ),
        reason_deltas AS (
            SELECT query_id, jsonb_object_agg(reason, n) AS deltas
            FROM (
                SELECT ch.query_id, r.reason, sum(ch.sign) AS n
                FROM changes AS ch
                CROSS JOIN LATERAL (SELECT DISTINCT unnest(ch.reasons) AS reason) AS r
                WHERE ch.vote = 'down'
                GROUP BY ch.query_id, r.reason
                HAVING sum(ch.sign) <> 0
            ) AS per_reason
            GROUP BY query_id
        ),
        tallies AS (
            SELECT ch.query_id,
                   coalesce(sum(ch.sign) FILTER (WHERE ch.vote = 'down'), 0) AS down,
                   coalesce(sum(ch.sign) FILTER (WHERE ch.vote = 'up'), 0) AS up,
                   coalesce(sum(ch.sign) FILTER (
                       WHERE ch.vote = 'down' AND cardinality(ch.reasons) > 0
                   ), 0) AS reasoned
            FROM changes AS ch
            GROUP BY ch.query_id
        )
        UPDATE query_signals AS s
        SET down_votes = s.down_votes + t.down,
            up_votes = s.up_votes + t.up,
            reasoned_down_votes = s.reasoned_down_votes + t.reasoned,
            reasons = CASE WHEN d.deltas IS NULL THEN s.reasons
                           ELSE quality_merge_reasons(s.reasons, d.deltas) END,
            priority = quality_priority(
                s.down_votes + t.down, s.up_votes + t.up, s.reasoned_down_votes + t.reasoned, 0
            )
        FROM tallies AS t
        LEFT JOIN reason_deltas AS d ON d.query_id = t.query_id
        WHERE s.query_id = t.query_id AND s.query_id = ANY(touched);
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        SELECT array_agg(query_id), array_agg(conversation_id) INTO qids, convs
        FROM (SELECT DISTINCT query_id, conversation_id FROM old_rows
              WHERE query_id IS NOT NULL) AS p;
    ELSE
        SELECT array_agg(query_id), array_agg(conversation_id) INTO qids, convs
        FROM (SELECT query_id, conversation_id FROM old_rows WHERE query_id IS NOT NULL
              UNION
              SELECT query_id, conversation_id FROM new_rows WHERE query_id IS NOT NULL) AS p;
    END IF;
    IF qids IS NOT NULL THEN
        PERFORM quality_rederive_votes(qids, convs);
    END IF;
    RETURN NULL;
END;
$function$
""",
)

# Review state of `query_ids`: first review time (the query leaves the queue) and the
# latest verdict (created_at, then id), recomputed from expert_feedback.
quality_refresh_reviews = PGFunction(
    schema="public",
    signature="quality_refresh_reviews(query_ids uuid[])",
    definition="""
RETURNS void
LANGUAGE plpgsql
AS $function$
BEGIN
    PERFORM quality_lock_queries(query_ids);
    UPDATE query_signals AS s
    SET first_reviewed_at = r.first_at,
        verdict = r.feedback_type,
        verdict_at = r.created_at
    FROM (
        SELECT q.query_id, f.first_at, l.feedback_type, l.created_at
        FROM (SELECT DISTINCT unnest(query_ids) AS query_id) AS q
        CROSS JOIN LATERAL (
            SELECT min(e.created_at) AS first_at FROM expert_feedback AS e
            WHERE e.query_id = q.query_id
        ) AS f
        LEFT JOIN LATERAL (
            SELECT e.feedback_type, e.created_at FROM expert_feedback AS e
            WHERE e.query_id = q.query_id
            ORDER BY e.created_at DESC, e.id DESC
            LIMIT 1
        ) AS l ON true
    ) AS r
    WHERE s.query_id = r.query_id AND s.query_id = ANY(query_ids);
    DELETE FROM query_signals
    WHERE query_id = ANY(query_ids)
      AND down_votes = 0 AND up_votes = 0 AND first_reviewed_at IS NULL;
END;
$function$
""",
)

quality_expert_feedback_changed = PGFunction(
    schema="public",
    signature="quality_expert_feedback_changed()",
    definition="""
RETURNS trigger
LANGUAGE plpgsql
AS $function$
DECLARE
    touched uuid[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        touched := ARRAY(SELECT DISTINCT query_id FROM new_rows ORDER BY query_id);
    ELSIF TG_OP = 'DELETE' THEN
        touched := ARRAY(SELECT DISTINCT query_id FROM old_rows ORDER BY query_id);
    ELSE
        touched := ARRAY(
            SELECT query_id FROM old_rows UNION SELECT query_id FROM new_rows ORDER BY 1
        );
    END IF;
    IF cardinality(touched) > 0 THEN
        PERFORM quality_refresh_reviews(touched);
    END IF;
    RETURN NULL;
END;
$function$
""",
)


# TRUNCATE (an operator emptying a table by hand) has no transition table: reset the
# derived state wholesale, keeping only what the other table still justifies.
quality_votes_truncated = PGFunction(
    schema="public",
    signature="quality_votes_truncated()",
    definition="""
RETURNS trigger
LANGUAGE plpgsql
AS $function$
BEGIN
    DELETE FROM query_current_votes;
    DELETE FROM query_signals WHERE first_reviewed_at IS NULL;
    UPDATE query_signals
    SET down_votes = 0, up_votes = 0, reasoned_down_votes = 0, reasons = '{}'::jsonb,
        priority = 0;
    RETURN NULL;
END;
$function$
""",
)

quality_expert_feedback_truncated = PGFunction(
    schema="public",
    signature="quality_expert_feedback_truncated()",
    definition="""
RETURNS trigger
LANGUAGE plpgsql
AS $function$
BEGIN
    DELETE FROM query_signals WHERE down_votes = 0 AND up_votes = 0;
    UPDATE query_signals SET first_reviewed_at = NULL, verdict = NULL, verdict_at = NULL;
    RETURN NULL;
END;
$function$
""",
)


def _trigger(table: str, event: str, function: str) -> PGTrigger:
    transitions = {
        "INSERT": "REFERENCING NEW TABLE AS new_rows",
        "DELETE": "REFERENCING OLD TABLE AS old_rows",
        "UPDATE": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "TRUNCATE": "",
    }[event]
    return PGTrigger(
        schema="public",
        signature=f"trg_{table}_quality_{event.lower()}",
        on_entity=f"public.{table}",
        is_constraint=False,
        definition=(
            f"AFTER {event} ON public.{table} {transitions}".rstrip()
            + f" FOR EACH STATEMENT EXECUTE FUNCTION public.{function}()"
        ),
    )


FUNCTIONS: list[PGFunction] = [
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
TRIGGERS: list[PGTrigger] = [
    *(
        _trigger(table, event, function)
        for table, function in (
            ("votes", "quality_votes_changed"),
            ("expert_feedback", "quality_expert_feedback_changed"),
        )
        for event in ("INSERT", "DELETE", "UPDATE")
    ),
    _trigger("votes", "TRUNCATE", "quality_votes_truncated"),
    _trigger("expert_feedback", "TRUNCATE", "quality_expert_feedback_truncated"),
]


def replaceable_entities() -> list[ReplaceableEntity]:
    """This domain's functions and triggers, for app/triggers.py to register."""
    return [*FUNCTIONS, *TRIGGERS]
