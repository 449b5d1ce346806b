"""When a cached response counts as bad: the quality-aware flagging rule (pure, no I/O).

A rating of 4 or 5 is *good*. An entry is **flagged** when both hold:

1. it has at least ``min_ratings`` ratings (``settings.cache_flag_min_ratings``, default 5),
   so two unlucky ratings never evict an answer; and
2. the upper bound of the 95 % Wilson score interval (two-sided, z ≈ 1.96) of the share of
   good ratings is below ``good_share_upper_bound``
   (``settings.cache_flag_good_share_upper_bound``, default 0.5): even the most favourable
   reading of the evidence says most users are not satisfied.

With the defaults, five ratings that are all bad flag an entry (upper bound
z²/(5 + z²) ≈ 0.43), while five ratings with one good one do not (≈ 0.62).

Properties the tests check: fewer than ``min_ratings`` ratings never flag; adding a bad
rating never turns a flagged verdict into an unflagged one (the Wilson upper bound falls
strictly when the total grows and the good count stays); the bound lies in [0, 1].

The rule only ever *flags*: good ratings arriving later do not unflag an entry. Clearing a
flag is an admin decision (``POST /api/v1/cache/entries/{cache_key}/unflag``). The rule is
re-evaluated over all of an entry's ratings each time a rating arrives, so after a clear the
next rating flags the entry again if its ratings as a whole still show it bad; an entry whose
response was regenerated gets a fresh start by deleting it and storing it again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

GOOD_RATING = 4
"""Ratings at or above this count as a satisfied user."""

Z_95 = NormalDist().inv_cdf(0.975)
"""z of a two-sided 95 % interval (≈ 1.959964)."""


def wilson_upper_bound(good: int, total: int, z: float = Z_95) -> float:
    """Upper end of the Wilson score interval of the share `good / total`; 1.0 with no data."""
    if total < 0 or good < 0 or good > total:
        raise ValueError("need 0 <= good <= total")
    if total == 0:
        return 1.0
    p = good / total
    z2 = z * z
    centre = p + z2 / (2 * total)
    margin = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total))
    return min(1.0, (centre + margin) / (1 + z2 / total))


@dataclass(frozen=True)
class FlagRule:
    """The thresholds of the rule; built from settings."""

    min_ratings: int = 5
    good_share_upper_bound: float = 0.5

    def should_flag(self, *, ratings: int, good: int) -> bool:
        """Whether `ratings` ratings of which `good` are ≥ 4 show the entry is bad."""
        if ratings < self.min_ratings:
            return False
        return wilson_upper_bound(good, ratings) < self.good_share_upper_bound
