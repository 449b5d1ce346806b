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

import asyncpg
import httpx
from alembic import command
from alembic.script import ScriptDirectory

from app import migrate
from app.main import create_app
from tests.conftest import DatabaseFactory, committed_key, make_settings
from tests.reliability.harness import ROOT, Figure, Service
from tests.routing.conftest import metric
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
# Findings in revisions that shipped before these rules were enforced; new revisions get
# none of these.
SQUAWK_GRANDFATHERED = {
    # Counters, ratings, latencies and durations bounded by CHECK constraints or by the
    # API: int/smallint are enough; every id is a UUID or a BIGINT.
    "0002": {"prefer-bigint-over-int", "prefer-bigint-over-smallint"},
    # Indexes on tables that were small when they shipped; CONCURRENTLY from here on.
    "0003": {"require-concurrent-index-creation"},
    # Tally counters (CHECK-bounded) and their consistency CHECK, added with the columns
    # themselves and backfilled in the same transaction (validated against rows it wrote).
    "0004": {"prefer-bigint-over-int", "constraint-missing-not-valid"},
    "0005": {"require-concurrent-index-creation"},
    # Webhooks: indexes on the tables this same revision creates (empty, nobody writes them
    # yet); attempt numbers are bounded by the retry schedule and HTTP codes by 599.
    "0102": {
        "require-concurrent-index-creation",
        "prefer-bigint-over-int",
        "prefer-bigint-over-smallint",
    },
    # FAQ audit columns: a nullable FK to api_keys (all NULL when added) and its index on
    # the candidates table (1K rows at year-one volume). TODO: NOT VALID + VALIDATE and a
    # CONCURRENTLY index, like 0006.
    "0105": {
        "adding-foreign-key-constraint",
        "constraint-missing-not-valid",
        "require-concurrent-index-creation",
    },
    # A key's own rate limit: an int bounded by its CHECK (> 0), on api_keys (a handful of
    # rows). TODO: the CHECK NOT VALID + VALIDATE.
    "0109": {"constraint-missing-not-valid", "prefer-bigint-over-int"},
    # Rollup tables created here (counts per bucket: int/smallint bounded by the rows they
    # count per hour) and a partial index on response_cache's flagged rows. TODO: build that
    # index CONCURRENTLY.
    "0108": {
        "prefer-bigint-over-int",
        "prefer-bigint-over-smallint",
        "require-concurrent-index-creation",
    },
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
    for previous, revision in _revisions():
        path = tmp_path / f"{revision}.sql"
        path.write_text(_offline_sql(True, f"{previous}:{revision}"))
        excluded = SQUAWK_EXCLUDED | SQUAWK_GRANDFATHERED.get(revision, set())
        result = subprocess.run(
            [SQUAWK, "--reporter", "json", f"--exclude={','.join(sorted(excluded))}", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        reported = json.loads(result.stdout or "[]")
        if result.returncode != 0 or reported:
            findings[revision] = [f"{r['rule_name']}: {r.get('message', '')}" for r in reported]
    assert not findings, findings
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


async def _watch_lock_wait(dsn: str, waits: list[float]) -> None:
    """Note when a lock request on routing_metrics is first seen waiting (bounded loop): any
    mode a migration takes there (an index build's Share, a trigger's ShareRowExclusive,
    an ALTER's AccessExclusive)."""
    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(1200):
            queued = await conn.fetchval(
                "SELECT count(*) FROM pg_locks WHERE NOT granted "
                "AND relation = 'routing_metrics'::regclass AND mode IN "
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
    # code needs every earlier revision's columns). The head must lock the hot table: 0108
    # creates the rollup triggers on routing_metrics; a head that does not lock it fails the
    # "queued" assertion below and should change HOT_TABLE here.
    script = ScriptDirectory.from_config(migrate.alembic_config())
    head = script.get_current_head()
    assert head is not None
    previous = script.get_revision(head).down_revision
    url = await databases.empty()
    config = migrate.alembic_config(url)
    config.attributes["configure_logging"] = False
    await asyncio.to_thread(command.upgrade, config, str(previous))

    app = create_app(make_settings(url))
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
                        "/api/v1/routing/metrics",
                        json=metric(f"lock-{worker}-{n}"),
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    outcomes.append((started, time.monotonic(), r.status_code))
                    await asyncio.sleep(0.05)

        # The hot table's long transaction: an uncommitted write, as a slow job would hold.
        holder = await asyncpg.connect(_dsn(url))
        workers = [asyncio.create_task(traffic(w)) for w in range(2)]
        try:
            await holder.execute("BEGIN")
            await holder.execute("LOCK TABLE routing_metrics IN ROW EXCLUSIVE MODE")
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
            output, _ = await asyncio.wait_for(migration.communicate(), 60)
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
            await asyncio.gather(*workers)
            await holder.close()

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
