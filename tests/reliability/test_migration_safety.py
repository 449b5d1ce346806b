"""Migration safety: squawk on the SQL of every revision, `lock_timeout` first in every
step, a data round trip per revision, concurrent upgrades (and `serve` starting while an
operator migrates), and a migration that gives up within its lock_timeout behind a long
transaction while live traffic keeps flowing.

New indexes on existing tables are built CONCURRENTLY, outside the migration's
transaction, with env.py's session-level advisory lock still held::

    def upgrade() -> None:
        op.execute("SET LOCAL lock_timeout = '5s'")
        with op.get_context().autocommit_block():
            op.execute("SET lock_timeout = '5s'")  # autocommit: no transaction for SET LOCAL
            # A failed concurrent build leaves an INVALID index behind: drop it first.
            op.drop_index("ix_t_c", table_name="t", postgresql_concurrently=True, if_exists=True)
            op.create_index("ix_t_c", "t", ["c"], postgresql_concurrently=True)
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from alembic import command
from alembic.script import ScriptDirectory

from app import migrate
from app.main import create_app
from tests.conftest import DatabaseFactory, committed_key, make_settings
from tests.reliability.harness import ROOT, Figure, Service
from tests.seed import seed_every_table

SQUAWK = str(Path(sys.executable).parent / "squawk")

# Rules left out for every revision, and why.
SQUAWK_EXCLUDED = {
    # lock_timeout bounds how long a migration can block traffic (asserted below); a
    # statement_timeout would abort a legitimate long backfill halfway. The service's own
    # sessions carry statement_timeout.
    "require-statement-timeout",
    # varchar(n) lengths are the API contract's limits (conversation_id 1..200, ...);
    # PostgreSQL widens a varchar without rewriting the table.
    "prefer-text-field",
}
# Rules that do not apply to one revision's statements, and why. There is no grandfathered
# finding: every index on an existing table is built CONCURRENTLY and every constraint on
# one is added NOT VALID then validated (a statement that must still trip a rule carries
# its own `-- squawk-ignore <rule>` line and reason in the migration). The test fails on an
# exclusion squawk no longer needs, so none outlives its reason.
SQUAWK_NOT_APPLICABLE = {
    # Counters, ratings, latencies and durations bounded by CHECK constraints or by the
    # API: int/smallint are enough; every id is a UUID or a BIGINT.
    "0002": {"prefer-bigint-over-int", "prefer-bigint-over-smallint"},
    # Tally counters bounded by their consistency CHECK (rating_count <= the ratings of
    # one entry); the CHECK itself is added NOT VALID and validated after the commit.
    "0004": {"prefer-bigint-over-int"},
    # Webhooks: attempt numbers bounded by the retry schedule, HTTP codes by 599.
    "0102": {"prefer-bigint-over-int", "prefer-bigint-over-smallint"},
    # A key's own requests per minute: > 0 by its CHECK, set by an admin.
    "0109": {"prefer-bigint-over-int"},
    # Rollups created here: a latency histogram's bin (a log-scale index below 300) and a
    # rating (1..5) are key columns, not counters; every count is BIGINT.
    "0108": {"prefer-bigint-over-int", "prefer-bigint-over-smallint"},
    # A vote rollup's writer slot: a key column (a writer loop's index, at most 16).
    "0110": {"prefer-bigint-over-smallint"},
}

OFFLINE_URL = "postgresql+asyncpg://postgres@/postgres?host=/nonexistent"


def _revisions() -> list[tuple[str, str]]:
    """(previous or "base", revision) from the first to the head."""
    script = ScriptDirectory.from_config(migrate.alembic_config())
    ordered = list(reversed(list(script.walk_revisions())))
    return [(str(r.down_revision or "base"), str(r.revision)) for r in ordered]


def _offline_sql(upgrade: bool, target: str) -> str:
    config = migrate.alembic_config(OFFLINE_URL)
    config.attributes["configure_logging"] = False
    buffer = io.StringIO()
    config.output_buffer = buffer
    (command.upgrade if upgrade else command.downgrade)(config, target, sql=True)
    return buffer.getvalue()


def _section(sql: str, marker: str) -> str:
    """The statements of one migration step in offline output (after its comment line)."""
    start = sql.index("\n", sql.index(marker))
    return sql[start + 1 :]


def test_squawk_passes_on_every_revision(tmp_path: Path, figure: Figure) -> None:
    findings: dict[str, list[str]] = {}
    stale: dict[str, set[str]] = {}
    for previous, revision in _revisions():
        path = tmp_path / f"{revision}.sql"
        path.write_text(_offline_sql(True, f"{previous}:{revision}"))
        result = subprocess.run(
            [
                SQUAWK,
                "--reporter",
                "json",
                f"--exclude={','.join(sorted(SQUAWK_EXCLUDED))}",
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        reported = json.loads(result.stdout or "[]")
        if result.returncode != 0 and not reported:
            findings[revision] = [f"squawk exited {result.returncode}: {result.stderr[-500:]}"]
            continue
        allowed = SQUAWK_NOT_APPLICABLE.get(revision, set())
        if unexpected := [r for r in reported if r["rule_name"] not in allowed]:
            findings[revision] = [
                f"{r['rule_name']} (line {r.get('line')}): {r.get('message', '')}"
                for r in unexpected
            ]
        if unused := allowed - {r["rule_name"] for r in reported}:
            stale[revision] = unused
    assert not findings, findings
    assert not stale, f"exclusions squawk no longer needs: {stale}"
    figure(f"squawk: {len(_revisions())} revisions clean (exclusions justified in the test)")


def test_every_revision_sets_lock_timeout_first_both_ways(figure: Figure) -> None:
    missing = []
    for previous, revision in _revisions():
        up = _section(_offline_sql(True, f"{previous}:{revision}"), f"-> {revision}")
        down = _section(_offline_sql(False, f"{revision}:{previous}"), f"{revision} ->")
        for direction, sql in (("upgrade", up), ("downgrade", down)):
            statements = [
                line for line in sql.splitlines() if line.strip() and not line.startswith("--")
            ]
            first = statements[0] if statements else ""
            if "lock_timeout" not in first:
                missing.append(f"{revision} {direction}: first statement {first!r}")
    assert not missing, missing
    figure(f"lock_timeout first in all {len(_revisions())} revisions, upgrade and downgrade")


CHECKSUMS = """
SELECT count(*), md5(coalesce(string_agg(r, E'\\n' ORDER BY r), ''))
FROM (SELECT (to_jsonb(t) - 'updated_at' {also})::text AS r FROM {table} t) s
"""
# Tables a revision derives from others (the quality loop's and the analytics rollups,
# rebuilt from votes, reviews, metrics and ratings on upgrade): their rows record when and
# in which order they were derived, so only their counts are compared; the sources they are
# derived from are compared in full, and tests/analytics proves rollups == recomputation.
DERIVED_TABLES = {
    "query_current_votes",
    "query_signals",
    "vote_current",
    "vote_rollups",
    "vote_reason_rollups",
    "routing_rollups",
    "routing_latency_rollups",
    "cache_entry_rollups",
    "cache_rating_rollups",
    "cache_hit_rollups",
    "expert_feedback_rollups",
    "expert_candidate_status_counts",
}
COUNT_ONLY = "SELECT count(*), '' FROM {table}"


async def _checksums(dsn: str) -> dict[str, tuple[int, str]]:
    """Row count and content checksum of every table. `updated_at` is left out: it says
    when a row was last written, and a backfill writes it."""
    conn = await asyncpg.connect(dsn)
    try:
        tables = [
            r["table_name"]
            for r in await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                "AND table_type = 'BASE TABLE' AND table_name <> 'alembic_version'"
            )
        ]
        result = {}
        for table in sorted(tables):
            query = COUNT_ONLY if table in DERIVED_TABLES else CHECKSUMS
            row = await conn.fetchrow(query.format(table=f'"{table}"', also=""))
            result[table] = (int(row[0]), str(row[1]))
        return result
    finally:
        await conn.close()


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def test_data_round_trip_of_every_revision(
    databases: DatabaseFactory, figure: Figure
) -> None:
    url = await databases.empty()
    await migrate.upgrade_to_head_async(url)
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.begin() as conn:
        await seed_every_table(conn)
    await engine.dispose()

    def move(upgrade: bool, target: str) -> None:
        config = migrate.alembic_config(url)
        config.attributes["configure_logging"] = False
        (command.upgrade if upgrade else command.downgrade)(config, target)

    checked = []
    for previous, revision in reversed(_revisions()):
        if previous == "base":
            continue  # nothing exists before the first revision
        await asyncio.to_thread(move, False, previous)
        at_previous = await _checksums(_dsn(url))
        assert all(n > 0 for n, _ in at_previous.values()), at_previous
        await asyncio.to_thread(move, True, revision)
        at_revision = await _checksums(_dsn(url))
        await asyncio.to_thread(move, False, previous)
        assert await _checksums(_dsn(url)) == at_previous, f"downgrade of {revision}"
        await asyncio.to_thread(move, True, revision)
        assert await _checksums(_dsn(url)) == at_revision, f"upgrade of {revision} again"
        await asyncio.to_thread(move, False, previous)  # walk down with the data
        checked.append(f"{revision} ({len(at_previous)} tables)")
    figure(f"round trip with rows preserved: {', '.join(checked)}")


ROUNDS = 5


async def test_concurrent_upgrades_and_serve_while_migrating(
    databases: DatabaseFactory, make_service: Callable[..., Service], figure: Figure
) -> None:
    heads = sorted(migrate.head_revisions())
    for round_ in range(ROUNDS):
        url = await databases.empty()
        env = {**os.environ, "DATABASE_URL": url}
        alembic = [str(Path(sys.executable).parent / "alembic"), "upgrade", "head"]
        runners = [
            await asyncio.create_subprocess_exec(
                *alembic,
                cwd=ROOT,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            for _ in range(2)
        ]
        service = make_service(url)
        try:
            await service.start("--migrate")
            outputs = await asyncio.wait_for(
                asyncio.gather(*(r.communicate() for r in runners)), 120
            )
            await service.wait_ready("/readyz")
        finally:
            for r in runners:
                if r.returncode is None:
                    r.kill()
                    await r.wait()
            await service.stop()
        codes = [r.returncode for r in runners]
        assert codes == [0, 0], (round_, [o[0].decode()[-1500:] for o in outputs])
        conn = await asyncpg.connect(_dsn(url))
        try:
            versions = sorted(r[0] for r in await conn.fetch("SELECT * FROM alembic_version"))
        finally:
            await conn.close()
        assert versions == heads, (round_, versions)
    figure(f"{ROUNDS} rounds of 2 x alembic upgrade head + serve --migrate: one head row each")


LOCK_TIMEOUT_SECONDS = 5.0  # what every revision sets (checked above)
# Bounds against a hang, not timing assertions: an `alembic` process imports the app first,
# which alone took 25 s on this 2-core machine at a load average of 10.
MIGRATION_BOUND_SECONDS = 240


# The table the head revision alters and the live traffic that writes it: 0110 re-keys the
# vote rollups, which every vote's trigger writes. A head that does not lock this table
# fails the "queued" assertion below and should change these two.
HOT_TABLE = "vote_rollups"
HOT_ROUTE = "/api/v1/feedback"


def _hot_write(worker: int, n: int) -> dict[str, Any]:
    return {"conversation_id": f"lock-{worker}-{n}", "vote": "up"}


async def _watch_lock_wait(dsn: str, waits: list[float]) -> None:
    """Note when a lock request on HOT_TABLE is first seen waiting (bounded loop): any
    mode a migration takes there (an index build's Share, a trigger's ShareRowExclusive,
    an ALTER's AccessExclusive)."""
    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(int(MIGRATION_BOUND_SECONDS / 0.05)):
            queued = await conn.fetchval(
                "SELECT count(*) FROM pg_locks WHERE NOT granted "
                f"AND relation = '{HOT_TABLE}'::regclass AND mode IN "
                "('ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')"
            )
            if queued and not waits:
                waits.append(time.monotonic())
                return
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def test_migration_behind_a_long_transaction_fails_within_lock_timeout(
    databases: DatabaseFactory, figure: Figure
) -> None:
    # The head revision, with the service one revision behind it serving traffic (the app's
    # code needs every earlier revision's columns) that writes HOT_TABLE.
    script = ScriptDirectory.from_config(migrate.alembic_config())
    head = script.get_current_head()
    assert head is not None
    previous = script.get_revision(head).down_revision
    url = await databases.empty()
    config = migrate.alembic_config(url)
    config.attributes["configure_logging"] = False
    await asyncio.to_thread(command.upgrade, config, str(previous))

    # The head's code on the previous schema: started on purpose (the lifespan refuses it).
    app = create_app(make_settings(url, require_schema_at_head=False))
    outcomes: list[tuple[float, float, int]] = []  # (started, finished, status)
    stop = asyncio.Event()
    async with app.router.lifespan_context(app):
        token = await committed_key(app)

        async def traffic(worker: int) -> None:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                n = 0
                while not stop.is_set() and n < 2000:
                    n += 1
                    started = time.monotonic()
                    r = await http.post(
                        HOT_ROUTE,
                        json=_hot_write(worker, n),
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    outcomes.append((started, time.monotonic(), r.status_code))
                    await asyncio.sleep(0.05)

        # The hot table's long transaction: an uncommitted write, as a slow job would hold.
        holder = await asyncpg.connect(_dsn(url))
        workers = [asyncio.create_task(traffic(w)) for w in range(2)]
        migration: asyncio.subprocess.Process | None = None
        try:
            await holder.execute("BEGIN")
            await holder.execute(f"LOCK TABLE {HOT_TABLE} IN ROW EXCLUSIVE MODE")
            await asyncio.sleep(0.5)
            waits: list[float] = []  # when the migration's lock request was first seen queued
            watcher = asyncio.create_task(_watch_lock_wait(_dsn(url), waits))
            migration = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).parent / "alembic"),
                "upgrade",
                head,
                cwd=ROOT,
                env={**os.environ, "DATABASE_URL": url},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            output, _ = await asyncio.wait_for(migration.communicate(), MIGRATION_BOUND_SECONDS)
            failed_at = time.monotonic()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            assert waits, "the migration never queued: " + output.decode()[-800:]
            failed_after = failed_at - waits[0]
            await asyncio.sleep(1.5)  # traffic goes on while the long transaction still runs
            await holder.execute("ROLLBACK")
            await asyncio.sleep(0.5)
        finally:
            stop.set()
            if migration is not None and migration.returncode is None:
                migration.kill()  # a hang fails the test above; it must not outlive it
                await migration.wait()
            await asyncio.gather(*workers)
            await holder.close()

    assert migration is not None
    assert migration.returncode != 0
    assert "lock timeout" in output.decode(), output.decode()[-1500:]
    # PostgreSQL's own lock_timeout ended the wait (the message above); the bound only
    # says it did not hang: the queued lock, then the process's exit.
    assert failed_after < LOCK_TIMEOUT_SECONDS + 10
    conn = await asyncpg.connect(_dsn(url))
    try:
        assert await conn.fetchval("SELECT version_num FROM alembic_version") == previous
    finally:
        await conn.close()
    statuses = {s for _, _, s in outcomes}
    assert statuses == {201}, statuses
    after_failure = [o for o in outcomes if failed_at <= o[0] and o[1] <= failed_at + 1.5]
    assert after_failure, "no request completed while the long transaction still ran"
    slowest = max(f - s for s, f, _ in outcomes)
    figure(
        f"migration {head} behind a long transaction: failed {failed_after:.1f}s after its "
        "lock request queued "
        f"(lock_timeout {LOCK_TIMEOUT_SECONDS:.0f}s); {len(outcomes)} live requests all 201, "
        f"slowest {slowest:.1f}s, {len(after_failure)} completed after the failure"
    )


