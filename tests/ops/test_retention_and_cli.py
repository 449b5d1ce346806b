"""Retention (dry-run counts, batched deletion, defaults) and the export/purge commands."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import create_engine
from app.privacy import retention
from tests.conftest import TOKEN_SECRET, count_rows, make_settings

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)

# Ages in days, per table: some past every default retention, some recent.
AGO = "CAST(:now AS timestamptz) - g * interval"
ROWS = f"""
INSERT INTO response_cache (cache_key, provider, model, cost_usd) VALUES ('k', 'openai', 'm', 0);
INSERT INTO routing_metrics (request_id, strategy_used, selected_provider, selected_model,
  created_at) SELECT 'r' || g, 'hybrid', 'openai', 'gpt-4o', {AGO} '100 days'
  FROM generate_series(1, 8) g;
INSERT INTO routing_feedback (request_id, quality_score, created_at)
  SELECT 'r' || g, 0.5, {AGO} '50 days' FROM generate_series(1, 8) g;
INSERT INTO cache_feedback (cache_key, rating, created_at)
  SELECT 'k', 3, {AGO} '100 days' FROM generate_series(1, 5) g;
INSERT INTO votes (conversation_id, vote, created_at)
  SELECT 'c' || g, 'up', {AGO} '200 days' FROM generate_series(1, 10) g;
"""


@pytest.fixture
async def engine(databases) -> AsyncIterator[tuple[AsyncEngine, str]]:
    url = await databases.migrated()
    engine = create_engine(make_settings(url), url)
    async with engine.begin() as conn:
        for statement in ROWS.split(";"):
            if statement.strip():
                await conn.execute(sa.text(statement), {"now": NOW})
    yield engine, url
    await engine.dispose()


def test_parse_age() -> None:
    assert retention.parse_age("365d") == dt.timedelta(days=365)
    assert retention.parse_age("12w") == dt.timedelta(weeks=12)
    assert retention.parse_age("48h") == dt.timedelta(hours=48)
    assert retention.parse_age("30") == dt.timedelta(days=30)
    for bad in ("", "0d", "-5d", "1y", "d", "1.5d"):
        with pytest.raises(retention.InvalidAge):
            retention.parse_age(bad)


@given(st.integers(min_value=1, max_value=5_000), st.sampled_from(["d", "w", "h"]))
def test_parse_age_round_trips(n: int, unit: str) -> None:
    factor = {"d": 86400, "w": 7 * 86400, "h": 3600}[unit]
    assert retention.parse_age(f"{n}{unit}").total_seconds() == n * factor


async def test_dry_run_counts_and_deletes_nothing(engine) -> None:
    eng, url = engine
    results = await retention.purge(
        eng, make_settings(url), older_than=dt.timedelta(days=365), dry_run=True, now=NOW
    )
    counts = {r.dataset: r.rows for r in results}
    # Ages: metrics 100..800 d, routing feedback 50..400 d, cache 100..500 d, votes 200..2000 d.
    assert counts == {
        retention.PurgeTarget.routing_feedback: 1,  # 400
        retention.PurgeTarget.cache_feedback: 2,  # 400, 500
        retention.PurgeTarget.expert_feedback: 0,
        retention.PurgeTarget.votes: 9,  # 400 .. 2000
        retention.PurgeTarget.routing_metrics: 5,  # 400 .. 800
        retention.PurgeTarget.webhook_events: 0,
    }
    assert all(r.dry_run and r.cutoff == NOW - dt.timedelta(days=365) for r in results)
    assert await count_rows(eng, "votes") == 10
    assert await count_rows(eng, "routing_metrics") == 8


async def test_purge_deletes_in_batches_with_per_dataset_defaults(engine) -> None:
    eng, url = engine
    settings = make_settings(url, retention_votes_days=1000, retention_routing_metrics_days=250)
    results = await retention.purge(eng, settings, now=NOW, batch_size=2)
    counts = {r.dataset: r.rows for r in results}
    assert counts[retention.PurgeTarget.votes] == 5  # 1200 .. 2000 days old (batches of 2: 2+2+1)
    assert counts[retention.PurgeTarget.routing_metrics] == 6  # 300 .. 800
    assert counts[retention.PurgeTarget.routing_feedback] == 1  # default 365 d: the 400-day-old one
    assert counts[retention.PurgeTarget.cache_feedback] == 2
    assert await count_rows(eng, "votes") == 5
    assert await count_rows(eng, "routing_metrics") == 2
    # The purged metrics took their remaining feedback along (ON DELETE CASCADE).
    assert await count_rows(eng, "routing_feedback") == 2
    again = await retention.purge(eng, settings, now=NOW, batch_size=2)
    assert all(r.rows == 0 for r in again)


async def test_purge_only_the_chosen_dataset(engine) -> None:
    eng, url = engine
    results = await retention.purge(
        eng,
        make_settings(url),
        datasets=[retention.PurgeTarget.cache_feedback],
        older_than=dt.timedelta(days=1),
        now=NOW,
    )
    assert [(r.dataset, r.rows) for r in results] == [(retention.PurgeTarget.cache_feedback, 5)]
    assert await count_rows(eng, "votes") == 10


WEBHOOK_HISTORY = """
INSERT INTO webhook_endpoints (url, events, secret_ciphertext)
  VALUES ('https://hooks.example.com/h', ARRAY['vote.down'], 'v1.c2VlZA==');
