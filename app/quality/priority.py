"""Review-queue priority: how urgently a down-voted answer needs an expert. Pure, no database.

Inputs (per answered query, over the *current* vote of each conversation that cited it):

* ``down``, ``up``: current down and up votes;
* ``reasoned``: current down votes that give at least one reason (clamped to ``down``);
* ``traffic``: how often what served the answer is used (cache-entry hits, routing
  requests of its pattern), ``None``/0 when unknown.

Formula::

    priority = (down + REASON_WEIGHT * reasoned)
               * (down + 1) / (down + up + 2)
               * (1 + ln(1 + traffic))

* **evidence** ``down + REASON_WEIGHT * reasoned``: each down vote counts 1, a down vote
  that says why counts 1.5 (``REASON_WEIGHT = 0.5``), since it tells the expert where to
  look and is harder to give by reflex;
* **agreement** ``(down + 1) / (down + up + 2)``: the Laplace-smoothed share of down votes,
  so an answer most users liked sinks, and one down vote alone (2/3) is not certainty;
* **reach** ``1 + ln(1 + traffic)``: a wrong answer served a thousand times matters more
  than one served once, with diminishing returns so traffic cannot drown the votes.

Today no column links a ``query_id`` to the cache entry or routing metric that served it,
so the service stores priorities with ``traffic = 0`` (reach = 1); the term is here so
that adding such a link changes one argument, not the rule.

Properties (tested with hypothesis in ``tests/quality/test_priority.py``): zero without
down votes and positive with any; strictly increasing in ``down`` and in ``traffic`` and
strictly decreasing in ``up`` when ``down > 0``; non-decreasing in ``reasoned``; bounded
by ``(1 + REASON_WEIGHT) * down * (1 + ln(1 + traffic))``.

The database computes the same formula in ``quality_priority()`` (SQL, created by the
migration from :data:`PRIORITY_SQL`); ``tests/quality/test_priority.py`` checks both agree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

REASON_WEIGHT = 0.5


def priority(down: int, up: int, reasoned: int = 0, traffic: int | None = None) -> float:
    """The review priority of one answered query (module docstring); 0 without down votes."""
    if down <= 0:
        return 0.0
    reasoned = min(max(reasoned, 0), down)
    up = max(up, 0)
    reach = 1.0 + math.log(1.0 + max(traffic or 0, 0))
    return float(down + REASON_WEIGHT * reasoned) * (down + 1) / (down + up + 2) * reach


def reasoned_down(down_vote_reasons: list[list[str]]) -> int:
    """How many down votes (given as their reason lists) cite at least one reason."""
    return sum(1 for reasons in down_vote_reasons if reasons)


def reason_counts(down_vote_reasons: list[list[str]]) -> dict[str, int]:
    """{reason: number of down votes citing it}; a reason repeated in one vote counts once."""
    counts: dict[str, int] = {}
    for reasons in down_vote_reasons:
        for reason in set(reasons):
            counts[reason] = counts.get(reason, 0) + 1
    return counts


def ranked_reasons(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """Reasons most cited first, ties alphabetical (the order the API lists them in)."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


# The same formula for PostgreSQL, in the same order of operations (so results agree to
# the last bit but for ln's rounding). Arguments: down, up, reasoned, traffic.
PRIORITY_SQL = f"""\
SELECT CASE WHEN down <= 0 THEN 0::double precision ELSE
    (down::double precision
        + {REASON_WEIGHT!r}::double precision * least(greatest(reasoned, 0), down))
    * (down + 1)::double precision
    / (down + greatest(up, 0) + 2)::double precision
    * (1::double precision + ln(1::double precision + greatest(coalesce(traffic, 0), 0)))
END"""