RECIPE_REVISION = """
from alembic import op

revision = "9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '5s'")
        op.drop_index(
            "ix_votes_recipe", table_name="votes", postgresql_concurrently=True, if_exists=True
        )
        op.create_index("ix_votes_recipe", "votes", ["comment"], postgresql_concurrently=True)
        # Still serialised against other runners after the autocommit block's commit?
        op.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
            "AND pid = pg_backend_pid() AND objid = {lock_objid}) THEN "
            "RAISE EXCEPTION 'migration advisory lock lost'; END IF; END $$"
        )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_votes_recipe", table_name="votes", postgresql_concurrently=True, if_exists=True
        )
"""


async def test_the_concurrent_index_recipe_keeps_the_migration_lock(
    databases: DatabaseFactory, tmp_path: Path, figure: Figure
) -> None:
    """The module docstring's recipe, as a throwaway revision on top of the real ones."""
    import shutil

    script_dir = tmp_path / "alembic"
    shutil.copytree(ROOT / "alembic", script_dir, ignore=shutil.ignore_patterns("__pycache__"))
    head = sorted(migrate.head_revisions())[0]
    lock_key = 0x46425356  # env.py's MIGRATION_LOCK_KEY (pg_locks shows its low 32 bits)
    (script_dir / "versions" / "20991231_2359_9999_recipe.py").write_text(
        RECIPE_REVISION.format(head=head, lock_objid=lock_key & 0xFFFFFFFF)
    )
    url = await databases.empty()
    config = migrate.alembic_config(url)
    config.set_main_option("script_location", str(script_dir))
    config.attributes["configure_logging"] = False
    for step in (
        lambda: command.upgrade(config, "head"),
        lambda: command.downgrade(config, head),
        lambda: command.upgrade(config, "head"),
    ):
        await asyncio.to_thread(step)
    conn = await asyncpg.connect(_dsn(url))
    try:
        valid = await conn.fetchval(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_votes_recipe'::regclass"
        )
    finally:
        await conn.close()
    assert valid is True
    figure("CONCURRENTLY recipe: built outside the transaction, advisory lock still held")


