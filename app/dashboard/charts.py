"""Chart specifications for `static/dashboard.js`, built from the services' answers.

Pure functions, no database. A spec is JSON in a `<script type="application/json">`
beside the chart; the companion table is rendered from the same rows, so the canvas and
the table cannot disagree.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from app.votes.schemas import VoteSeriesPoint

PALETTE = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7ea4", "#57606a"]

Spec = dict[str, Any]


def _epoch(moment: dt.datetime) -> float:
    return moment.timestamp()


def _percent(share: float | None) -> float | None:
    return None if share is None else round(share * 100, 2)


def votes_series(points: Sequence[VoteSeriesPoint], bucket: str) -> Spec:
    """Up and down votes per bucket (counts)."""
    return {
        "kind": "time",
        "x_label": f"Bucket start ({bucket}, UTC)",
        "y_label": "Votes (count)",
        "x": [_epoch(p.bucket_start) for p in points],
        "series": [
            {"label": "Up", "values": [p.up for p in points], "color": PALETTE[2]},
            {"label": "Down", "values": [p.down for p in points], "color": PALETTE[1]},
        ],
    }


def satisfaction_series(points: Sequence[VoteSeriesPoint], bucket: str) -> Spec:
    """Satisfaction (up share) per bucket in percent; empty buckets are gaps."""
    return {
        "kind": "time",
        "x_label": f"Bucket start ({bucket}, UTC)",
        "y_label": "Satisfaction (%)",
        "y_range": [0, 100],
        "x": [_epoch(p.bucket_start) for p in points],
        "series": [
            {
                "label": "Satisfaction",
                "values": [_percent(p.satisfaction) for p in points],
                "color": PALETTE[0],
                "unit": "%",
            }
        ],
    }


def bars(
    labels: Sequence[str],
    values: Sequence[float | int | None],
    *,
    x_label: str,
    y_label: str,
    series_label: str,
    color: str = PALETTE[0],
    y_range: tuple[float, float] | None = None,
) -> Spec:
    """One bar per category; `y_range` fixes the axis (e.g. 0 to 100 for percentages)."""
    spec: Spec = {
        "kind": "bars",
        "x_label": x_label,
        "y_label": y_label,
        "labels": list(labels),
        "x": list(range(len(labels))),
        "series": [{"label": series_label, "values": list(values), "color": color}],
    }
    if y_range is not None:
        spec["y_range"] = list(y_range)
    return spec


def quality_vs_cost(groups: Iterable[Mapping[str, Any]]) -> Spec:
    """One point per (provider, model): x = average cost per request, y = average quality;
    one series per provider. Models without feedback or cost have no point."""
    points = [
        (g["provider"] or "?", g["key"], float(g["avg_cost"]), float(g["avg_quality"]))
        for g in groups
        if g["avg_cost"] is not None and g["avg_quality"] is not None
    ]
    xs = sorted({p[2] for p in points})
    index = {x: i for i, x in enumerate(xs)}
    providers = sorted({p[0] for p in points})
    series = []
    for n, provider in enumerate(providers):
        values: list[float | None] = [None] * len(xs)
        names: list[str | None] = [None] * len(xs)
        for prov, model, cost, quality in points:
            if prov == provider:
                values[index[cost]] = quality
                names[index[cost]] = model
        series.append(
            {
                "label": provider,
                "values": values,
                "names": names,
                "color": PALETTE[n % len(PALETTE)],
            }
        )
    return {
        "kind": "scatter",
        "x_label": "Average cost per request (USD)",
        "y_label": "Average quality (0 to 1)",
        "y_range": [0, 1],
        "x": xs,
        "series": series,
    }


HEAT_LEVELS = 5


def confusion_matrix(votes: Mapping[str, Mapping[str, int]]) -> list[dict[str, Any]]:
    """Current vote by expert verdict as rows of cells, each with a shade 0..HEAT_LEVELS
    (its count relative to the largest), drawn as a CSS grid: classes, not inline styles,
    so the strict CSP holds. Up first, verdicts in the API's order."""
    largest = max((n for row in votes.values() for n in row.values()), default=0)
    rows = []
    for vote in ("up", "down"):
        counts = votes.get(vote, {})
        rows.append(
            {
                "vote": vote,
                "cells": [
                    {
                        "verdict": verdict,
                        "count": count,
                        "heat": 0 if largest == 0 else math.ceil(HEAT_LEVELS * count / largest),
                    }
                    for verdict, count in counts.items()
                ],
            }
        )
    return rows