INSERT INTO webhook_events (type, data, created_at)
  SELECT 'vote.down', jsonb_build_object('age', g), CAST(:now AS timestamptz) - g * interval '1 day'
  FROM unnest(ARRAY[10, 40, 50, 60]) g;
INSERT INTO webhook_deliveries (event_id, endpoint_id, status, attempts)
  SELECT ev.id, ep.id, CASE (ev.data->>'age')::int
      WHEN 50 THEN 'pending' WHEN 60 THEN 'failed' ELSE 'delivered' END::webhook_delivery_status, 1
  FROM webhook_events ev, webhook_endpoints ep;
INSERT INTO webhook_attempts (delivery_id, attempt, status_code) SELECT id, 1, 200
  FROM webhook_deliveries
"""


async def test_webhook_history_goes_after_its_retention_unless_still_pending(engine) -> None:
    eng, url = engine
    async with eng.begin() as conn:
        for statement in WEBHOOK_HISTORY.split(";"):
            await conn.execute(sa.text(statement), {"now": NOW})
    settings = make_settings(url)
    dry = await retention.purge(
        eng, settings, datasets=[retention.PurgeTarget.webhook_events], dry_run=True, now=NOW
    )
    assert [(r.dataset, r.rows) for r in dry] == [(retention.PurgeTarget.webhook_events, 2)]
    assert await count_rows(eng, "webhook_events") == 4

    results = await retention.purge(eng, settings, now=NOW, batch_size=1)
    assert {r.dataset: r.rows for r in results}[retention.PurgeTarget.webhook_events] == 2
    async with eng.connect() as conn:
        kept = await conn.scalars(
            sa.text("SELECT (data->>'age')::int FROM webhook_events ORDER BY 1")
        )
        assert list(kept) == [10, 50]  # recent, and old but still pending
    # The purged events took their deliveries and attempts along (ON DELETE CASCADE).
    assert await count_rows(eng, "webhook_deliveries") == 2
    assert await count_rows(eng, "webhook_attempts") == 2
    assert await count_rows(eng, "webhook_endpoints") == 1


def test_documented_defaults() -> None:
    ages = retention.default_ages(make_settings("postgresql+asyncpg://x/y"))
    assert {d.value: a.days for d, a in ages.items()} == {
        "votes": 730,
        "routing_metrics": 365,
        "routing_feedback": 365,
        "cache_feedback": 365,
        "expert_feedback": 1825,
        "webhook_events": 30,
    }


async def _cli(url: str, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FEEDBACK_TOKEN_SECRET": TOKEN_SECRET,
        "LOG_JSON": "true",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_cli_purge_dry_run_json(engine) -> None:
    _, url = engine
    code, out, err = await _cli(
        url, "purge", "--older-than", "3650d", "--dataset", "votes", "--dry-run", "--json"
    )
    assert code == 0, err
    [row] = json.loads(out)
    assert row["dataset"] == "votes"
    assert row["dry_run"] is True
    assert row["rows"] == 0  # nothing is ten years old
    bad = await _cli(url, "purge", "--older-than", "1y")
    assert bad[0] == 2
    assert "365d" in bad[2]


async def test_cli_export_to_file_and_stdout_share_the_endpoint_code(
    engine, tmp_path: Path
) -> None:
    _, url = engine
    target = tmp_path / "votes.csv"
    code, _, err = await _cli(
        url, "export", "votes", "--from", "2024-01-01", "--format", "csv", "--out", str(target)
    )
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    # Votes 200..2000 days before NOW (2026-11-01); 2024-01-01 is 1035 days before it:
    # the ones 200, 400, 600, 800 and 1000 days old.
    assert len(rows) == 5
    assert all(r["created_at"].endswith("Z") for r in rows)
    assert "Exported 5 votes rows" in err
    code, out, err = await _cli(
        url, "export", "routing_metrics", "--from", "2000-01-01", "--format", "ndjson"
    )
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 8
    assert lines[0]["selected_provider"] == "openai"
    code, _, err = await _cli(url, "export", "votes", "--from", "yesterday")
    assert code == 2


@pytest.mark.parametrize("text", ["99999999d", "9999999999999999999999d", "0d", "abc"])
def test_absurd_ages_are_refused_not_crashing(text: str) -> None:
    with pytest.raises(retention.InvalidAge):
        retention.parse_age(text)