# Revisions with an autocommit block after work of their own: a failure in that block leaves
# their first step committed with alembic_version unchanged, so a retry runs them again from
# the top. (0108 builds its index first; a failure after it rolls back the rest.)
COMMIT_MIDWAY = ("0003", "0004", "0005", "0006", "0105", "0109", "0110")


async def test_revisions_that_commit_midway_run_again_after_committing(
    databases: DatabaseFactory, figure: Figure
) -> None:
    url = await databases.empty()
    config = migrate.alembic_config(url)
    config.attributes["configure_logging"] = False
    previous_of = {rev: prev for prev, rev in _revisions()}
    assert set(COMMIT_MIDWAY) <= set(previous_of)
    for previous, revision in _revisions():
        await asyncio.to_thread(command.upgrade, config, revision)
        if revision in COMMIT_MIDWAY:
            # Everything committed, the version still the previous one: as after a failure
            # at the very end of the revision.
            await asyncio.to_thread(command.stamp, config, previous)
            await asyncio.to_thread(command.upgrade, config, revision)
    conn = await asyncpg.connect(_dsn(url))
    try:
        invalid = await conn.fetch(
            "SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
            "WHERE n.nspname = 'public' AND NOT c.convalidated "
            "UNION ALL SELECT i.indexrelid::regclass::text FROM pg_index i "
            "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
            "WHERE n.nspname = 'public' AND NOT i.indisvalid"
        )
        triggers = await conn.fetchval(
            "SELECT count(*) FROM pg_trigger WHERE tgname = 'trg_cache_feedback_tally'"
        )
    finally:
        await conn.close()
    assert not invalid, invalid
    assert triggers == 1
    figure(f"run twice, as a retry would: {', '.join(COMMIT_MIDWAY)}; every constraint valid")
